import Link from "next/link";

export default function NotFound() {
  return (
    <main className="flex min-h-screen flex-col items-center justify-center gap-3 px-6 text-center">
      <p className="text-sm font-medium text-muted">404</p>
      <h1 className="text-xl font-semibold">This page does not exist, or you do not have access to it.</h1>
      <Link href="/workspaces" className="text-sm font-medium text-accent hover:underline">
        Go to your workspaces
      </Link>
    </main>
  );
}

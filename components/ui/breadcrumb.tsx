import Link from "next/link";

/** "Parent /" above a page's title: the way back up. */
export function Breadcrumb({ href, label }: { href: string; label: string }) {
  return (
    <div className="mb-2 text-sm text-muted">
      <Link href={href} className="hover:underline">
        {label}
      </Link>{" "}
      /
    </div>
  );
}

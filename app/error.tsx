"use client";

export default function Error({ reset }: { error: Error; reset: () => void }) {
  return (
    <main className="flex min-h-[60vh] flex-col items-center justify-center gap-3 px-6 text-center">
      <h1 className="text-lg font-semibold">Something went wrong.</h1>
      <p className="text-sm text-muted">The error was logged. Try again, or reload the page.</p>
      <button type="button" onClick={reset} className="rounded-md border border-border px-4 py-2 text-sm hover:bg-subtle">
        Try again
      </button>
    </main>
  );
}

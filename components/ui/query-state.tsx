"use client";

import { errorMessage } from "~/components/trpc/client";
import { ErrorState, Skeleton } from "./states";

/*
 * Loading and failure of a query, the same on every page: a skeleton while it loads, the
 * error in words with "Try again" when it failed. `ready(q)` narrows the query to its data:
 *
 *   if (!ready(q)) return <QueryWait query={q} rows={3} />;
 *   … q.data is there …
 */

type Status = "pending" | "error" | "success";

/** The query has its data (also while it refetches in the background). */
export function ready<Q extends { status: Status }>(query: Q): query is Extract<Q, { status: "success" }> {
  return query.status === "success";
}

/** What a query that is not `ready` shows: its skeleton, or its error with a retry. */
export function QueryWait({
  query,
  rows = 4,
  message,
}: {
  query: { isError: boolean; error: unknown; refetch: () => unknown };
  rows?: number;
  /** Words for the failure when the server's message would not help the reader. */
  message?: string;
}) {
  if (query.isError) return <ErrorState message={message ?? errorMessage(query.error)} onRetry={() => void query.refetch()} />;
  return <Skeleton rows={rows} />;
}

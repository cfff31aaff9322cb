"use client";

import type { InfiniteData } from "@tanstack/react-query";
import { Button } from "./button";

type Page<T> = { items: T[]; nextCursor: string | null };

/** useInfiniteQuery's paging for a tRPC `…page` procedure: the next page starts at `nextCursor`. */
export const PAGED = { getNextPageParam: (p: Page<unknown>) => p.nextCursor ?? undefined };

/** Every row loaded so far of a paged list (a tRPC `…page` procedure through useInfiniteQuery). */
export function pagedItems<T>(q: { data?: InfiniteData<Page<T>> }): T[] {
  return q.data?.pages.flatMap((p) => p.items) ?? [];
}

/** The foot of a paged table: how many rows are shown and a button for the next page, while there is one. */
export function LoadMore({
  query,
  shown,
  noun,
}: {
  query: { hasNextPage: boolean; isFetchingNextPage: boolean; fetchNextPage: () => Promise<unknown> };
  shown: number;
  noun: string;
}) {
  if (!query.hasNextPage) return null;
  return (
    <div className="flex items-center justify-center gap-3 border-t border-border px-5 py-3 text-xs text-muted" data-testid="load-more">
      <span>
        Showing the first {shown} {noun}
      </span>
      <Button size="sm" variant="ghost" loading={query.isFetchingNextPage} onClick={() => void query.fetchNextPage()}>
        Show more
      </Button>
    </div>
  );
}

"use client";

import { useInfiniteQuery } from "@tanstack/react-query";
import { GitPullRequest } from "lucide-react";
import Link from "next/link";
import { useState } from "react";
import { useCan, useWorkspace } from "~/components/shell/workspace-context";
import { useTRPC } from "~/components/trpc/client";
import { LoadMore, PAGED, pagedItems } from "~/components/ui/load-more";
import { Badge, type Tone } from "~/components/ui/badge";
import { Card } from "~/components/ui/card";
import { EmptyState, PageHeader } from "~/components/ui/states";
import { QueryWait, ready } from "~/components/ui/query-state";
import { TimeAgo } from "~/components/ui/time";
import { LockedAction } from "~/components/ui/locked";

export const STATUS_TONE: Record<string, Tone> = { open: "pending", approved: "passing", rejected: "failing", withdrawn: "stale" };

export function ReviewsPage() {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const canOpen = useCan("review:participate");
  const [tab, setTab] = useState<"open" | "closed">("open");
  const list = useInfiniteQuery(trpc.reviews.page.infiniteQueryOptions({ workspaceId: workspace.id, status: tab, limit: 50 }, PAGED));
  const rows = pagedItems(list);
  return (
    <>
      <PageHeader
        title="Reviews"
        description="Model versions proposed for a protected alias, reviewed together and approved with e-signatures."
        actions={
          canOpen ? (
            <Link
              href={`/w/${workspace.slug}/reviews/new`}
              className="inline-flex h-9 items-center gap-1.5 rounded-md bg-accent px-3 text-sm font-medium text-accent-fg hover:bg-accent/90"
            >
              <GitPullRequest className="size-4" aria-hidden /> Request review
            </Link>
          ) : (
            <LockedAction permission="review:participate" action="open review requests">
              Request review
            </LockedAction>
          )
        }
      />
      <div role="tablist" aria-label="Review status" className="mb-4 flex gap-1 border-b border-border">
        {(["open", "closed"] as const).map((t) => (
          <button
            key={t}
            role="tab"
            aria-selected={tab === t}
            onClick={() => setTab(t)}
            className={`-mb-px border-b-2 px-3 py-2 text-sm font-medium ${tab === t ? "border-accent text-fg" : "border-transparent text-muted hover:text-fg"}`}
          >
            {t === "open" ? "Open" : "Closed"}
          </button>
        ))}
      </div>
      <Card>
        {!ready(list) ? (
          <QueryWait query={list} rows={4} />
        ) : rows.length === 0 ? (
          <EmptyState title={tab === "open" ? "No open reviews" : "No closed reviews yet"} icon={<GitPullRequest className="size-8" aria-hidden />}>
            {tab === "open"
              ? "Promoting a version to staging or production starts here: request a review from a model's page or with the button above."
              : "Approved, rejected and withdrawn requests appear here."}
          </EmptyState>
        ) : (
          <>
            <ul className="divide-y divide-border" data-testid="reviews-list">
              {rows.map((r) => (
                <li key={r.number}>
                  <Link href={`/w/${workspace.slug}/reviews/${r.number}`} className="flex items-start justify-between gap-4 px-5 py-3 hover:bg-subtle">
                    <div className="min-w-0">
                      <div className="font-medium">
                        #{r.number} {r.model} v{r.version} → {r.alias}
                      </div>
                      <div className="truncate text-sm text-muted">{r.summary}</div>
                      {r.status === "open" && r.missing.length > 0 && <div className="mt-1 text-xs text-muted">Waiting for: {r.missing.join(" · ")}</div>}
                    </div>
                    <div className="shrink-0 text-right text-xs text-muted">
                      <Badge tone={STATUS_TONE[r.status]}>{r.status}</Badge>
                      {r.status === "open" && r.superseded && (
                        <Badge
                          tone="warning"
                          className="ml-1"
                          title={r.superseded.alreadyHolds ? "Its version already holds the alias" : "The alias moved: re-base to continue"}
                        >
                          {r.superseded.alreadyHolds ? `v${r.superseded.holderVersion} holds ${r.alias}` : "superseded"}
                        </Badge>
                      )}
                      <div className="mt-1">
                        {r.requester} · <TimeAgo date={r.createdAt} />
                      </div>
                    </div>
                  </Link>
                </li>
              ))}
            </ul>
            <LoadMore query={list} shown={rows.length} noun="reviews" />
          </>
        )}
      </Card>
    </>
  );
}

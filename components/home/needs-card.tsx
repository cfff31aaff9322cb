"use client";

import { useQuery } from "@tanstack/react-query";
import { AlertOctagon, Bell, CheckCircle2, FileWarning, GitPullRequestArrow, Hourglass, PenLine, Rocket, XCircle } from "lucide-react";
import Link from "next/link";
import { useWorkspace } from "~/components/shell/workspace-context";
import { useTRPC } from "~/components/trpc/client";
import { Badge } from "~/components/ui/badge";
import { Card, CardHeader } from "~/components/ui/card";
import { EmptyState } from "~/components/ui/states";
import { QueryWait, ready } from "~/components/ui/query-state";
import { TimeAgo } from "~/components/ui/time";
import type { NeedKind } from "~/server/shared/home.schema";

const KIND: Record<NeedKind, { label: string; icon: typeof Bell }> = {
  review_to_sign: { label: "sign", icon: PenLine },
  changes_requested: { label: "changes requested", icon: FileWarning },
  review_superseded: { label: "re-base", icon: GitPullRequestArrow },
  review_waiting: { label: "waiting", icon: Hourglass },
  incident: { label: "incident", icon: AlertOctagon },
  run_failed: { label: "run failed", icon: XCircle },
  rollout: { label: "rollout", icon: Rocket },
  notification: { label: "unread", icon: Bell },
};

const ICON_TONE = { failing: "text-red-600 dark:text-red-400", warning: "text-amber-600 dark:text-amber-400", pending: "text-violet-600 dark:text-violet-400" };

/**
 * What needs the signed-in person in this workspace, newest first. Live: the realtime
 * provider refetches the home queries on every audited change, notification and rollout.
 */
export function NeedsCard() {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const q = useQuery(trpc.home.needs.queryOptions({ workspaceId: workspace.id }));
  const count = q.data?.length ?? 0;
  return (
    <Card data-testid="needs-you">
      <CardHeader
        title="What needs you"
        description={q.isSuccess ? (count ? `${count} item${count === 1 ? "" : "s"}, newest first` : "You are all caught up") : undefined}
        actions={
          q.isSuccess && count > 0 ? (
            <Badge tone="pending" aria-label={`${count} items need you`}>
              {count}
            </Badge>
          ) : undefined
        }
      />
      {!ready(q) ? (
        <QueryWait query={q} rows={3} />
      ) : count === 0 ? (
        <EmptyState title="Nothing right now" icon={<CheckCircle2 className="size-8" aria-hidden />}>
          Reviews waiting for your signature, changes asked of you, incidents, failed runs and rollouts appear here as they happen.
        </EmptyState>
      ) : (
        <ul className="max-h-[28rem] divide-y divide-border overflow-y-auto" data-testid="needs-list">
          {q.data.map((i) => {
            const k = KIND[i.kind];
            return (
              <li key={i.key}>
                <Link href={i.href} className="flex gap-3 px-5 py-3 text-sm hover:bg-subtle focus-visible:bg-subtle focus-visible:outline-none">
                  <k.icon className={`mt-0.5 size-4 shrink-0 ${ICON_TONE[i.tone]}`} aria-hidden />
                  <span className="min-w-0 flex-1">
                    <span className="flex items-baseline justify-between gap-3">
                      <span className="font-medium break-words">{i.title}</span>
                      <span className="shrink-0 text-xs text-muted">
                        <TimeAgo date={i.at} />
                      </span>
                    </span>
                    {i.detail && <span className="mt-0.5 line-clamp-2 block text-xs break-words text-muted">{i.detail}</span>}
                    <span className="sr-only">({k.label})</span>
                  </span>
                </Link>
              </li>
            );
          })}
        </ul>
      )}
    </Card>
  );
}

"use client";

import { useMutation, useQuery } from "@tanstack/react-query";
import { Bell } from "lucide-react";
import Link from "next/link";
import { toast } from "sonner";
import { useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, useTRPC } from "~/components/trpc/client";
import { Badge, type Tone } from "~/components/ui/badge";
import { Button } from "~/components/ui/button";
import { Card } from "~/components/ui/card";
import { EmptyState, PageHeader } from "~/components/ui/states";
import { QueryWait, ready } from "~/components/ui/query-state";
import { TimeAgo } from "~/components/ui/time";

const KIND: Record<string, { label: string; tone: Tone }> = {
  mention: { label: "mention", tone: "serving" },
  review_assigned: { label: "assigned to you", tone: "pending" },
  approval_needed: { label: "approval needed", tone: "warning" },
  changes_requested: { label: "changes requested", tone: "failing" },
  decision: { label: "decision", tone: "passing" },
  alert: { label: "alert", tone: "failing" },
  revalidation: { label: "revalidation", tone: "warning" },
};

/** The signed-in person's inbox, across workspaces, live. */
export function InboxPage() {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const list = useQuery(trpc.notifications.list.queryOptions());
  const mark = useMutation(trpc.notifications.markRead.mutationOptions({ onError: (e) => toast.error(errorMessage(e)) }));
  const unread = (list.data ?? []).filter((n) => !n.readAt).length;
  return (
    <>
      <PageHeader
        title="Inbox"
        description="Mentions, reviews assigned to you, approvals you are needed for, decisions, and monitoring alerts."
        actions={
          <Button size="sm" variant="secondary" disabled={!unread} loading={mark.isPending} onClick={() => mark.mutate({ ids: "all" })}>
            Mark all read
          </Button>
        }
      />
      <Card>
        {!ready(list) ? (
          <QueryWait query={list} rows={4} />
        ) : list.data.length === 0 ? (
          <EmptyState title="Nothing here yet" icon={<Bell className="size-8" aria-hidden />}>
            When someone mentions you, assigns you a review or needs your approval, it shows up here.
          </EmptyState>
        ) : (
          <ul className="divide-y divide-border" data-testid="inbox">
            {list.data.map((n) => (
              <li key={n.id} className={n.readAt ? "" : "bg-accent/5"}>
                <Link
                  href={n.link ?? `/w/${workspace.slug}`}
                  onClick={() => !n.readAt && mark.mutate({ ids: [n.id] })}
                  className="flex items-start justify-between gap-4 px-5 py-3 hover:bg-subtle"
                >
                  <div className="min-w-0">
                    <div className={n.readAt ? "" : "font-semibold"}>{n.title}</div>
                    {n.body && <div className="truncate text-sm text-muted">{n.body}</div>}
                  </div>
                  <div className="shrink-0 text-right text-xs text-muted">
                    <Badge tone={KIND[n.kind]?.tone ?? "neutral"}>{KIND[n.kind]?.label ?? n.kind}</Badge>
                    <div className="mt-1">
                      <TimeAgo date={n.createdAt} />
                    </div>
                  </div>
                </Link>
              </li>
            ))}
          </ul>
        )}
      </Card>
    </>
  );
}

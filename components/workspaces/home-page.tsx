"use client";

import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, useTRPC } from "~/components/trpc/client";
import { describeEvent } from "~/components/audit/describe";
import { Card, CardHeader } from "~/components/ui/card";
import { EmptyState, ErrorState, PageHeader, Skeleton } from "~/components/ui/states";
import { TimeAgo } from "~/components/ui/time";
import { NAV } from "~/components/shell/nav";

export function HomePage() {
  const { workspace, user } = useWorkspace();
  const trpc = useTRPC();
  const activity = useQuery(trpc.audit.activity.queryOptions({ workspaceId: workspace.id }));
  const members = useQuery(trpc.members.list.queryOptions({ workspaceId: workspace.id }));
  return (
    <>
      <PageHeader title={workspace.name} description={`Welcome back, ${user.name.split(" ")[0]}.`} />
      <div className="grid gap-6 lg:grid-cols-[2fr_1fr]">
        <Card>
          <CardHeader title="Activity" description="What happened in this workspace, live." />
          {activity.isPending ? (
            <Skeleton rows={5} />
          ) : activity.isError ? (
            <ErrorState message={errorMessage(activity.error)} onRetry={() => void activity.refetch()} />
          ) : activity.data.length === 0 ? (
            <EmptyState title="No activity yet">Invite your team from Settings › Members.</EmptyState>
          ) : (
            <ol className="divide-y divide-border" data-testid="activity-feed">
              {activity.data.map((e) => (
                <li key={e.id} className="flex items-baseline justify-between gap-4 px-5 py-3 text-sm">
                  <span>{describeEvent(e)}</span>
                  <span className="shrink-0 text-xs text-muted">
                    <TimeAgo date={e.occurredAt} />
                  </span>
                </li>
              ))}
            </ol>
          )}
        </Card>
        <div className="space-y-6">
          <Card>
            <CardHeader title="What needs you" />
            <EmptyState title="Nothing right now">Reviews assigned to you and approvals you are needed for will appear here.</EmptyState>
          </Card>
          <Card>
            <CardHeader
              title="Team"
              actions={
                <Link href={`/w/${workspace.slug}/settings/members`} className="text-sm text-accent hover:underline">
                  Manage
                </Link>
              }
            />
            <div className="px-5 py-4 text-sm">
              {members.isPending ? "Loading…" : members.isError ? errorMessage(members.error) : `${members.data.length} member${members.data.length === 1 ? "" : "s"}`}
            </div>
          </Card>
          <Card>
            <CardHeader title="Coming to this workspace" />
            <ul className="space-y-2 px-5 py-4 text-sm text-muted">
              {NAV.filter((n) => !n.built).map((n) => (
                <li key={n.label} className="flex gap-2">
                  <n.icon className="mt-0.5 size-4 shrink-0" aria-hidden />
                  <span>
                    <span className="font-medium text-fg">{n.label}</span> — {n.blurb}
                  </span>
                </li>
              ))}
            </ul>
          </Card>
        </div>
      </div>
    </>
  );
}

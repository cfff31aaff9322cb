"use client";

import { keepPreviousData, useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { describeEvent } from "~/components/audit/describe";
import { useCan, useWorkspace } from "~/components/shell/workspace-context";
import { useTRPC } from "~/components/trpc/client";
import { Card, CardHeader } from "~/components/ui/card";
import { cn } from "~/components/ui/cn";
import { EmptyState } from "~/components/ui/states";
import { QueryWait, ready } from "~/components/ui/query-state";
import { TimeAgo } from "~/components/ui/time";
import { ACTIVITY_AREA_LABELS, ACTIVITY_AREAS, type ActivityArea } from "~/server/shared/home.schema";

/** What happened in the workspace across every area (or one), live, each row linking to what it is about. */
export function ActivityCard() {
  const { workspace, user } = useWorkspace();
  const trpc = useTRPC();
  const [area, setArea] = useState<ActivityArea | undefined>(undefined);
  // The previous area stays on screen while the next one loads (no skeleton flash between chips).
  const activity = useQuery({ ...trpc.home.activity.queryOptions({ workspaceId: workspace.id, area }), placeholderData: keepPreviousData });
  const canAudit = useCan("audit:read");
  return (
    <Card>
      <CardHeader
        title="Activity"
        description="What happened in this workspace, live."
        actions={
          canAudit ? (
            <Link href={`/w/${workspace.slug}/governance/audit`} className="text-sm whitespace-nowrap text-accent hover:underline">
              Audit trail
            </Link>
          ) : undefined
        }
      />
      <div role="group" aria-label="Show activity of" className="flex flex-wrap gap-1.5 border-b border-border px-5 py-2.5">
        {[undefined, ...ACTIVITY_AREAS].map((a) => (
          <button
            key={a ?? "all"}
            type="button"
            aria-pressed={area === a}
            onClick={() => setArea(a)}
            className={cn(
              "rounded-full border px-2.5 py-0.5 text-xs focus-visible:ring-2 focus-visible:ring-accent focus-visible:outline-none",
              area === a ? "border-accent bg-accent/10 font-medium text-fg" : "border-border text-muted hover:text-fg",
            )}
          >
            {a ? ACTIVITY_AREA_LABELS[a] : "All"}
          </button>
        ))}
      </div>
      {!ready(activity) ? (
        <QueryWait query={activity} rows={5} />
      ) : activity.data.length === 0 ? (
        <EmptyState title={area ? `No ${ACTIVITY_AREA_LABELS[area].toLowerCase()} activity yet` : "No activity yet"}>
          {area ? "Pick another area, or All." : "Invite your team from Settings › Members."}
        </EmptyState>
      ) : (
        <ol className="divide-y divide-border" data-testid="activity-feed">
          {activity.data.map((e) => {
            const text = describeEvent(e);
            const mine = e.actorId === user.id;
            return (
              <li key={e.id} className="flex items-baseline justify-between gap-4 px-5 py-3 text-sm">
                <span className="min-w-0 break-words">
                  {e.href ? (
                    <Link href={e.href} className="hover:underline">
                      {text}
                    </Link>
                  ) : (
                    text
                  )}
                  {mine && <span className="sr-only"> (you)</span>}
                </span>
                <span className="shrink-0 text-xs text-muted">
                  <TimeAgo date={e.occurredAt} />
                </span>
              </li>
            );
          })}
        </ol>
      )}
    </Card>
  );
}

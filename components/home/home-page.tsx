"use client";

import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { RevalidationsDueCard } from "~/components/governance/revalidations-due-card";
import { useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, useTRPC } from "~/components/trpc/client";
import { Card, CardHeader } from "~/components/ui/card";
import { PageHeader } from "~/components/ui/states";
import { ROLE_LABELS } from "~/server/shared/permissions";
import { ActivityCard } from "./activity-card";
import { NeedsCard } from "./needs-card";

/** A workspace's home: what needs the signed-in person first, then what happened. */
export function HomePage() {
  const { workspace, user } = useWorkspace();
  const trpc = useTRPC();
  const members = useQuery(trpc.members.list.queryOptions({ workspaceId: workspace.id }));
  return (
    <>
      <PageHeader title={workspace.name} description={`Welcome back, ${user.name.split(" ")[0]}. Your role here: ${ROLE_LABELS[workspace.role]}.`} />
      <div className="grid gap-6 lg:grid-cols-[2fr_1fr]">
        {/* On a phone the single column puts what needs you above the feed. */}
        <div className="min-w-0 space-y-6 lg:col-start-2 lg:row-start-1">
          <NeedsCard />
          <RevalidationsDueCard />
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
              {members.isPending
                ? "Loading…"
                : members.isError
                  ? errorMessage(members.error)
                  : `${members.data.length} member${members.data.length === 1 ? "" : "s"}`}
            </div>
          </Card>
        </div>
        <div className="min-w-0 lg:col-start-1 lg:row-start-1">
          <ActivityCard />
        </div>
      </div>
    </>
  );
}

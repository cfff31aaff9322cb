"use client";

import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useWorkspace } from "~/components/shell/workspace-context";
import { useTRPC } from "~/components/trpc/client";
import { Card, CardHeader } from "~/components/ui/card";
import { EmptyState } from "~/components/ui/states";
import { QueryWait, ready } from "~/components/ui/query-state";
import { day, daysFrom, StatusBadge, TierBadge } from "./inventory-badges";

/**
 * Home: revalidations due within two weeks or overdue. A compliance officer sees every
 * model; anyone else sees the models they own, and nothing when none is due.
 */
export function RevalidationsDueCard() {
  const { workspace, user } = useWorkspace();
  const trpc = useTRPC();
  const officer = workspace.role === "compliance_officer";
  const list = useQuery(trpc.inventory.list.queryOptions({ workspaceId: workspace.id }));
  const due = (list.data ?? [])
    .filter((e) => (e.status === "overdue" || e.status === "due soon") && (officer || e.owner?.id === user.id))
    .sort((a, b) => a.dueAt!.getTime() - b.dueAt!.getTime());
  if (!officer && (list.isPending || list.isError || due.length === 0)) return null;
  return (
    <Card data-testid="revalidations-due">
      <CardHeader
        title="Revalidations due"
        description={officer ? "Models overdue or due within two weeks." : "Models you own that are overdue or due within two weeks."}
        actions={
          <Link href={`/w/${workspace.slug}/governance/inventory?sort=due`} className="text-sm text-accent hover:underline">
            Inventory
          </Link>
        }
      />
      {!ready(list) ? (
        <QueryWait query={list} rows={3} />
      ) : due.length === 0 ? (
        <EmptyState title="Nothing due">No model is overdue or due for revalidation in the next two weeks.</EmptyState>
      ) : (
        <ul className="divide-y divide-border">
          {due.slice(0, 8).map((e) => (
            <li key={e.modelId} className="flex items-center justify-between gap-3 px-5 py-2.5 text-sm">
              <span className="min-w-0">
                <Link className="font-medium hover:underline" href={`/w/${workspace.slug}/models/${encodeURIComponent(e.name)}`}>
                  {e.name}
                </Link>
                <span className="block truncate text-xs text-muted">
                  due {day(e.dueAt)} ({daysFrom(e.dueAt!)}) · {e.owner?.name ?? "no owner"}
                </span>
              </span>
              <span className="flex shrink-0 items-center gap-1.5">
                <TierBadge tier={e.riskTier} />
                <StatusBadge status={e.status} />
              </span>
            </li>
          ))}
          {due.length > 8 && (
            <li className="px-5 py-2 text-xs text-muted">
              and {due.length - 8} more in the{" "}
              <Link className="text-accent hover:underline" href={`/w/${workspace.slug}/governance/inventory?status=overdue`}>
                inventory
              </Link>
            </li>
          )}
        </ul>
      )}
    </Card>
  );
}

"use client";

import { useQuery } from "@tanstack/react-query";
import { ClipboardList } from "lucide-react";
import Link from "next/link";
import { useState } from "react";
import { useCan, useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, useTRPC } from "~/components/trpc/client";
import { Button } from "~/components/ui/button";
import { Card } from "~/components/ui/card";
import { ErrorState, Skeleton } from "~/components/ui/states";
import { day, daysFrom, StatusBadge, TierBadge } from "./inventory-badges";
import { InventoryDialog, RecordRevalidationDialog } from "./inventory-dialog";

/** The model page's compact inventory line: owner, tier, status and next due date, with the edit dialog. */
export function InventoryCard({ name }: { name: string }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const canEdit = useCan("model:write");
  const canRecord = useCan("inventory:revalidate");
  const q = useQuery(trpc.inventory.get.queryOptions({ workspaceId: workspace.id, name }));
  const [editing, setEditing] = useState(false);
  const [recording, setRecording] = useState(false);
  if (q.isPending)
    return (
      <Card>
        <Skeleton rows={1} />
      </Card>
    );
  if (q.isError)
    return (
      <Card>
        <ErrorState message={errorMessage(q.error)} onRetry={() => void q.refetch()} />
      </Card>
    );
  const e = q.data;
  return (
    <Card data-testid="inventory-card">
      <div className="flex flex-wrap items-center gap-x-6 gap-y-2 px-5 py-3 text-sm">
        <span className="flex items-center gap-2 font-medium">
          <ClipboardList className="size-4 text-muted" aria-hidden /> Inventory
        </span>
        {e.status === "not assessed" && !e.riskTier ? (
          <span className="text-muted">No owner, intended use or risk tier yet.</span>
        ) : (
          <>
            <span>
              <span className="text-muted">Owner </span>
              {e.owner ? e.owner.name : "—"}
              {e.owner && !e.owner.member && <span className="ml-1 text-xs text-danger">(no longer a member)</span>}
            </span>
            <span className="flex items-center gap-1.5">
              <span className="text-muted">Risk</span> <TierBadge tier={e.riskTier} />
            </span>
            <span className="flex items-center gap-1.5">
              <StatusBadge status={e.status} />
              {e.dueAt && (
                <span className="text-muted">
                  next due {day(e.dueAt)} ({daysFrom(e.dueAt)})
                </span>
              )}
            </span>
            <span className="text-muted">
              last revalidated {e.lastRevalidatedVia ? `${day(e.lastRevalidatedAt)} (${e.lastRevalidatedVia.label})` : "never: due from registration"}
            </span>
          </>
        )}
        <span className="ml-auto flex items-center gap-2">
          <Link className="text-accent hover:underline" href={`/w/${workspace.slug}/governance/inventory`}>
            Inventory
          </Link>
          {canRecord && e.riskTier && (
            <Button size="sm" variant="secondary" onClick={() => setRecording(true)}>
              Record revalidation
            </Button>
          )}
          {canEdit && (
            <Button size="sm" variant={e.riskTier ? "secondary" : "primary"} onClick={() => setEditing(true)}>
              {e.riskTier ? "Edit" : "Assess risk"}
            </Button>
          )}
        </span>
      </div>
      {e.riskRationale && <p className="border-t border-border px-5 py-2 text-xs text-muted">{e.riskRationale}</p>}
      {editing && <InventoryDialog entry={e} open={editing} onOpenChange={setEditing} />}
      <RecordRevalidationDialog name={name} open={recording} onOpenChange={setRecording} />
    </Card>
  );
}

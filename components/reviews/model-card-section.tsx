"use client";

import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { toast } from "sonner";
import { useCan, useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, useTRPC } from "~/components/trpc/client";
import { Button } from "~/components/ui/button";
import { Card, CardHeader } from "~/components/ui/card";
import { Markdown } from "./markdown";
import type { Room } from "./room-types";

export function CardSection({ room, open }: { room: Room; open: boolean }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const canEdit = useCan("review:participate") && open;
  const [draft, setDraft] = useState<string | null>(null);
  const save = useMutation(
    trpc.reviews.updateCard.mutationOptions({
      onSuccess: () => (setDraft(null), toast.success("Model card saved: earlier approvals are now stale.")),
      onError: (e) => toast.error(errorMessage(e)),
    }),
  );
  return (
    <Card>
      <CardHeader
        title="Model card"
        description={room.card ? `Revision ${room.card.revision} · ${room.cardRevisions[0]?.editedBy ?? ""}` : "No card yet"}
        actions={
          canEdit && draft === null ? (
            <Button size="sm" variant="secondary" onClick={() => setDraft(room.card?.markdown ?? "")}>
              Edit
            </Button>
          ) : undefined
        }
      />
      <div className="px-5 py-4" data-testid="model-card">
        {draft !== null ? (
          <div className="space-y-2">
            <textarea
              aria-label="Model card markdown"
              className="h-72 w-full rounded-md border border-border bg-panel p-3 font-mono text-xs"
              value={draft}
              onChange={(e) => setDraft(e.target.value)}
            />
            <p className="text-xs text-muted">Saving a new revision changes the evidence: approvals given before it become stale and must be given again.</p>
            <div className="flex gap-2">
              <Button
                size="sm"
                loading={save.isPending}
                onClick={() => save.mutate({ workspaceId: workspace.id, number: room.number, markdown: draft, baseRevision: room.card?.revision ?? 0 })}
              >
                Save card
              </Button>
              <Button size="sm" variant="ghost" onClick={() => setDraft(null)}>
                Cancel
              </Button>
            </div>
          </div>
        ) : room.card ? (
          <Markdown source={room.card.markdown} people={room.members} />
        ) : (
          <p className="text-sm text-muted">No model card.</p>
        )}
      </div>
    </Card>
  );
}

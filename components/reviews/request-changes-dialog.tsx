"use client";

import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { toast } from "sonner";
import { useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, useTRPC } from "~/components/trpc/client";
import { Button } from "~/components/ui/button";
import { Dialog } from "~/components/ui/dialog";

/** A reviewer's request for changes: blocks approval until they clear it. */
export function RequestChangesDialog({ number, open, onOpenChange }: { number: number; open: boolean; onOpenChange: (open: boolean) => void }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const [changes, setChanges] = useState("");
  const onError = (e: unknown) => toast.error(errorMessage(e));
  const requestChanges = useMutation(trpc.reviews.requestChanges.mutationOptions({ onError, onSuccess: () => (onOpenChange(false), setChanges("")) }));
  return (
    <Dialog open={open} onOpenChange={onOpenChange} title="Request changes" description="Blocks approval until you clear it. The requester is notified.">
      <form
        className="space-y-3"
        onSubmit={(e) => {
          e.preventDefault();
          requestChanges.mutate({ workspaceId: workspace.id, number, reason: changes });
        }}
      >
        <textarea
          aria-label="What must change"
          className="h-24 w-full rounded-md border border-border bg-panel p-2 text-sm"
          value={changes}
          onChange={(e) => setChanges(e.target.value)}
        />
        <div className="flex justify-end">
          <Button type="submit" loading={requestChanges.isPending} disabled={changes.trim().length < 3}>
            Request changes
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

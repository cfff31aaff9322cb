"use client";

import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { toast } from "sonner";
import { useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, useTRPC } from "~/components/trpc/client";
import { Button } from "~/components/ui/button";
import { Dialog } from "~/components/ui/dialog";
import { Field } from "~/components/ui/field";

/**
 * Resolve an open incident by hand, or reopen a resolved one: the note says why, and goes on
 * the record (alert.resolved / alert.reopened).
 */
export function ResolveIncidentButton({
  incident,
  onResolved,
  mode = "resolve",
}: {
  incident: { id: string; rule: string; message: string };
  onResolved: () => void;
  mode?: "resolve" | "reopen";
}) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const [open, setOpen] = useState(false);
  const [note, setNote] = useState("");
  const [error, setError] = useState<string | null>(null);
  const reopening = mode === "reopen";
  const done = {
    onSuccess: () => {
      toast.success(`${reopening ? "Reopened" : "Resolved"}: ${incident.rule}`);
      setOpen(false);
      setNote("");
      onResolved();
    },
    onError: (e: unknown) => setError(errorMessage(e)),
  };
  const reopen = useMutation(trpc.monitoring.reopenIncident.mutationOptions(done));
  const close = useMutation(
    trpc.monitoring.resolveIncident.mutationOptions({
      onSuccess: () => {
        toast.success(`Resolved: ${incident.rule}`);
        setOpen(false);
        setNote("");
        onResolved();
      },
      onError: (e) => setError(errorMessage(e)),
    }),
  );
  const resolve = reopening ? reopen : close;
  return (
    <>
      <Button size="sm" variant={reopening ? "ghost" : "secondary"} onClick={() => (setError(null), setOpen(true))}>
        {reopening ? "Reopen…" : "Resolve…"}
      </Button>
      <Dialog open={open} onOpenChange={setOpen} title={`${reopening ? "Reopen" : "Resolve"} "${incident.rule}"?`} description={incident.message}>
        <form
          className="space-y-4"
          onSubmit={(e) => {
            e.preventDefault();
            if (note.trim()) resolve.mutate({ workspaceId: workspace.id, incidentId: incident.id, note });
          }}
        >
          <p className="rounded-md border border-border bg-subtle px-3 py-2 text-sm font-medium">
            {reopening
              ? "The incident fires again, unacknowledged, and the people on call are shown it as open."
              : "The incident closes now; if its condition still holds, the rule fires a new one at its next evaluation."}
          </p>
          <Field
            label={reopening ? "Why is it reopened?" : "Why is it resolved?"}
            htmlFor="resolve-note"
            hint={`Shown on the incident and in the audit trail. Ctrl+Enter ${reopening ? "reopens" : "resolves"}.`}
          >
            <textarea
              id="resolve-note"
              autoFocus
              required
              maxLength={2000}
              rows={3}
              value={note}
              onChange={(e) => setNote(e.target.value)}
              onKeyDown={(e) => {
                if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) e.currentTarget.form?.requestSubmit();
              }}
              placeholder={reopening ? "Latency is above 200 ms again after the rollback." : "Rolled back to v2; latency is back under 80 ms."}
              className="w-full rounded-md border border-border bg-panel px-3 py-2 text-sm outline-none placeholder:text-muted focus:border-accent"
            />
          </Field>
          {error && (
            <p role="alert" className="text-sm text-danger">
              {error}
            </p>
          )}
          <div className="flex justify-end gap-2">
            <Button type="button" variant="ghost" onClick={() => setOpen(false)}>
              Cancel
            </Button>
            <Button type="submit" loading={resolve.isPending} disabled={!note.trim()}>
              {reopening ? "Reopen incident" : "Resolve incident"}
            </Button>
          </div>
        </form>
      </Dialog>
    </>
  );
}

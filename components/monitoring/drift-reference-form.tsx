"use client";

import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { toast } from "sonner";
import { useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, useTRPC } from "~/components/trpc/client";
import { Button } from "~/components/ui/button";

const toLocalInput = (d: Date) => new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);

/** What drift is measured against: the training data in the lineage, or a window of the deployment's own traffic. */
export function DriftReferenceForm({
  name,
  current,
  onSaved,
}: {
  name: string;
  current: { kind: "lineage" } | { kind: "window"; from: string; to: string };
  onSaved: () => void;
}) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const [kind, setKind] = useState<"lineage" | "window">(current.kind);
  const [from, setFrom] = useState(current.kind === "window" ? toLocalInput(new Date(current.from)) : toLocalInput(new Date(Date.now() - 7 * 24 * 3600_000)));
  const [to, setTo] = useState(current.kind === "window" ? toLocalInput(new Date(current.to)) : toLocalInput(new Date(Date.now() - 24 * 3600_000)));
  const [error, setError] = useState<string | null>(null);
  const save = useMutation(
    trpc.deployments.updateSettings.mutationOptions({
      onSuccess: () => {
        setError(null);
        toast.success("Drift reference saved; it applies from the next computation.");
        onSaved();
      },
      onError: (e) => setError(errorMessage(e)),
    }),
  );
  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    if (kind === "lineage") return save.mutate({ workspaceId: workspace.id, name, settings: { driftReference: { kind: "lineage" } } });
    if (!from || !to) return setError("Choose the start and the end of the reference window.");
    save.mutate({
      workspaceId: workspace.id,
      name,
      settings: { driftReference: { kind: "window", from: new Date(from).toISOString(), to: new Date(to).toISOString() } },
    });
  };
  return (
    <form onSubmit={submit} className="flex flex-wrap items-end gap-3 border-t border-border px-5 py-3 text-sm" data-testid="drift-reference-form">
      <label className="flex flex-col gap-1 text-xs text-muted">
        Reference
        <select
          className="rounded-md border border-border bg-panel px-2 py-1 text-sm text-fg"
          value={kind}
          onChange={(e) => setKind(e.target.value as "lineage" | "window")}
        >
          <option value="lineage">Training data in the lineage</option>
          <option value="window">A window of this deployment&apos;s traffic</option>
        </select>
      </label>
      {kind === "window" && (
        <>
          <label className="flex flex-col gap-1 text-xs text-muted">
            From
            <input
              type="datetime-local"
              className="rounded-md border border-border bg-panel px-2 py-1 text-sm text-fg"
              value={from}
              onChange={(e) => setFrom(e.target.value)}
            />
          </label>
          <label className="flex flex-col gap-1 text-xs text-muted">
            To
            <input
              type="datetime-local"
              className="rounded-md border border-border bg-panel px-2 py-1 text-sm text-fg"
              value={to}
              onChange={(e) => setTo(e.target.value)}
            />
          </label>
        </>
      )}
      <Button size="sm" variant="secondary" type="submit" loading={save.isPending}>
        Save reference
      </Button>
      {error && (
        <p role="alert" className="basis-full text-xs text-danger">
          {error}
        </p>
      )}
    </form>
  );
}

"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { toast } from "sonner";
import { useCan, useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, fieldErrors, useTRPC } from "~/components/trpc/client";
import { Badge } from "~/components/ui/badge";
import { Button } from "~/components/ui/button";
import { Card, CardHeader } from "~/components/ui/card";

/**
 * The compliance frameworks the workspace's reports map to. A framework that requires
 * longer log retention than the workspace keeps is refused by the server; the card then
 * asks whether to raise the retention to that minimum (the raise is audited).
 */
export function FrameworksCard() {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const qc = useQueryClient();
  const canUpdate = useCan("workspace:update");
  const q = useQuery(trpc.governance.frameworks.queryOptions({ workspaceId: workspace.id }));
  const [chosen, setChosen] = useState<string[] | null>(null);
  const [error, setError] = useState<string>();
  const save = useMutation(
    trpc.governance.setFrameworks.mutationOptions({
      onSuccess: (r) => {
        toast.success(
          r.retentionFloor
            ? `Frameworks saved. Prediction logs are kept ${r.predictionRetentionDays} days (at least ${r.retentionFloor.days}).`
            : "Frameworks saved.",
        );
        setChosen(null);
        void qc.invalidateQueries({ queryKey: trpc.governance.frameworks.queryKey({ workspaceId: workspace.id }) });
        void qc.invalidateQueries({ queryKey: trpc.workspaces.settings.queryKey({ workspaceId: workspace.id }) });
      },
      onError: (err, input) => {
        // Below a framework's retention minimum: ask before keeping logs longer.
        if (
          fieldErrors(err).predictionRetentionDays &&
          !input.raiseRetention &&
          window.confirm(`${errorMessage(err)}\n\nRaise the retention to the minimum now?`)
        ) {
          save.mutate({ ...input, raiseRetention: true });
          return;
        }
        setError(errorMessage(err));
      },
    }),
  );
  const enabled = chosen ?? q.data?.enabled ?? [];
  const toggle = (id: string) => setChosen(enabled.includes(id) ? enabled.filter((x) => x !== id) : [...enabled, id]);
  return (
    <Card>
      <CardHeader
        title="Compliance frameworks"
        description={`What compliance reports map to. With none chosen, reports use every framework in force.${q.data?.retentionFloor ? ` Prediction logs must be kept at least ${q.data.retentionFloor.days} days (${q.data.retentionFloor.framework}).` : ""}`}
      />
      <form
        className="space-y-3 p-5"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          setError(undefined);
          save.mutate({ workspaceId: workspace.id, frameworks: enabled });
        }}
      >
        <ul className="space-y-2" data-testid="frameworks">
          {(q.data?.available ?? []).map((f) => (
            <li key={f.id}>
              <label className="flex items-start gap-2 text-sm">
                <input type="checkbox" className="mt-1" checked={enabled.includes(f.id)} onChange={() => toggle(f.id)} disabled={!canUpdate || q.isPending} />
                <span>
                  <span className="font-medium">{f.shortName}</span>{" "}
                  <Badge tone={f.legalStatus === "superseded" ? "stale" : "serving"}>
                    {f.legalStatus === "superseded" ? `superseded by ${f.supersededBy}` : "in force"}
                  </Badge>
                  <span className="block text-xs text-muted">
                    {f.version}
                    {f.retentionMinDays ? ` · prediction logs kept at least ${f.retentionMinDays} days` : ""}
                  </span>
                </span>
              </label>
            </li>
          ))}
        </ul>
        {error && (
          <p className="text-sm text-red-700 dark:text-red-300" role="alert">
            {error}
          </p>
        )}
        {canUpdate && (
          <Button type="submit" loading={save.isPending} disabled={chosen === null}>
            Save
          </Button>
        )}
      </form>
    </Card>
  );
}

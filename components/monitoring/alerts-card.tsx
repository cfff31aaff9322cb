"use client";

import { useMutation, useQuery } from "@tanstack/react-query";
import { Plus } from "lucide-react";
import Link from "next/link";
import { useState } from "react";
import { toast } from "sonner";
import { useCan, useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, useTRPC } from "~/components/trpc/client";
import { Badge, type Tone } from "~/components/ui/badge";
import { Button } from "~/components/ui/button";
import { Card, CardHeader } from "~/components/ui/card";
import { QueryWait, ready } from "~/components/ui/query-state";
import { TimeAgo } from "~/components/ui/time";
import { firesBelow } from "~/server/shared/alert-metrics";
import { ResolveIncidentButton } from "./resolve-incident-dialog";
import { RuleDialog, type Rule } from "./rule-dialog";
import { ConfirmButton } from "~/components/ui/confirm-dialog";

const INCIDENT_TONE: Record<string, Tone> = { firing: "failing", acknowledged: "warning", resolved: "passing" };

/** Alert rules of a deployment and their incidents: acknowledge, switch rules on and off. */
export function AlertsCard({ name, features }: { name: string; features: string[] }) {
  const [editing, setEditing] = useState<Rule | "new" | null>(null);
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const canManage = useCan("deployment:manage");
  const q = useQuery(trpc.monitoring.alerts.queryOptions({ workspaceId: workspace.id, name }));
  const onError = (e: unknown) => toast.error(errorMessage(e));
  const ack = useMutation(trpc.monitoring.acknowledge.mutationOptions({ onError, onSuccess: () => void q.refetch() }));
  const save = useMutation(trpc.monitoring.saveRule.mutationOptions({ onError, onSuccess: () => void q.refetch() }));
  const remove = useMutation(trpc.monitoring.deleteRule.mutationOptions({ onError, onSuccess: () => (toast.success("Rule deleted."), void q.refetch()) }));
  if (!ready(q)) return <QueryWait query={q} rows={3} />;
  const open = q.data.incidents.filter((i) => i.status !== "resolved");
  return (
    <div className="grid gap-6 lg:grid-cols-2">
      <Card>
        <CardHeader title="Incidents" description={open.length ? `${open.length} open` : "Nothing firing"} />
        <ul className="divide-y divide-border text-sm" data-testid="incidents">
          {q.data.incidents.length === 0 && <li className="px-5 py-3 text-muted">No incident yet.</li>}
          {q.data.incidents.slice(0, 12).map((i) => (
            <li key={i.id} className="flex items-start justify-between gap-3 px-5 py-2">
              <div className="min-w-0">
                <div className="flex items-center gap-2">
                  <Badge tone={INCIDENT_TONE[i.status]}>{i.status}</Badge> <strong>{i.rule}</strong>
                </div>
                <div className="text-xs text-muted">{i.message}</div>
                <div className="text-xs text-muted">
                  opened <TimeAgo date={i.openedAt} />
                  {i.resolvedAt && (
                    <>
                      {" "}
                      · resolved <TimeAgo date={i.resolvedAt} />
                      {i.resolutionNote && <>: {i.resolutionNote}</>}
                    </>
                  )}
                  {i.pipelineRunId && (
                    <>
                      {" "}
                      ·{" "}
                      <Link className="text-accent hover:underline" href={`/w/${workspace.slug}/pipelines/runs/${i.pipelineRunId}`}>
                        pipeline run
                      </Link>
                    </>
                  )}
                </div>
              </div>
              {canManage && i.status !== "resolved" && (
                <div className="flex shrink-0 gap-2">
                  {i.status === "firing" && (
                    <Button size="sm" variant="secondary" loading={ack.isPending} onClick={() => ack.mutate({ workspaceId: workspace.id, incidentId: i.id })}>
                      Acknowledge
                    </Button>
                  )}
                  <ResolveIncidentButton incident={i} onResolved={() => void q.refetch()} />
                </div>
              )}
              {canManage && i.status === "resolved" && (
                <div className="flex shrink-0 gap-2">
                  <ResolveIncidentButton mode="reopen" incident={i} onResolved={() => void q.refetch()} />
                </div>
              )}
            </li>
          ))}
        </ul>
      </Card>
      <Card>
        <CardHeader
          title="Alert rules"
          description="Evaluated every minute; notifications go to ops, admins and owners"
          actions={
            canManage ? (
              <Button size="sm" variant="secondary" className="whitespace-nowrap" onClick={() => setEditing("new")}>
                <Plus className="size-3.5" aria-hidden /> New rule
              </Button>
            ) : undefined
          }
        />
        {editing && (
          <RuleDialog
            key={editing === "new" ? "new" : editing.id}
            name={name}
            rule={editing === "new" ? null : editing}
            features={features}
            open
            onOpenChange={(o) => !o && setEditing(null)}
            onSaved={() => void q.refetch()}
          />
        )}
        <table className="w-full text-xs" data-testid="alert-rules">
          <tbody className="divide-y divide-border">
            {q.data.rules.map((r) => (
              <tr key={r.id}>
                <td className="px-5 py-2">
                  <div className="font-medium">{r.name}</div>
                  <div className="text-muted">
                    {r.metric}
                    {r.kind === "anomaly"
                      ? ` unusual (anomaly, ${r.sensitivity ?? "medium"} sensitivity) over ${r.windowMinutes} min · ${r.severity}`
                      : `${r.feature ? `(${r.feature})` : ""} ${firesBelow(r.metric) ? "<" : ">"} ${r.threshold} over ${r.windowMinutes} min · ${r.severity}`}
                    {r.startPipeline ? ` · starts ${r.startPipeline}` : ""}
                  </div>
                </td>
                <td className="px-3 py-2 text-right">
                  {canManage ? (
                    <div className="flex items-center justify-end gap-3">
                      <Button size="sm" variant="ghost" onClick={() => setEditing(r)} aria-label={`Edit rule ${r.name}`}>
                        Edit
                      </Button>
                      <ConfirmButton
                        ariaLabel={`Delete rule ${r.name}`}
                        title={`Delete the rule "${r.name}"?`}
                        description={`On ${name}`}
                        consequence="It stops being evaluated and nobody is alerted by it again; its past incidents stay in the list and the audit trail. To pause it instead, switch it off."
                        confirm="Delete rule"
                        danger
                        onConfirm={() => remove.mutateAsync({ workspaceId: workspace.id, name, ruleId: r.id })}
                      >
                        Delete
                      </ConfirmButton>
                      <label className="flex items-center justify-end gap-1.5">
                        <input
                          type="checkbox"
                          checked={r.enabled}
                          onChange={(e) =>
                            save.mutate({
                              workspaceId: workspace.id,
                              name,
                              ruleId: r.id,
                              rule: {
                                name: r.name,
                                kind: r.kind,
                                metric: r.metric,
                                feature: r.feature,
                                ...(r.kind === "anomaly" ? { sensitivity: r.sensitivity ?? "medium" } : { threshold: r.threshold }),
                                windowMinutes: r.windowMinutes,
                                severity: r.severity,
                                enabled: e.target.checked,
                                startPipeline: r.startPipeline,
                              },
                            })
                          }
                        />
                        on
                      </label>
                    </div>
                  ) : (
                    <Badge tone={r.enabled ? "passing" : "stale"}>{r.enabled ? "on" : "off"}</Badge>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Card>
    </div>
  );
}

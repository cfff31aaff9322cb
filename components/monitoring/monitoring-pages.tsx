"use client";

import { useMutation, useQuery } from "@tanstack/react-query";
import { Activity, Plus, RefreshCw } from "lucide-react";
import Link from "next/link";
import { useState } from "react";
import { Bar, BarChart, CartesianGrid, Legend, Line, LineChart, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { toast } from "sonner";
import { useCan, useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, useTRPC } from "~/components/trpc/client";
import { Badge, type Tone } from "~/components/ui/badge";
import { Button } from "~/components/ui/button";
import { Card, CardHeader } from "~/components/ui/card";
import { EmptyState, ErrorState, PageHeader, Skeleton } from "~/components/ui/states";
import { TimeAgo } from "~/components/ui/time";
import { Breadcrumb } from "~/components/ui/breadcrumb";
import type { DriftReference } from "~/db/schema/monitoring";
import { RANGES, type Range } from "~/server/monitoring/monitoring.schema";
import { LiveCard, ResourcesCard, useLiveRates } from "./live";
import { METRICS, RuleDialog, type Rule } from "./rule-dialog";

const SEVERITY_TONE: Record<string, Tone> = { none: "passing", moderate: "warning", major: "failing", unknown: "stale" };
const pct = (x: number) => `${(x * 100).toFixed(x < 0.01 && x > 0 ? 2 : 1)}%`;
const ms = (x: number | null) => (x === null ? "—" : `${x.toFixed(x < 10 ? 1 : 0)} ms`);
const COLORS = ["#6366f1", "#f59e0b", "#10b981", "#ef4444", "#0ea5e9", "#a855f7"];

/** Every deployment's health at a glance. */
export function MonitoringOverview() {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const q = useQuery({ ...trpc.monitoring.overview.queryOptions({ workspaceId: workspace.id }), refetchInterval: 15_000 });
  const live = useLiveRates();
  return (
    <>
      <PageHeader title="Monitoring" description="Every deployment at a glance: open alerts, traffic now (pushed live by the inference replicas), the last 15 minutes from the rollups, and input drift." />
      <Card>
        {q.isPending ? (
          <Skeleton rows={4} />
        ) : q.isError ? (
          <ErrorState message={errorMessage(q.error)} onRetry={() => void q.refetch()} />
        ) : q.data.length === 0 ? (
          <EmptyState title="Nothing deployed yet" icon={<Activity className="size-8" aria-hidden />}>
            Deploy a model (Deployments › Deploy a model); its traffic and drift show here.
          </EmptyState>
        ) : (
          <table className="w-full text-sm" data-testid="monitoring-overview">
            <thead className="bg-subtle text-left text-xs text-muted">
              <tr>
                <th className="px-5 py-2 font-medium">Deployment</th>
                <th className="px-3 py-2 font-medium">Health</th>
                <th className="px-3 py-2 text-right font-medium">req/s now</th>
                <th className="px-3 py-2 text-right font-medium">req/s (15 min)</th>
                <th className="px-3 py-2 text-right font-medium">errors</th>
                <th className="px-3 py-2 text-right font-medium">p95</th>
                <th className="px-3 py-2 font-medium">drift</th>
                <th className="px-3 py-2 text-right font-medium">labels (15 min)</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-border">
              {q.data.map((d) => (
                <tr key={d.name} className="hover:bg-subtle">
                  <td className="px-5 py-2">
                    <Link className="font-medium text-accent hover:underline" href={`/w/${workspace.slug}/monitoring/${d.name}`}>
                      {d.name}
                    </Link>{" "}
                    <span className="text-xs text-muted">{d.model}</span> {d.status === "stopped" && <Badge tone="stale">stopped</Badge>}
                  </td>
                  <td className="px-3 py-2">
                    <span className="flex flex-wrap gap-1">
                      {d.firing > 0 && (
                        <Badge tone="failing">
                          {d.firing} alert{d.firing > 1 ? "s" : ""} firing
                        </Badge>
                      )}
                      {d.acknowledged > 0 && <Badge tone="warning">{d.acknowledged} acknowledged</Badge>}
                      {!d.firing && !d.acknowledged && <Badge tone="passing">no alerts</Badge>}
                    </span>
                  </td>
                  <td className="px-3 py-2 text-right tabular-nums" data-testid={`live-rps-${d.name}`}>
                    {live.has(d.id) ? live.get(d.id)!.rps.toFixed(1) : <span className="text-muted">—</span>}
                  </td>
                  <td className="px-3 py-2 text-right tabular-nums">{d.rps.toFixed(2)}</td>
                  <td className={`px-3 py-2 text-right tabular-nums ${d.errorRate > 0.01 ? "text-danger" : ""}`}>{pct(d.errorRate)}</td>
                  <td className="px-3 py-2 text-right tabular-nums">{ms(d.p95)}</td>
                  <td className="px-3 py-2">{d.drift ? <Badge tone={SEVERITY_TONE[d.drift]}>{d.drift === "none" ? "stable" : d.drift}</Badge> : <span className="text-xs text-muted">not computed yet</span>}</td>
                  <td className="px-3 py-2 text-right tabular-nums">{d.labels15m}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
    </>
  );
}

type FeatureResult = {
  feature: string;
  kind: string;
  status: "ok" | "not_enough_data";
  n: number;
  psi?: number;
  jensenShannon?: number;
  ks?: { statistic: number; pValue: number } | null;
  wasserstein?: number | null;
  chiSquare?: { statistic: number; dof: number; pValue: number } | null;
  pValue?: number | null;
  pAdjusted?: number | null;
  severity?: string;
  explanation: string;
  bins?: { labels: string[]; reference: number[]; current: number[] };
};

const pShown = (p: number | null) => (p === null ? "—" : p < 1e-4 ? "< 0.0001" : p.toFixed(4));

function heatColor(psi: number | null) {
  if (psi === null) return "var(--color-subtle)";
  const x = Math.min(1, psi / 0.5);
  return `rgba(239, 68, 68, ${0.1 + 0.8 * x})`;
}


function describeReference(r: DriftReference) {
  if (r.kind === "window") return `this deployment's traffic ${new Date(r.from).toLocaleString()} – ${new Date(r.to).toLocaleString()} (${r.rows.toLocaleString()} records)`;
  return `${r.dataset}@${r.version} (${r.role}, ${r.rows.toLocaleString()} rows)`;
}

const toLocalInput = (d: Date) => new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);

/** What drift is measured against: the training data in the lineage, or a window of the deployment's own traffic. */
function DriftReferenceForm({ name, current, onSaved }: { name: string; current: { kind: "lineage" } | { kind: "window"; from: string; to: string }; onSaved: () => void }) {
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
    save.mutate({ workspaceId: workspace.id, name, settings: { driftReference: { kind: "window", from: new Date(from).toISOString(), to: new Date(to).toISOString() } } });
  };
  return (
    <form onSubmit={submit} className="flex flex-wrap items-end gap-3 border-t border-border px-5 py-3 text-sm" data-testid="drift-reference-form">
      <label className="flex flex-col gap-1 text-xs text-muted">
        Reference
        <select className="rounded-md border border-border bg-panel px-2 py-1 text-sm text-fg" value={kind} onChange={(e) => setKind(e.target.value as "lineage" | "window")}>
          <option value="lineage">Training data in the lineage</option>
          <option value="window">A window of this deployment&apos;s traffic</option>
        </select>
      </label>
      {kind === "window" && (
        <>
          <label className="flex flex-col gap-1 text-xs text-muted">
            From
            <input type="datetime-local" className="rounded-md border border-border bg-panel px-2 py-1 text-sm text-fg" value={from} onChange={(e) => setFrom(e.target.value)} />
          </label>
          <label className="flex flex-col gap-1 text-xs text-muted">
            To
            <input type="datetime-local" className="rounded-md border border-border bg-panel px-2 py-1 text-sm text-fg" value={to} onChange={(e) => setTo(e.target.value)} />
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

const INCIDENT_TONE: Record<string, Tone> = { firing: "failing", acknowledged: "warning", resolved: "passing" };

/** Alert rules of a deployment and their incidents: acknowledge, switch rules on and off. */
function AlertsCard({ name, features }: { name: string; features: string[] }) {
  const [editing, setEditing] = useState<Rule | "new" | null>(null);
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const canManage = useCan("deployment:manage");
  const q = useQuery(trpc.monitoring.alerts.queryOptions({ workspaceId: workspace.id, name }));
  const onError = (e: unknown) => toast.error(errorMessage(e));
  const ack = useMutation(trpc.monitoring.acknowledge.mutationOptions({ onError, onSuccess: () => void q.refetch() }));
  const save = useMutation(trpc.monitoring.saveRule.mutationOptions({ onError, onSuccess: () => void q.refetch() }));
  if (q.isPending) return <Skeleton rows={3} />;
  if (q.isError) return <ErrorState message={errorMessage(q.error)} onRetry={() => void q.refetch()} />;
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
              {canManage && i.status === "firing" && (
                <Button size="sm" variant="secondary" loading={ack.isPending} onClick={() => ack.mutate({ workspaceId: workspace.id, incidentId: i.id })}>
                  Acknowledge
                </Button>
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
                    {r.feature ? `(${r.feature})` : ""} {METRICS[r.metric]?.below ? "<" : ">"} {r.threshold} over {r.windowMinutes} min · {r.severity}
                    {r.startPipeline ? ` · starts ${r.startPipeline}` : ""}
                  </div>
                </td>
                <td className="px-3 py-2 text-right">
                  {canManage ? (
                    <div className="flex items-center justify-end gap-3">
                    <Button size="sm" variant="ghost" onClick={() => setEditing(r)} aria-label={`Edit rule ${r.name}`}>
                      Edit
                    </Button>
                    <label className="flex items-center justify-end gap-1.5">
                      <input
                        type="checkbox"
                        checked={r.enabled}
                        onChange={(e) =>
                          save.mutate({ workspaceId: workspace.id, name, ruleId: r.id, rule: { name: r.name, metric: r.metric, feature: r.feature, threshold: r.threshold, windowMinutes: r.windowMinutes, severity: r.severity, enabled: e.target.checked, startPipeline: r.startPipeline } })
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

/** Accuracy, F1 and AUC (or MAE/RMSE) per hour as labels arrive, with label coverage and shadow agreement. */
function PerformanceCard({ name }: { name: string }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const q = useQuery(trpc.monitoring.performance.queryOptions({ workspaceId: workspace.id, name }));
  if (q.isPending) return <Skeleton rows={3} />;
  if (q.isError) return <ErrorState message={errorMessage(q.error)} onRetry={() => void q.refetch()} />;
  const rows = q.data.map((w) => ({
    label: new Date(w.windowStart).toLocaleString([], { day: "2-digit", hour: "2-digit", minute: "2-digit" }),
    coverage: +(w.coverage * 100).toFixed(1),
    accuracy: w.metrics.accuracy !== undefined ? +w.metrics.accuracy.toFixed(4) : undefined,
    f1: w.metrics.f1 !== undefined ? +w.metrics.f1.toFixed(4) : undefined,
    auc: typeof w.metrics.auc === "number" ? +w.metrics.auc.toFixed(4) : undefined,
    mae: w.metrics.mae,
    rmse: w.metrics.rmse,
    shadow: w.metrics.shadow ? +(w.metrics.shadow.agreement * 100).toFixed(1) : undefined,
  }));
  const regression = q.data.some((w) => w.metrics.task === "regression");
  const hasShadow = rows.some((r) => r.shadow !== undefined);
  // The shadow over the whole period, weighted by the requests (and labelled requests) each window compared.
  const sh = q.data.map((w) => w.metrics.shadow).filter((x): x is NonNullable<typeof x> => !!x);
  const compared = sh.reduce((a, x) => a + x.compared, 0);
  const labeledBoth = sh.reduce((a, x) => a + (x.primary !== undefined ? x.labeled : 0), 0);
  const wavg = (k: "primary" | "shadow") => sh.reduce((a, x) => a + (x[k] ?? 0) * (x.primary !== undefined ? x.labeled : 0), 0) / Math.max(1, labeledBoth);
  const shadowMetric = sh.find((x) => x.metric)?.metric;
  return (
    <Card>
      <CardHeader title="Model performance" description="Per hour, from ground truth posted later by request id; recomputed as late labels arrive" />
      {rows.length === 0 ? (
        <p className="px-5 py-4 text-sm text-muted">No labelled predictions yet: post ground truth to /v1/deployments/{name}/feedback with the request ids.</p>
      ) : (
        <div className="grid gap-4 px-2 py-3 lg:grid-cols-2" data-testid="performance-charts">
          <div className="h-56">
            <ResponsiveContainer width="100%" height="100%">
              <LineChart data={rows}>
                <CartesianGrid strokeDasharray="3 3" stroke="var(--color-border)" />
                <XAxis dataKey="label" tick={{ fontSize: 10 }} minTickGap={20} />
                <YAxis tick={{ fontSize: 10 }} width={48} domain={regression ? ["auto", "auto"] : [0, 1]} />
                <Tooltip />
                <Legend wrapperStyle={{ fontSize: 10 }} />
                {(regression ? ["mae", "rmse"] : ["accuracy", "f1", "auc"]).map((k, i) => (
                  <Line key={k} dataKey={k} stroke={COLORS[i]} dot={false} isAnimationActive={false} connectNulls />
                ))}
              </LineChart>
            </ResponsiveContainer>
          </div>
          <div className="h-56">
            <ResponsiveContainer width="100%" height="100%">
              <BarChart data={rows}>
                <CartesianGrid strokeDasharray="3 3" stroke="var(--color-border)" />
                <XAxis dataKey="label" tick={{ fontSize: 10 }} minTickGap={20} />
                <YAxis tick={{ fontSize: 10 }} unit="%" width={40} domain={[0, 100]} />
                <Tooltip />
                <Legend wrapperStyle={{ fontSize: 10 }} />
                <Bar dataKey="coverage" name="label coverage" fill="#94a3b8" isAnimationActive={false} />
                {hasShadow && <Bar dataKey="shadow" name="shadow agreement" fill="#6366f1" isAnimationActive={false} />}
              </BarChart>
            </ResponsiveContainer>
          </div>
          {compared > 0 && (
            <p className="px-3 text-sm lg:col-span-2" data-testid="shadow-summary">
              <strong>Shadow vs primary</strong>: {((sh.reduce((a, x) => a + x.agreement * x.compared, 0) / compared) * 100).toFixed(1)}% agreement on {compared.toLocaleString()} requests
              {shadowMetric && labeledBoth > 0 && (
                <>
                  {" "}
                  · {shadowMetric === "accuracy" ? "accuracy" : "MAE"} {wavg("primary").toFixed(3)} (primary) vs {wavg("shadow").toFixed(3)} (shadow), Δ {(wavg("shadow") - wavg("primary") >= 0 ? "+" : "") + (wavg("shadow") - wavg("primary")).toFixed(3)} on {labeledBoth.toLocaleString()} labelled requests
                </>
              )}
            </p>
          )}
        </div>
      )}
    </Card>
  );
}

/** One deployment: traffic, errors and latency over a range; drift by feature; alerts. */
export function DeploymentMonitoring({ name }: { name: string }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const canCompute = useCan("deployment:manage");
  const [range, setRange] = useState<Range>("1h");
  const [feature, setFeature] = useState<string | null>(null);
  const t = useQuery({ ...trpc.monitoring.traffic.queryOptions({ workspaceId: workspace.id, name, range }), refetchInterval: 30_000 });
  const d = useQuery(trpc.monitoring.drift.queryOptions({ workspaceId: workspace.id, name }));
  const compute = useMutation(trpc.monitoring.computeDrift.mutationOptions({ onSuccess: () => toast.success("Drift is being computed; it shows here when done."), onError: (e) => toast.error(errorMessage(e)) }));
  const byTime = new Map<number, Record<string, number | string>>();
  for (const s of t.data?.series ?? []) {
    for (const p of s.points) {
      const row = byTime.get(p.t) ?? { t: p.t, label: new Date(p.t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) };
      row[`${s.key} req/s`] = +p.rps.toFixed(3);
      row[`${s.key} errors`] = +(p.errorRate * 100).toFixed(2);
      if (p.p50 !== null) row[`${s.key} p50`] = +p.p50.toFixed(2);
      if (p.p95 !== null) row[`${s.key} p95`] = +p.p95.toFixed(2);
      if (p.p99 !== null) row[`${s.key} p99`] = +p.p99.toFixed(2);
      byTime.set(p.t, row);
    }
  }
  // Deployment events are drawn on the point they fall in (a point is added if none has traffic).
  for (const e of t.data?.events ?? []) if (!byTime.has(e.t)) byTime.set(e.t, { t: e.t, label: new Date(e.t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) });
  const data = [...byTime.values()].sort((a, b) => Number(a.t) - Number(b.t));
  const eventMarks = (t.data?.events ?? []).map((e) => ({ ...e, label: byTime.get(e.t)!.label as string }));
  const keys = (t.data?.series ?? []).map((s) => s.key);
  const features = (d.data?.latest?.features ?? []) as FeatureResult[];
  const prediction = (d.data?.latest?.predictionDrift ?? null) as FeatureResult | null;
  // The most drifted feature first, until the user picks another.
  const mostDrifted = features.filter((x) => x.status === "ok").sort((a, b) => (b.psi ?? 0) - (a.psi ?? 0))[0]?.feature;
  const selected = [...features, ...(prediction ? [prediction] : [])].find((f) => f.feature === (feature ?? mostDrifted));
  const hist = selected?.bins
    ? selected.bins.labels.map((l, i) => {
        const R = selected.bins!.reference.reduce((a, b) => a + b, 0);
        const C = selected.bins!.current.reduce((a, b) => a + b, 0);
        return { bin: l, reference: +((selected.bins!.reference[i]! / R) * 100).toFixed(2), current: +((selected.bins!.current[i]! / C) * 100).toFixed(2) };
      })
    : [];
  return (
    <>
      <Breadcrumb href={`/w/${workspace.slug}/monitoring`} label="Monitoring" />
      <PageHeader
        title={name}
        description={t.data?.rolledUpTo ? `Rolled up to ${new Date(t.data.rolledUpTo).toLocaleTimeString()} · ${t.data.stepMinutes}-minute points` : "Waiting for the first rollup"}
        actions={
          <div role="tablist" aria-label="Time range" className="flex gap-1">
            {RANGES.map((r) => (
              <button key={r} role="tab" aria-selected={range === r} onClick={() => setRange(r)} className={`rounded-md px-2 py-1 text-xs font-medium ${range === r ? "bg-accent text-white" : "text-muted hover:bg-subtle"}`}>
                {r}
              </button>
            ))}
          </div>
        }
      />
      <div className="space-y-6">
        <LiveCard deploymentId={t.data?.deploymentId} />
        {t.isPending ? (
          <Skeleton rows={6} />
        ) : t.isError ? (
          <ErrorState message={errorMessage(t.error)} onRetry={() => void t.refetch()} />
        ) : data.length === 0 ? (
          <Card>
            <EmptyState title="No traffic in this range" icon={<Activity className="size-8" aria-hidden />}>
              Predictions appear here within a minute of being served.
            </EmptyState>
          </Card>
        ) : (
          <div className="grid gap-6 lg:grid-cols-3" data-testid="traffic-charts">
            {[
              { title: "Requests/s", suffix: "req/s", unit: "" },
              { title: "Error rate", suffix: "errors", unit: "%" },
              { title: "Latency p50 · p95 · p99", suffix: "p", unit: " ms" },
            ].map((c) => (
              <Card key={c.title}>
                <CardHeader title={c.title} />
                <div className="h-56 px-2 py-3">
                  <ResponsiveContainer width="100%" height="100%">
                    <LineChart data={data}>
                      <CartesianGrid strokeDasharray="3 3" stroke="var(--color-border)" />
                      <XAxis dataKey="label" tick={{ fontSize: 10 }} minTickGap={20} />
                      <YAxis tick={{ fontSize: 10 }} unit={c.unit} width={48} />
                      <Tooltip />
                      <Legend wrapperStyle={{ fontSize: 10 }} />
                      {eventMarks.map((e, i) => (
                        <ReferenceLine key={`${e.t}-${i}`} x={e.label} stroke="#64748b" strokeDasharray="4 2" label={c.suffix === "req/s" ? { value: e.kind.replace(/_/g, " "), position: "insideTopLeft", fontSize: 9, fill: "#64748b" } : undefined} />
                      ))}
                      {keys.flatMap((k, i) =>
                        c.suffix === "p"
                          ? (["p50", "p95", "p99"] as const).map((p, j) => <Line key={`${k} ${p}`} dataKey={`${k} ${p}`} stroke={COLORS[(i * 3 + j) % COLORS.length]} dot={false} isAnimationActive={false} />)
                          : [<Line key={k} dataKey={`${k} ${c.suffix}`} stroke={COLORS[i % COLORS.length]} dot={false} isAnimationActive={false} />],
                      )}
                    </LineChart>
                  </ResponsiveContainer>
                </div>
              </Card>
            ))}
          </div>
        )}

        {eventMarks.length > 0 && (
          <p className="-mt-4 text-xs text-muted" data-testid="deployment-events">
            Dashed lines: {eventMarks.map((e) => `${e.label} ${e.summary}`).join(" · ")}
          </p>
        )}
        <ResourcesCard name={name} range={range} />
        <AlertsCard name={name} features={features.map((f) => f.feature)} />
        <PerformanceCard name={name} />

        <Card>
          <CardHeader
            title="Drift"
            description={d.data?.latest ? `Window ${new Date(d.data.latest.windowStart).toLocaleTimeString()}–${new Date(d.data.latest.windowEnd).toLocaleTimeString()} (${d.data.latest.sampled} records) against ${describeReference(d.data.latest.reference)}` : "Computed every 10 minutes from the logged inputs"}
            actions={
              canCompute ? (
                <Button size="sm" variant="secondary" loading={compute.isPending} onClick={() => compute.mutate({ workspaceId: workspace.id, name, windowMinutes: 60 })}>
                  <RefreshCw className="size-3.5" aria-hidden /> Compute now
                </Button>
              ) : undefined
            }
          />
          {d.isPending ? (
            <Skeleton rows={3} />
          ) : d.isError ? (
            <ErrorState message={errorMessage(d.error)} onRetry={() => void d.refetch()} />
          ) : !d.data.latest ? (
            <p className="px-5 py-4 text-sm text-muted">No drift computed yet. It needs a training or evaluation dataset in the served version's lineage and logged records (`instances`).</p>
          ) : (
            <table className="w-full text-sm" data-testid="drift-table">
              <thead className="bg-subtle text-left text-xs text-muted">
                <tr>
                  <th className="px-5 py-2 font-medium">Feature</th>
                  <th className="px-3 py-2 font-medium">Severity</th>
                  <th className="px-3 py-2 text-right font-medium">PSI</th>
                  <th className="px-3 py-2 text-right font-medium">JS</th>
                  <th className="px-3 py-2 text-right font-medium" title="Input features: adjusted across features (Benjamini–Hochberg). The model output: unadjusted.">
                    KS / χ² p (BH)
                  </th>
                  <th className="px-3 py-2 font-medium">What changed</th>
                </tr>
              </thead>
              <tbody className="divide-y divide-border">
                {[...(prediction ? [{ ...prediction, output: true }] : []), ...features.map((f) => ({ ...f, output: false }))].map((f) => (
                  <tr key={f.feature} className={`hover:bg-subtle ${selected?.feature === f.feature ? "bg-subtle" : ""} ${f.output ? "border-b-2 border-border" : ""}`}>
                    <td className="px-5 py-1.5">
                      <button type="button" className="font-mono text-xs hover:underline focus-visible:underline" aria-pressed={selected?.feature === f.feature} onClick={() => setFeature(f.feature)}>
                        {f.feature}
                      </button>
                      {f.output && <span className="ml-1.5 text-xs text-muted">model output</span>}
                    </td>
                    <td className="px-3 py-1.5">{f.status === "ok" ? <Badge tone={SEVERITY_TONE[f.severity!]}>{f.severity === "none" ? "stable" : f.severity}</Badge> : <Badge tone="stale">not enough data</Badge>}</td>
                    <td className="px-3 py-1.5 text-right tabular-nums">{f.psi?.toFixed(3) ?? "—"}</td>
                    <td className="px-3 py-1.5 text-right tabular-nums">{f.jensenShannon?.toFixed(3) ?? "—"}</td>
                    <td className="px-3 py-1.5 text-right tabular-nums">{pShown(f.output ? (f.pValue ?? null) : (f.pAdjusted ?? null))}</td>
                    <td className="px-3 py-1.5 text-xs">{f.explanation}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {canCompute && d.data && <DriftReferenceForm key={JSON.stringify(d.data.referenceSetting)} name={name} current={d.data.referenceSetting} onSaved={() => void d.refetch()} />}
        </Card>

        {selected?.bins && (
          <div className="grid gap-6 lg:grid-cols-2">
            <Card>
              <CardHeader title={`${selected.feature}: reference vs current`} description="Share of rows per bin; bins fixed from the reference's quantiles" />
              <div className="h-64 px-2 py-3" data-testid="drift-histogram">
                <ResponsiveContainer width="100%" height="100%">
                  <BarChart data={hist}>
                    <CartesianGrid strokeDasharray="3 3" stroke="var(--color-border)" />
                    <XAxis dataKey="bin" tick={{ fontSize: 9 }} interval={0} angle={-25} textAnchor="end" height={50} />
                    <YAxis tick={{ fontSize: 10 }} unit="%" width={40} />
                    <Tooltip />
                    <Legend wrapperStyle={{ fontSize: 10 }} />
                    <Bar dataKey="reference" fill="#94a3b8" isAnimationActive={false} />
                    <Bar dataKey="current" fill="#6366f1" isAnimationActive={false} />
                  </BarChart>
                </ResponsiveContainer>
              </div>
            </Card>
            <Card>
              <CardHeader title="Drift over time" description="PSI per feature and window (darker = more drift)" />
              <div className="overflow-x-auto px-5 py-4" data-testid="drift-heatmap">
                <table className="text-xs">
                  <tbody>
                    {features.map((f) => (
                      <tr key={f.feature}>
                        <td className="pr-2 font-mono">{f.feature}</td>
                        {(d.data?.heatmap ?? []).map((h, i) => {
                          const v = h.features.find((x) => x.feature === f.feature)?.psi ?? null;
                          return <td key={i} title={`${new Date(h.windowEnd).toLocaleString()}: PSI ${v?.toFixed(3) ?? "n/a"}`} className="size-4 border border-panel" style={{ background: heatColor(v) }} />;
                        })}
                      </tr>
                    ))}
                  </tbody>
                </table>
                <p className="mt-2 text-xs text-muted">
                  Latest <TimeAgo date={new Date(d.data!.latest!.windowEnd)} />
                </p>
              </div>
            </Card>
          </div>
        )}
      </div>
    </>
  );
}

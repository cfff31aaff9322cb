"use client";

import { useQuery } from "@tanstack/react-query";
import { Activity } from "lucide-react";
import { useState } from "react";
import { Area, CartesianGrid, ComposedChart, Legend, Line, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { useWorkspace } from "~/components/shell/workspace-context";
import { useTRPC } from "~/components/trpc/client";
import { Card, CardHeader } from "~/components/ui/card";
import { EmptyState, PageHeader } from "~/components/ui/states";
import { QueryWait, ready } from "~/components/ui/query-state";
import { Breadcrumb } from "~/components/ui/breadcrumb";
import { RANGES, type Range } from "~/server/shared/monitoring.schema";
import { AlertsCard } from "./alerts-card";
import { DriftCard, type FeatureResult } from "./drift-card";
import { LiveCard, ResourcesCard } from "./live";
import { COLORS } from "./monitoring-format";
import { PerformanceCard } from "./performance-card";

/** One deployment: traffic, errors and latency over a range; drift by feature; alerts. */
/** Which chart an anomaly rule's expected band is shaded on (latency quantiles share one). */
const CHART_OF: Record<string, string> = {
  traffic: "req/s",
  error_rate: "errors",
  outlier_share: "inputs",
  missing_share: "inputs",
  prediction_mean: "mean",
};

export function DeploymentMonitoring({ name }: { name: string }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const [range, setRange] = useState<Range>("1h");
  const t = useQuery({ ...trpc.monitoring.traffic.queryOptions({ workspaceId: workspace.id, name, range }), refetchInterval: 30_000 });
  const d = useQuery(trpc.monitoring.drift.queryOptions({ workspaceId: workspace.id, name }));
  // Day and time at 7d/30d (several days on one axis), time of day otherwise; in the viewer's time zone.
  const label = (ms: number) =>
    new Date(ms).toLocaleString(
      [],
      (t.data?.stepMinutes ?? 1) >= 60 ? { day: "2-digit", month: "short", hour: "2-digit", minute: "2-digit" } : { hour: "2-digit", minute: "2-digit" },
    );
  const byTime = new Map<number, Record<string, number | string | number[]>>();
  // Points per series and chart with a value: a line needs two, so a series with fewer than 3 is drawn with dots.
  const drawn = new Map<string, number>();
  const put = (row: Record<string, unknown>, key: string, v: number | null, digits: number) => {
    if (v === null) return; // no requests in that step: no error rate, no latency — a gap, not a zero
    row[key] = +v.toFixed(digits);
    drawn.set(key, (drawn.get(key) ?? 0) + 1);
  };
  for (const s of t.data?.series ?? []) {
    for (const p of s.points) {
      const row = byTime.get(p.t) ?? { t: p.t, label: label(p.t) };
      // Zero where the version served nothing (the server fills steps the rollups cover), so a burst reads as a burst.
      put(row, `${s.key} req/s`, p.rps, 3);
      put(row, `${s.key} errors`, p.errorRate === null ? null : p.errorRate * 100, 2);
      put(row, `${s.key} p50`, p.p50, 2);
      put(row, `${s.key} p95`, p.p95, 2);
      put(row, `${s.key} p99`, p.p99, 2);
      put(row, `${s.key} outliers`, p.outlierShare === null ? null : p.outlierShare * 100, 2);
      put(row, `${s.key} missing`, p.missingShare === null ? null : p.missingShare * 100, 2);
      put(row, `${s.key} mean`, p.predictionMean, 4);
      byTime.set(p.t, row);
    }
  }
  const dotFor = (key: string) => ((drawn.get(key) ?? 0) < 3 ? { r: 3 } : false);
  const rolledUp = t.data?.rolledUpTo ? new Date(t.data.rolledUpTo).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : null;
  // Anomaly rules' expected bands, shaded on the chart of their series (error rate in %).
  const bands = (t.data?.bands ?? []).map((b) => ({
    ...b,
    key: `${b.rule} (expected)`,
    chart: CHART_OF[b.metric] ?? "p",
    scale: b.metric === "error_rate" || b.metric === "outlier_share" || b.metric === "missing_share" ? 100 : 1,
  }));
  for (const b of bands)
    for (const p of b.points) {
      const row = byTime.get(p.t);
      if (row) (row as Record<string, unknown>)[b.key] = [+(p.low * b.scale).toFixed(3), +(p.high * b.scale).toFixed(3)];
    }
  // Deployment events are drawn on the point they fall in (a point is added if none has traffic).
  for (const e of t.data?.events ?? []) if (!byTime.has(e.t)) byTime.set(e.t, { t: e.t, label: label(e.t) });
  const data = [...byTime.values()].sort((a, b) => Number(a.t) - Number(b.t));
  const eventMarks = (t.data?.events ?? []).map((e) => ({ ...e, label: byTime.get(e.t)!.label as string }));
  const keys = (t.data?.series ?? []).map((s) => s.key);
  const checkedAny = (t.data?.series ?? []).some((s) => s.points.some((p) => p.outlierShare !== null));
  const predictedAny = (t.data?.series ?? []).some((s) => s.points.some((p) => p.predictionMean !== null));
  const features = (d.data?.latest?.features ?? []) as FeatureResult[];
  return (
    <>
      <Breadcrumb href={`/w/${workspace.slug}/monitoring`} label="Monitoring" />
      <PageHeader
        title={name}
        description={
          t.isPending
            ? "Loading…"
            : t.data?.rolledUpTo
              ? `Rolled up to ${new Date(t.data.rolledUpTo).toLocaleTimeString()} · ${t.data.stepMinutes}-minute points · steps a version served nothing are drawn at zero; gaps mean no data`
              : "Waiting for the first rollup"
        }
        actions={
          <div role="tablist" aria-label="Time range" className="flex gap-1">
            {RANGES.map((r) => (
              <button
                key={r}
                role="tab"
                aria-selected={range === r}
                onClick={() => setRange(r)}
                className={`rounded-md px-2 py-1 text-xs font-medium ${range === r ? "bg-accent text-accent-fg" : "text-muted hover:bg-subtle"}`}
              >
                {r}
              </button>
            ))}
          </div>
        }
      />
      <div className="space-y-6">
        <LiveCard deploymentId={t.data?.deploymentId} />
        {!ready(t) ? (
          <QueryWait query={t} rows={6} />
        ) : data.length === 0 ? (
          <Card>
            <EmptyState title="No traffic in this range" icon={<Activity className="size-8" aria-hidden />}>
              Predictions appear here within a minute of being served.
            </EmptyState>
          </Card>
        ) : (
          <div className="grid gap-6 lg:grid-cols-2" data-testid="traffic-charts">
            {[
              { title: "Requests/s", suffix: "req/s", unit: "" },
              { title: "Error rate", suffix: "errors", unit: "%" },
              { title: "Latency p50 · p95 · p99", suffix: "p", unit: " ms" },
              { title: "Input outliers · missing inputs", suffix: "inputs", unit: "%" },
              ...(predictedAny ? [{ title: "Mean prediction", suffix: "mean", unit: "" }] : []),
            ].map((c) => (
              <Card key={c.title} className={c.suffix === "mean" ? "lg:col-span-2" : undefined}>
                <CardHeader
                  title={c.title}
                  description={
                    c.suffix === "mean"
                      ? "The model's mean positive-class probability (or regression value) per step, read from its answers"
                      : c.suffix === "inputs"
                        ? checkedAny
                          ? "Share of requests with an input outside the reference's 0.1–99.9% range or a category it never had (solid), or with an input missing (dashed)"
                          : "Requests are checked against the drift reference once drift has been computed for this deployment"
                        : rolledUp
                          ? `Rolled up to ${rolledUp}; later minutes are in the live card above`
                          : "Nothing rolled up yet; see the live card above"
                  }
                />
                <div className="h-56 px-2 py-3">
                  <ResponsiveContainer width="100%" height="100%">
                    <ComposedChart data={data}>
                      <CartesianGrid strokeDasharray="3 3" stroke="var(--color-border)" />
                      <XAxis dataKey="label" tick={{ fontSize: 10 }} minTickGap={20} />
                      <YAxis tick={{ fontSize: 10 }} unit={c.unit} width={48} />
                      <Tooltip />
                      <Legend wrapperStyle={{ fontSize: 10 }} />
                      {eventMarks.map((e, i) => (
                        <ReferenceLine
                          key={`${e.t}-${i}`}
                          x={e.label}
                          stroke="#64748b"
                          strokeDasharray="4 2"
                          label={
                            c.suffix === "req/s" ? { value: e.kind.replace(/_/g, " "), position: "insideTopLeft", fontSize: 9, fill: "#64748b" } : undefined
                          }
                        />
                      ))}
                      {bands
                        .filter((b) => b.chart === c.suffix)
                        .map((b) => (
                          <Area
                            key={b.key}
                            dataKey={b.key}
                            name={`${b.key}, ${b.sensitivity} sensitivity`}
                            stroke="none"
                            fill="var(--color-accent)"
                            fillOpacity={0.2}
                            connectNulls
                            isAnimationActive={false}
                          />
                        ))}
                      {keys.flatMap((k, i) =>
                        c.suffix === "inputs"
                          ? (["outliers", "missing"] as const).map((p, j) => (
                              <Line
                                key={`${k} ${p}`}
                                dataKey={`${k} ${p}`}
                                stroke={COLORS[i % COLORS.length]}
                                strokeDasharray={j ? "4 3" : undefined}
                                dot={dotFor(`${k} ${p}`)}
                                connectNulls={false}
                                isAnimationActive={false}
                              />
                            ))
                          : c.suffix === "p"
                            ? (["p50", "p95", "p99"] as const).map((p, j) => (
                                <Line
                                  key={`${k} ${p}`}
                                  dataKey={`${k} ${p}`}
                                  stroke={COLORS[(i * 3 + j) % COLORS.length]}
                                  dot={dotFor(`${k} ${p}`)}
                                  connectNulls={false}
                                  isAnimationActive={false}
                                />
                              ))
                            : [
                                <Line
                                  key={k}
                                  dataKey={`${k} ${c.suffix}`}
                                  stroke={COLORS[i % COLORS.length]}
                                  dot={dotFor(`${k} ${c.suffix}`)}
                                  connectNulls={false}
                                  isAnimationActive={false}
                                />,
                              ],
                      )}
                    </ComposedChart>
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
        <DriftCard name={name} />
      </div>
    </>
  );
}

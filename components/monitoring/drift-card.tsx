"use client";

import { useMutation, useQuery } from "@tanstack/react-query";
import { RefreshCw } from "lucide-react";
import { useState } from "react";
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { toast } from "sonner";
import { useCan, useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, useTRPC } from "~/components/trpc/client";
import { Badge } from "~/components/ui/badge";
import { Button } from "~/components/ui/button";
import { Card, CardHeader } from "~/components/ui/card";
import { QueryWait, ready } from "~/components/ui/query-state";
import { TimeAgo } from "~/components/ui/time";
import type { DriftReference } from "~/db/schema/monitoring";
import { DriftReferenceForm } from "./drift-reference-form";
import { SEVERITY_TONE } from "./monitoring-format";

export type FeatureResult = {
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
  pMethod?: "ks_exact" | "ks_asymptotic" | "chi2" | "chi2_yates" | null;
  severity?: string;
  missing?: { currentShare: number; referenceShare: number };
  outside?: { count: number; share: number; range?: [number, number] };
  explanation: string;
  bins?: { labels: string[]; reference: number[]; current: number[] };
};

/** How a p-value was computed (server/monitoring/drift.ts; docs/MONITORING.md, "Statistical conventions"). */
const P_METHOD = { ks_exact: "KS, exact", ks_asymptotic: "KS, finite-n", chi2: "χ²", chi2_yates: "χ², Yates" } as const;
const pShown = (p: number | null) => (p === null ? "—" : p < 1e-4 ? "< 0.0001" : p.toFixed(4));

function heatColor(psi: number | null) {
  if (psi === null) return "var(--color-subtle)";
  const x = Math.min(1, psi / 0.5);
  return `rgba(239, 68, 68, ${0.1 + 0.8 * x})`;
}

function describeReference(r: DriftReference) {
  if (r.kind === "window")
    return `this deployment's traffic ${new Date(r.from).toLocaleString()} – ${new Date(r.to).toLocaleString()} (${r.rows.toLocaleString()} records)`;
  return `${r.dataset}@${r.version} (${r.role}, ${r.rows.toLocaleString()} rows${r.sample ? `; a uniform sample of ${r.sample.rows.toLocaleString()}, seed ${r.sample.seed}` : ""})`;
}

/** Input drift by feature and the model output against the reference: table, histogram of the selected feature, PSI over time. */
export function DriftCard({ name }: { name: string }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const canCompute = useCan("deployment:manage");
  const [feature, setFeature] = useState<string | null>(null);
  const d = useQuery(trpc.monitoring.drift.queryOptions({ workspaceId: workspace.id, name }));
  const compute = useMutation(
    trpc.monitoring.computeDrift.mutationOptions({
      onSuccess: () => toast.success("Drift is being computed; it shows here when done."),
      onError: (e) => toast.error(errorMessage(e)),
    }),
  );
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
      <Card>
        <CardHeader
          title="Drift"
          description={
            d.data?.latest
              ? `Window ${new Date(d.data.latest.windowStart).toLocaleTimeString()}–${new Date(d.data.latest.windowEnd).toLocaleTimeString()} (${d.data.latest.sampled} records) against ${describeReference(d.data.latest.reference)}`
              : "Computed every 10 minutes from the logged inputs"
          }
          actions={
            canCompute ? (
              <Button
                size="sm"
                variant="secondary"
                loading={compute.isPending}
                onClick={() => compute.mutate({ workspaceId: workspace.id, name, windowMinutes: 60 })}
              >
                <RefreshCw className="size-3.5" aria-hidden /> Compute now
              </Button>
            ) : undefined
          }
        />
        {!ready(d) ? (
          <QueryWait query={d} rows={3} />
        ) : !d.data.latest ? (
          <p className="px-5 py-4 text-sm text-muted">
            No drift computed yet. It needs a training or evaluation dataset in the served version's lineage and logged records (`instances`).
          </p>
        ) : (
          <table className="w-full text-sm" data-testid="drift-table">
            <thead className="bg-subtle text-left text-xs text-muted">
              <tr>
                <th className="px-5 py-2 font-medium">Feature</th>
                <th className="px-3 py-2 font-medium">Severity</th>
                <th className="px-3 py-2 text-right font-medium">PSI</th>
                <th className="px-3 py-2 text-right font-medium">JS</th>
                <th
                  className="px-3 py-2 text-right font-medium"
                  title="Input features: adjusted across features (Benjamini–Hochberg). The model output: unadjusted."
                >
                  KS / χ² p (BH)
                </th>
                <th
                  className="px-3 py-2 text-right font-medium"
                  title="Share of the window's values outside the reference's 0.1–99.9% range (numeric) or never seen in it (categorical)"
                >
                  Outside ref.
                </th>
                <th
                  className="px-3 py-2 text-right font-medium"
                  title="Share of the window's values missing (null, absent, empty, unparseable); the reference's in brackets"
                >
                  Missing
                </th>
                <th className="px-3 py-2 font-medium">What changed</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-border">
              {[...(prediction ? [{ ...prediction, output: true }] : []), ...features.map((f) => ({ ...f, output: false }))].map((f) => (
                <tr
                  key={f.feature}
                  className={`hover:bg-subtle ${selected?.feature === f.feature ? "bg-subtle" : ""} ${f.output ? "border-b-2 border-border" : ""}`}
                >
                  <td className="px-5 py-1.5">
                    <button
                      type="button"
                      className="font-mono text-xs hover:underline focus-visible:underline"
                      aria-pressed={selected?.feature === f.feature}
                      onClick={() => setFeature(f.feature)}
                    >
                      {f.feature}
                    </button>
                    {f.output && <span className="ml-1.5 text-xs text-muted">model output</span>}
                  </td>
                  <td className="px-3 py-1.5">
                    {f.status === "ok" ? (
                      <Badge tone={SEVERITY_TONE[f.severity!]}>{f.severity === "none" ? "stable" : f.severity}</Badge>
                    ) : (
                      <Badge tone="stale">not enough data</Badge>
                    )}
                  </td>
                  <td className="px-3 py-1.5 text-right tabular-nums">{f.psi?.toFixed(3) ?? "—"}</td>
                  <td className="px-3 py-1.5 text-right tabular-nums">{f.jensenShannon?.toFixed(3) ?? "—"}</td>
                  <td className="px-3 py-1.5 text-right tabular-nums">
                    {pShown(f.output ? (f.pValue ?? null) : (f.pAdjusted ?? null))}
                    {f.pMethod && <span className="block text-[10px] text-muted">{P_METHOD[f.pMethod]}</span>}
                  </td>
                  <td
                    className="px-3 py-1.5 text-right tabular-nums"
                    title={f.outside?.range ? `Reference 0.1–99.9%: ${f.outside.range.map((x) => x.toPrecision(4)).join(" to ")}` : undefined}
                  >
                    {f.outside ? `${(f.outside.share * 100).toFixed(1)}%` : "—"}
                  </td>
                  <td className="px-3 py-1.5 text-right tabular-nums">
                    {f.missing ? (
                      <>
                        {(f.missing.currentShare * 100).toFixed(1)}%
                        <span className="block text-[10px] text-muted">({(f.missing.referenceShare * 100).toFixed(1)}%)</span>
                      </>
                    ) : (
                      "—"
                    )}
                  </td>
                  <td className="px-3 py-1.5 text-xs">{f.explanation}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {canCompute && d.data && (
          <DriftReferenceForm key={JSON.stringify(d.data.referenceSetting)} name={name} current={d.data.referenceSetting} onSaved={() => void d.refetch()} />
        )}
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
                        return (
                          <td
                            key={i}
                            title={`${new Date(h.windowEnd).toLocaleString()}: PSI ${v?.toFixed(3) ?? "n/a"}`}
                            className="size-4 border border-panel"
                            style={{ background: heatColor(v) }}
                          />
                        );
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
    </>
  );
}

"use client";

import { checkLabel } from "~/server/shared/check-labels";
import { Bar, BarChart, CartesianGrid, ErrorBar, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { Card, CardHeader } from "~/components/ui/card";
import { fmt, StatusBadge } from "./status";

/*
 * The evidence of a validation run, drawn: checks with their thresholds, confusion
 * matrix, ROC / PR / calibration curves, slices, fairness by group, robustness under
 * perturbation, feature importance and latency.
 */

type Step = { key: string; type: string; status: string; reason: string | null; outputs: unknown };
type Check = { name: string; status: string; value: number | null; threshold: string | null; message: string; required: boolean };
type Curve = { x: number[]; y: number[] };

const tooltip = { contentStyle: { background: "var(--panel)", border: "1px solid var(--border)", fontSize: 12 } };
const axis = { stroke: "var(--muted)", fontSize: 11 };
const C = { a: "#6366f1", b: "#10b981", c: "#f59e0b", d: "#ef4444" };

export function ChecksTable({ checks }: { checks: Check[] }) {
  if (!checks.length) return <p className="px-5 py-6 text-sm text-muted">No checks recorded yet.</p>;
  return (
    <table className="w-full text-sm" data-testid="checks-table">
      <thead className="bg-subtle text-left text-xs text-muted">
        <tr>
          <th className="px-4 py-2 font-medium">Check</th>
          <th className="px-4 py-2 font-medium">Result</th>
          <th className="px-4 py-2 text-right font-medium">Value</th>
          <th className="px-4 py-2 font-medium">Threshold</th>
          <th className="px-4 py-2 font-medium">Detail</th>
        </tr>
      </thead>
      <tbody className="divide-y divide-border">
        {checks.map((c) => (
          <tr key={c.name} data-check={c.name}>
            <td className="px-4 py-1.5 text-xs">
              <span className="font-medium">{checkLabel(c.name)}</span>
              {!c.required && <span className="ml-2 text-muted">(informative)</span>}
              <span className="block font-mono text-[10px] text-muted">{c.name}</span>
            </td>
            <td className="px-4 py-1.5">
              <StatusBadge status={c.status} />
            </td>
            <td className="px-4 py-1.5 text-right font-mono text-xs tabular-nums">
              <CheckValue value={c.value} message={c.message} />
            </td>
            <td className="px-4 py-1.5 font-mono text-xs text-muted">{c.threshold || "—"}</td>
            <td className="px-4 py-1.5 text-xs text-muted">{c.message}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A check's figure; one the step could not compute reads "undefined", with the reason on hover (never 0, 1 or a blank). */
export function CheckValue({ value, message }: { value: number | null; message: string }) {
  if (value !== null && !Number.isNaN(value)) return <>{fmt(value)}</>;
  return (
    <span className="font-sans italic text-amber-800 dark:text-amber-300" title={message}>
      undefined
    </span>
  );
}

/** A fairness figure in prose: its value, or "undefined" and why (fairlearn's conventions). */
const figure = (v: number | null, why?: string) => (v === null ? `undefined${why ? ` (${why})` : ""}` : fmt(v, 3));

function CurveChart({ title, curve, x, y, diagonal, testId }: { title: string; curve: Curve; x: string; y: string; diagonal?: boolean; testId: string }) {
  const data = curve.x.map((v, i) => ({ x: v, y: curve.y[i], d: diagonal ? v : undefined }));
  return (
    <Card>
      <CardHeader title={title} />
      <div className="h-60 p-2" data-testid={testId}>
        <ResponsiveContainer width="100%" height="100%">
          <LineChart data={data} margin={{ left: 0, right: 16, top: 8, bottom: 16 }}>
            <CartesianGrid strokeDasharray="3 3" stroke="var(--border)" />
            <XAxis
              dataKey="x"
              type="number"
              domain={[0, 1]}
              {...axis}
              label={{ value: x, position: "insideBottom", offset: -8, fontSize: 11, fill: "var(--muted)" }}
            />
            <YAxis type="number" domain={[0, 1]} {...axis} />
            <Tooltip {...tooltip} formatter={(v) => fmt(Number(v), 3)} labelFormatter={(l) => `${x} ${fmt(Number(l), 3)}`} />
            {diagonal && <Line dataKey="d" name="chance" stroke="var(--muted)" strokeDasharray="4 4" dot={false} isAnimationActive={false} />}
            <Line dataKey="y" name={y} stroke={C.a} strokeWidth={2} dot={false} isAnimationActive={false} />
          </LineChart>
        </ResponsiveContainer>
      </div>
    </Card>
  );
}

function Confusion({ labels, matrix }: { labels: string[]; matrix: number[][] }) {
  const max = Math.max(1, ...matrix.flat());
  return (
    <Card>
      <CardHeader title="Confusion matrix" description="Rows: true class · columns: predicted" />
      <div className="overflow-x-auto p-4" data-testid="confusion-matrix">
        <table className="mx-auto text-sm">
          <thead>
            <tr>
              <th />
              {labels.map((l) => (
                <th key={l} className="px-3 py-1 text-xs font-medium text-muted">
                  {l}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {matrix.map((row, i) => (
              <tr key={i}>
                <th className="px-3 py-1 text-right text-xs font-medium text-muted">{labels[i]}</th>
                {row.map((v, j) => (
                  <td
                    key={j}
                    className="size-16 text-center font-mono tabular-nums"
                    style={{ background: `rgba(99,102,241,${(0.08 + (0.8 * v) / max).toFixed(2)})`, color: v / max > 0.55 ? "white" : undefined }}
                  >
                    {v}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Card>
  );
}

function Calibration({ c }: { c: { predicted: number[]; observed: number[]; count: number[] } }) {
  const data = c.predicted.map((p, i) => ({ x: p, y: c.observed[i], d: p, n: c.count[i] }));
  return (
    <Card>
      <CardHeader title="Calibration" description="Observed positive rate by predicted probability (10 bins)" />
      <div className="h-60 p-2" data-testid="calibration-chart">
        <ResponsiveContainer width="100%" height="100%">
          <LineChart data={data} margin={{ left: 0, right: 16, top: 8, bottom: 16 }}>
            <CartesianGrid strokeDasharray="3 3" stroke="var(--border)" />
            <XAxis dataKey="x" type="number" domain={[0, 1]} {...axis} />
            <YAxis type="number" domain={[0, 1]} {...axis} />
            <Tooltip {...tooltip} formatter={(v) => fmt(Number(v), 3)} />
            <Line dataKey="d" name="perfect" stroke="var(--muted)" strokeDasharray="4 4" dot={false} isAnimationActive={false} />
            <Line dataKey="y" name="observed" stroke={C.b} strokeWidth={2} isAnimationActive={false} />
          </LineChart>
        </ResponsiveContainer>
      </div>
    </Card>
  );
}

function Slices({ slices }: { slices: { column: string; value: string; count: number; metrics: Record<string, number | null>; note?: string }[] }) {
  if (!slices.length) return null;
  const ORDER = ["accuracy", "roc_auc", "pr_auc", "f1_macro", "precision_macro", "recall_macro", "log_loss", "brier", "mae", "rmse", "r2"];
  const names = Object.keys(slices[0]!.metrics)
    .sort((a, b) => (ORDER.indexOf(a) + 1 || 99) - (ORDER.indexOf(b) + 1 || 99))
    .slice(0, 6);
  return (
    <Card className="lg:col-span-2">
      <CardHeader title="Slices" description="The same metrics for each value of each slice column" />
      <div className="overflow-x-auto">
        <table className="w-full text-sm" data-testid="slices-table">
          <thead className="bg-subtle text-left text-xs text-muted">
            <tr>
              <th className="px-4 py-2 font-medium">Slice</th>
              <th className="px-4 py-2 text-right font-medium">Rows</th>
              {names.map((n) => (
                <th key={n} className="px-4 py-2 text-right font-medium">
                  {n}
                </th>
              ))}
            </tr>
          </thead>
          <tbody className="divide-y divide-border">
            {slices.map((s) => (
              <tr key={`${s.column}=${s.value}`}>
                <td className="px-4 py-1.5">
                  <span className="text-muted">{s.column} =</span> {s.value}
                </td>
                <td className="px-4 py-1.5 text-right tabular-nums">{s.count}</td>
                {names.map((n) => (
                  <td key={n} className="px-4 py-1.5 text-right font-mono text-xs tabular-nums" title={s.metrics[n] === null ? s.note : undefined}>
                    {fmt(s.metrics[n] ?? null, 3)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Card>
  );
}

function Fairness({
  o,
}: {
  o: {
    sensitive: string;
    groups: { group: string; count: number; selectionRate: number; tpr: number | null; fpr: number | null }[];
    demographicParityRatio: number | null;
    demographicParityDifference: number | null;
    equalizedOddsDifference: number | null;
    undefinedBecause?: Record<string, string>;
  };
}) {
  const why = o.undefinedBecause ?? {};
  return (
    <Card>
      <CardHeader
        title={`Fairness by ${o.sensitive}`}
        description={`Parity ratio ${figure(o.demographicParityRatio, why.demographic_parity_ratio)} · parity difference ${figure(o.demographicParityDifference, why.demographic_parity_difference)} · equalized odds difference ${figure(o.equalizedOddsDifference, why.equalized_odds_difference)}`}
      />
      <div className="h-60 p-2" data-testid="fairness-chart">
        <ResponsiveContainer width="100%" height="100%">
          <BarChart data={o.groups} margin={{ left: 0, right: 16, top: 8, bottom: 8 }}>
            <CartesianGrid strokeDasharray="3 3" stroke="var(--border)" />
            <XAxis dataKey="group" {...axis} />
            <YAxis domain={[0, 1]} {...axis} />
            <Tooltip {...tooltip} formatter={(v) => fmt(Number(v), 3)} />
            <Legend wrapperStyle={{ fontSize: 12 }} />
            <Bar dataKey="selectionRate" name="selection rate" fill={C.a} isAnimationActive={false} />
            <Bar dataKey="tpr" name="TPR" fill={C.b} isAnimationActive={false} />
            <Bar dataKey="fpr" name="FPR" fill={C.c} isAnimationActive={false} />
          </BarChart>
        </ResponsiveContainer>
      </div>
    </Card>
  );
}

function Robustness({
  o,
}: {
  o: {
    metric: string;
    baseline: number | null;
    results: { perturbation: string; scale: number | null; changedShare: number; metric: number | null; metricDrop: number | null }[];
  };
}) {
  const noise = o.results.filter((r) => r.perturbation === "gaussian noise").map((r) => ({ scale: r.scale, changed: r.changedShare, metric: r.metric }));
  const other = o.results.filter((r) => r.perturbation !== "gaussian noise");
  return (
    <Card>
      <CardHeader title="Robustness" description={`Share of changed predictions and ${o.metric} under gaussian noise (× feature σ)`} />
      <div className="h-52 p-2" data-testid="robustness-chart">
        <ResponsiveContainer width="100%" height="100%">
          <LineChart data={noise} margin={{ left: 0, right: 16, top: 8, bottom: 8 }}>
            <CartesianGrid strokeDasharray="3 3" stroke="var(--border)" />
            <XAxis dataKey="scale" {...axis} />
            <YAxis domain={[0, 1]} {...axis} />
            <Tooltip {...tooltip} formatter={(v) => fmt(Number(v), 3)} />
            <Legend wrapperStyle={{ fontSize: 12 }} />
            <Line dataKey="changed" name="changed share" stroke={C.d} strokeWidth={2} isAnimationActive={false} />
            <Line dataKey="metric" name={o.metric} stroke={C.a} strokeWidth={2} isAnimationActive={false} />
          </LineChart>
        </ResponsiveContainer>
      </div>
      {other.length > 0 && (
        <table className="w-full border-t border-border text-xs">
          <tbody className="divide-y divide-border">
            {other.map((r) => (
              <tr key={r.perturbation}>
                <td className="px-4 py-1.5">{r.perturbation}</td>
                <td className="px-4 py-1.5 text-right tabular-nums">{(r.changedShare * 100).toFixed(1)}% changed</td>
                <td className="px-4 py-1.5 text-right tabular-nums text-muted">
                  {o.metric} drop {fmt(r.metricDrop, 3)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Card>
  );
}

function Importance({ o }: { o: { metric: string; importance: { feature: string; importance: number; std: number }[] } }) {
  const data = o.importance.map((i) => ({ ...i, err: i.std }));
  return (
    <Card>
      <CardHeader title="What drives predictions" description={`Permutation importance: the fall in ${o.metric} when a feature is shuffled`} />
      <div className="p-2" style={{ height: Math.max(160, 34 * data.length + 40) }} data-testid="importance-chart">
        <ResponsiveContainer width="100%" height="100%">
          <BarChart data={data} layout="vertical" margin={{ left: 24, right: 24, top: 8, bottom: 8 }}>
            <CartesianGrid strokeDasharray="3 3" stroke="var(--border)" />
            <XAxis type="number" {...axis} />
            <YAxis type="category" dataKey="feature" width={110} {...axis} />
            <Tooltip {...tooltip} formatter={(v) => fmt(Number(v), 3)} />
            <Bar dataKey="importance" fill={C.a} isAnimationActive={false}>
              <ErrorBar dataKey="err" width={4} stroke="var(--muted)" direction="x" />
            </Bar>
          </BarChart>
        </ResponsiveContainer>
      </div>
    </Card>
  );
}

function Performance({ m }: { m: Record<string, number | null> }) {
  const rows = [1, 32].map((b) => ({
    batch: b,
    p50: m[`latency_p50_ms_b${b}`],
    p95: m[`latency_p95_ms_b${b}`],
    p99: m[`latency_p99_ms_b${b}`],
    tput: m[`throughput_rows_s_b${b}`],
  }));
  return (
    <Card>
      <CardHeader title="Latency on this CPU" description={`Peak memory of the step process ${fmt(m.peak_memory_mb ?? null, 3)} MB`} />
      <table className="w-full text-sm" data-testid="performance-table">
        <thead className="bg-subtle text-left text-xs text-muted">
          <tr>
            <th className="px-4 py-2 font-medium">Batch</th>
            <th className="px-4 py-2 text-right font-medium">p50 ms</th>
            <th className="px-4 py-2 text-right font-medium">p95 ms</th>
            <th className="px-4 py-2 text-right font-medium">p99 ms</th>
            <th className="px-4 py-2 text-right font-medium">rows/s</th>
          </tr>
        </thead>
        <tbody className="divide-y divide-border">
          {rows.map((r) => (
            <tr key={r.batch}>
              <td className="px-4 py-1.5">{r.batch}</td>
              <td className="px-4 py-1.5 text-right font-mono text-xs">{fmt(r.p50 ?? null, 3)}</td>
              <td className="px-4 py-1.5 text-right font-mono text-xs">{fmt(r.p95 ?? null, 3)}</td>
              <td className="px-4 py-1.5 text-right font-mono text-xs">{fmt(r.p99 ?? null, 3)}</td>
              <td className="px-4 py-1.5 text-right font-mono text-xs">{fmt(r.tput ?? null, 3)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Card>
  );
}

function Comparison({
  o,
}: {
  o: {
    champion: string;
    tolerance: number;
    comparison: { metric: string; candidate: number | null; champion: number | null; delta: number | null; lowerIsBetter: boolean }[];
  };
}) {
  return (
    <Card>
      <CardHeader title={`Against the champion (${o.champion})`} description={`Fails on a regression beyond ${o.tolerance}`} />
      <table className="w-full text-sm" data-testid="champion-table">
        <thead className="bg-subtle text-left text-xs text-muted">
          <tr>
            <th className="px-4 py-2 font-medium">Metric</th>
            <th className="px-4 py-2 text-right font-medium">This version</th>
            <th className="px-4 py-2 text-right font-medium">Champion</th>
            <th className="px-4 py-2 text-right font-medium">Δ</th>
          </tr>
        </thead>
        <tbody className="divide-y divide-border">
          {o.comparison.map((c) => {
            const better = c.delta === null ? null : c.lowerIsBetter ? c.delta < 0 : c.delta > 0;
            return (
              <tr key={c.metric}>
                <td className="px-4 py-1.5 font-mono text-xs">{c.metric}</td>
                <td className="px-4 py-1.5 text-right font-mono text-xs">{fmt(c.candidate)}</td>
                <td className="px-4 py-1.5 text-right font-mono text-xs">{fmt(c.champion)}</td>
                <td
                  className={`px-4 py-1.5 text-right font-mono text-xs ${better === null ? "" : better ? "text-emerald-700 dark:text-emerald-400" : "text-red-600 dark:text-red-400"}`}
                >
                  {c.delta === null ? "—" : `${c.delta >= 0 ? "+" : ""}${fmt(c.delta)}`}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </Card>
  );
}

/** Every chart the run's steps produced; steps that did not run say why. */
export function ValidationReport({ steps, checks }: { steps: Step[]; checks: Check[] }) {
  const out = (type: string) =>
    steps.find((s) => s.type === type && (s.status === "passed" || s.status === "warned" || s.status === "failed") && s.outputs)?.outputs as
      Record<string, unknown> | undefined;
  const ev = out("evaluate") as
    | {
        confusion?: { labels: string[]; matrix: number[][] };
        roc?: Curve;
        pr?: Curve;
        calibration?: { predicted: number[]; observed: number[]; count: number[] };
        slices?: [];
      }
    | undefined;
  const fair = out("fairness");
  const rob = out("robustness");
  const exp = out("explain");
  const perf = out("performance") as { metrics?: Record<string, number | null> } | undefined;
  const champ = out("compare-to-champion");
  const notRun = steps.filter((s) => s.status === "skipped" || (s.status === "failed" && s.reason));
  return (
    <div className="space-y-6" data-testid="validation-report">
      <Card>
        <CardHeader title="Checks" description="Each figure against the threshold beside it" />
        <ChecksTable checks={checks} />
        {notRun.length > 0 && (
          <ul className="space-y-1 border-t border-border px-5 py-3 text-sm">
            {notRun.map((s) => (
              <li key={s.key}>
                <StatusBadge status={s.status} /> <span className="font-mono text-xs">{s.key}</span> — <span className="text-muted">{s.reason}</span>
              </li>
            ))}
          </ul>
        )}
      </Card>
      <div className="grid gap-6 lg:grid-cols-2">
        {ev?.confusion && <Confusion {...ev.confusion} />}
        {ev?.roc && <CurveChart title="ROC curve" curve={ev.roc} x="false positive rate" y="true positive rate" diagonal testId="roc-chart" />}
        {ev?.pr && <CurveChart title="Precision–recall curve" curve={ev.pr} x="recall" y="precision" testId="pr-chart" />}
        {ev?.calibration && <Calibration c={ev.calibration} />}
        {ev?.slices && <Slices slices={ev.slices} />}
        {fair && "groups" in fair && <Fairness o={fair as never} />}
        {rob && "results" in rob && <Robustness o={rob as never} />}
        {exp && "importance" in exp && <Importance o={exp as never} />}
        {perf?.metrics && <Performance m={perf.metrics} />}
        {champ && "comparison" in champ && <Comparison o={champ as never} />}
      </div>
    </div>
  );
}

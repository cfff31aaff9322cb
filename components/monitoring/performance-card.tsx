"use client";

import { useQuery } from "@tanstack/react-query";
import { Bar, BarChart, CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { useWorkspace } from "~/components/shell/workspace-context";
import { useTRPC } from "~/components/trpc/client";
import { Card, CardHeader } from "~/components/ui/card";
import { QueryWait, ready } from "~/components/ui/query-state";
import { COLORS } from "./monitoring-format";

/** Accuracy, F1 and AUC (or MAE/RMSE) per hour as labels arrive, with label coverage and shadow agreement. */
export function PerformanceCard({ name }: { name: string }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const q = useQuery(trpc.monitoring.performance.queryOptions({ workspaceId: workspace.id, name }));
  if (!ready(q)) return <QueryWait query={q} rows={3} />;
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
              <strong>Shadow vs primary</strong>: {((sh.reduce((a, x) => a + x.agreement * x.compared, 0) / compared) * 100).toFixed(1)}% agreement on{" "}
              {compared.toLocaleString()} requests
              {shadowMetric && labeledBoth > 0 && (
                <>
                  {" "}
                  · {shadowMetric === "accuracy" ? "accuracy" : "MAE"} {wavg("primary").toFixed(3)} (primary) vs {wavg("shadow").toFixed(3)} (shadow), Δ{" "}
                  {(wavg("shadow") - wavg("primary") >= 0 ? "+" : "") + (wavg("shadow") - wavg("primary")).toFixed(3)} on {labeledBoth.toLocaleString()}{" "}
                  labelled requests
                </>
              )}
            </p>
          )}
        </div>
      )}
    </Card>
  );
}

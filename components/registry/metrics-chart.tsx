"use client";

import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";

const COLORS = ["#6366f1", "#10b981", "#f59e0b", "#ef4444", "#0ea5e9", "#a855f7"];

/** Each metric across versions, oldest first. */
export function MetricsChart({ versions }: { versions: { version: number; metrics: Record<string, number> }[] }) {
  const names = [...new Set(versions.flatMap((v) => Object.keys(v.metrics)))].sort();
  const data = [...versions].sort((a, b) => a.version - b.version).map((v) => ({ version: `v${v.version}`, ...v.metrics }));
  if (names.length === 0) return <p className="px-5 py-8 text-center text-sm text-muted">No metrics recorded yet. Pass them when you register a version.</p>;
  return (
    <div className="h-64 px-2 py-4" data-testid="metrics-chart">
      <ResponsiveContainer width="100%" height="100%">
        <LineChart data={data} margin={{ left: 8, right: 24, top: 8, bottom: 8 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="var(--border)" />
          <XAxis dataKey="version" stroke="var(--muted)" fontSize={12} />
          <YAxis stroke="var(--muted)" fontSize={12} domain={["auto", "auto"]} />
          <Tooltip contentStyle={{ background: "var(--panel)", border: "1px solid var(--border)", fontSize: 12 }} />
          <Legend wrapperStyle={{ fontSize: 12 }} />
          {names.map((n, i) => (
            <Line key={n} type="monotone" dataKey={n} stroke={COLORS[i % COLORS.length]} strokeWidth={2} dot connectNulls isAnimationActive={false} />
          ))}
        </LineChart>
      </ResponsiveContainer>
    </div>
  );
}

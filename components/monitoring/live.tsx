"use client";

import { useQuery } from "@tanstack/react-query";
import { useEffect, useEffectEvent, useMemo, useState } from "react";
import type { Socket } from "socket.io-client";
import { Area, CartesianGrid, ComposedChart, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { useRealtimeStatus, useSocket } from "~/components/realtime/realtime-provider";
import { useWorkspace } from "~/components/shell/workspace-context";
import { useTRPC } from "~/components/trpc/client";
import { Badge } from "~/components/ui/badge";
import { Card, CardHeader } from "~/components/ui/card";
import { QueryWait, ready } from "~/components/ui/query-state";
import type { LiveTick } from "~/server/shared/rooms";
import type { Range } from "~/server/shared/monitoring.schema";
import { bucketQuantile, emptyBuckets } from "~/server/shared/latency";

/*
 * The live edge of a deployment's dashboard: per-second ticks of every inference replica
 * (pushed over socket.io, about a second behind), merged in the browser, for the last
 * three minutes; and the replicas' resource use now. The rollup charts below stay the
 * record for longer ranges.
 */

const WINDOW_S = 180;
const COLORS = ["#6366f1", "#f59e0b", "#10b981", "#ef4444", "#0ea5e9", "#a855f7"];

type Second = { requests: number; errors: number; buckets: number[]; runs: number; rows: number; maxRows: number };
type Replica = LiveTick["replica"] & { seenAt: number };

/*
 * The per-second ticks go only to sockets that ask for them (the workspace's live room), so
 * tabs on other pages are not sent a message a second. Several components of one tab may
 * watch at once: counted per socket; asked again after a reconnect (`ready`).
 */
const watching = new WeakMap<Socket, Map<string, number>>();
function useWatchLive(socket: Socket | null, workspaceId: string) {
  useEffect(() => {
    if (!socket) return;
    const counts = watching.get(socket) ?? new Map<string, number>();
    watching.set(socket, counts);
    counts.set(workspaceId, (counts.get(workspaceId) ?? 0) + 1);
    const watch = () => socket.emit("monitoring:watch", { workspaceId });
    watch();
    socket.on("ready", watch);
    return () => {
      socket.off("ready", watch);
      const n = (counts.get(workspaceId) ?? 1) - 1;
      if (n > 0) counts.set(workspaceId, n);
      else {
        counts.delete(workspaceId);
        socket.emit("monitoring:unwatch", { workspaceId });
      }
    };
  }, [socket, workspaceId]);
}

/** Every tick of the workspace, to `onTick` (the latest one given), while the component is mounted. */
function useTicks(onTick: (tick: LiveTick) => void) {
  const socket = useSocket();
  const { workspace } = useWorkspace();
  useWatchLive(socket, workspace.id);
  const handle = useEffectEvent((tick: LiveTick) => {
    if (tick.workspaceId === workspace.id) onTick(tick);
  });
  useEffect(() => {
    if (!socket) return;
    const listener = (tick: LiveTick) => handle(tick);
    socket.on("monitoring.live", listener);
    return () => {
      socket.off("monitoring.live", listener);
    };
  }, [socket]);
}

/** The time, once a second: live figures age even when no tick arrives. */
function useNow() {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(id);
  }, []);
  return now;
}

/** A deployment's traffic in a tick: primary and canary (the shadow's copies are not traffic). */
function trafficOf(d: LiveTick["deployments"][number] | undefined) {
  const out = { requests: 0, errors: 0, buckets: emptyBuckets() };
  for (const s of d?.series ?? []) {
    if (s.key.endsWith("shadow")) continue;
    out.requests += s.requests;
    out.errors += s.errors;
    s.buckets.forEach((c, i) => (out.buckets[i]! += c));
  }
  return out;
}

/** Ticks for one deployment, merged across replicas by second. */
export function useLiveTicks(deploymentId: string | undefined) {
  const [state, setState] = useState<{ seconds: Map<number, Second>; replicas: Map<string, Replica>; lastAt: number | null }>(() => ({
    seconds: new Map(),
    replicas: new Map(),
    lastAt: null,
  }));
  useTicks((tick) => {
    if (!deploymentId) return;
    const mine = tick.deployments.find((d) => d.id === deploymentId);
    const t = trafficOf(mine);
    setState((prev) => {
      const seconds = new Map(prev.seconds);
      for (const k of seconds.keys()) if (k < tick.t - WINDOW_S * 1000) seconds.delete(k);
      const s = seconds.get(tick.t);
      seconds.set(tick.t, {
        requests: (s?.requests ?? 0) + t.requests,
        errors: (s?.errors ?? 0) + t.errors,
        buckets: t.buckets.map((c, i) => c + (s?.buckets[i] ?? 0)),
        runs: (s?.runs ?? 0) + (mine?.runs ?? 0),
        rows: (s?.rows ?? 0) + (mine?.rows ?? 0),
        maxRows: Math.max(s?.maxRows ?? 0, mine?.maxRows ?? 0),
      });
      const replicas = new Map(prev.replicas).set(tick.replica.id, { ...tick.replica, seenAt: Date.now() });
      return { seconds, replicas, lastAt: Date.now() };
    });
  });
  return state;
}

/** Requests/s and errors of every deployment of the workspace over the last 5 seconds, live. */
export function useLiveRates() {
  const [seconds, setSeconds] = useState<Map<string, Map<number, { requests: number; errors: number }>>>(() => new Map());
  const now = useNow();
  useTicks((tick) =>
    setSeconds((prev) => {
      const next = new Map(prev);
      for (const d of tick.deployments) {
        const byT = new Map(next.get(d.id) ?? []);
        for (const t of byT.keys()) if (t < tick.t - 10_000) byT.delete(t);
        const s = byT.get(tick.t);
        const t = trafficOf(d);
        byT.set(tick.t, { requests: (s?.requests ?? 0) + t.requests, errors: (s?.errors ?? 0) + t.errors });
        next.set(d.id, byT);
      }
      return next;
    }),
  );
  const rates = new Map<string, { rps: number; errorRate: number }>();
  for (const [id, byT] of seconds) {
    // The five complete seconds before now.
    const window = [...byT].filter(([t]) => t >= now - 6000 && t < now - 1000);
    const requests = window.reduce((a, [, s]) => a + s.requests, 0);
    const errors = window.reduce((a, [, s]) => a + s.errors, 0);
    // Right after the page opened fewer than five seconds have been seen: divide by those.
    const seen = Math.min(5, Math.max(1, Math.round((now - 1000 - Math.min(...byT.keys())) / 1000)));
    rates.set(id, { rps: requests / seen, errorRate: requests ? errors / requests : 0 });
  }
  return rates;
}

const fmtMs = (x: number | null) => (x === null ? "—" : `${x.toFixed(x < 10 ? 1 : 0)} ms`);
/** Clock time with hours (hh:mm:ss, 24-hour), so a second never reads as minutes:seconds of a clock. */
const fmtTime = (t: number) => new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });

function Stat({ label, value, testId }: { label: string; value: string; testId?: string }) {
  return (
    <div className="rounded-md border border-border px-3 py-2">
      <div className="text-xs text-muted">{label}</div>
      <div className="text-lg font-semibold tabular-nums" data-testid={testId}>
        {value}
      </div>
    </div>
  );
}

/** Requests/s, errors and latency per second, and every replica's CPU, memory and in-flight requests, live. */
export function LiveCard({ deploymentId }: { deploymentId: string | undefined }) {
  const status = useRealtimeStatus();
  const { seconds, replicas, lastAt } = useLiveTicks(deploymentId);
  const now = useNow();
  const sorted = useMemo(() => [...seconds.entries()].sort((a, b) => a[0] - b[0]), [seconds]);
  const data = sorted.map(([t, s]) => ({ t, label: fmtTime(t), "req/s": s.requests, errors: s.errors, p99: bucketQuantile(s.buckets, 0.99) }));
  // The last 5 complete seconds for the headline figures.
  const recent = sorted.slice(-6, -1).length ? sorted.slice(-6, -1) : sorted.slice(-1);
  const sum = (f: (s: Second) => number) => recent.reduce((a, [, s]) => a + f(s), 0);
  const rps = recent.length ? sum((s) => s.requests) / recent.length : 0;
  const errRate = sum((s) => s.requests) ? sum((s) => s.errors) / sum((s) => s.requests) : 0;
  const merged = emptyBuckets();
  for (const [, s] of recent) s.buckets.forEach((c, i) => (merged[i]! += c));
  const runs = sum((s) => s.runs);
  const live = [...replicas.values()].filter((r) => now - r.seenAt < 5000);
  const stale = lastAt === null || now - lastAt > 5000;
  return (
    <Card>
      <CardHeader
        title="Live"
        description={`Per second, pushed by the inference replicas · last ${WINDOW_S / 60} minutes · clock time (hh:mm:ss)`}
        actions={
          status !== "live" ? (
            <Badge tone="stale">{status === "connecting" ? "connecting…" : "offline"}</Badge>
          ) : stale ? (
            <Badge tone="stale">no traffic</Badge>
          ) : (
            <Badge tone="passing">
              <span className="mr-1 inline-block size-1.5 animate-pulse rounded-full bg-current" aria-hidden /> live
            </Badge>
          )
        }
      />
      <div className="grid grid-cols-2 gap-3 px-5 pt-4 sm:grid-cols-3 lg:grid-cols-6" data-testid="live-stats">
        <Stat label="requests/s" value={rps.toFixed(1)} testId="live-rps" />
        <Stat label="errors" value={`${(errRate * 100).toFixed(1)}%`} />
        <Stat label="p50 · p99" value={`${fmtMs(bucketQuantile(merged, 0.5))} · ${fmtMs(bucketQuantile(merged, 0.99))}`} />
        <Stat label="rows per run" value={runs ? (sum((s) => s.rows) / runs).toFixed(1) : "—"} />
        <Stat label="in flight" value={String(live.reduce((a, r) => a + r.inFlight, 0))} />
        <Stat label="replicas" value={String(live.length)} testId="live-replicas" />
      </div>
      {data.length === 0 ? (
        <p className="px-5 py-6 text-sm text-muted">
          {status === "live" ? "Waiting for traffic: the replicas push a tick every second while this deployment serves." : "Connecting to the live feed…"}
        </p>
      ) : (
        <div className="grid gap-4 px-2 py-3 lg:grid-cols-2">
          <div className="h-48" data-testid="live-chart" data-points={data.length}>
            <ResponsiveContainer width="100%" height="100%">
              <ComposedChart data={data}>
                <CartesianGrid strokeDasharray="3 3" stroke="var(--color-border)" />
                <XAxis dataKey="label" tick={{ fontSize: 10 }} minTickGap={30} />
                <YAxis yAxisId="rps" tick={{ fontSize: 10 }} width={40} />
                <YAxis yAxisId="ms" orientation="right" tick={{ fontSize: 10 }} unit=" ms" width={56} />
                <Tooltip />
                <Legend wrapperStyle={{ fontSize: 10 }} />
                <Area yAxisId="rps" dataKey="req/s" stroke={COLORS[0]} fill={COLORS[0]} fillOpacity={0.15} isAnimationActive={false} />
                <Area yAxisId="rps" dataKey="errors" stroke={COLORS[3]} fill={COLORS[3]} fillOpacity={0.3} isAnimationActive={false} />
                <Line yAxisId="ms" dataKey="p99" stroke={COLORS[1]} dot={false} isAnimationActive={false} connectNulls />
              </ComposedChart>
            </ResponsiveContainer>
          </div>
          <div className="overflow-x-auto">
            <table className="w-full text-sm" data-testid="live-replicas-table">
              <thead className="text-left text-xs text-muted">
                <tr>
                  <th className="px-3 py-1.5 font-medium">Replica</th>
                  <th className="px-3 py-1.5 text-right font-medium">CPU</th>
                  <th className="px-3 py-1.5 text-right font-medium">memory</th>
                  <th className="px-3 py-1.5 text-right font-medium">in flight</th>
                  <th className="px-3 py-1.5 text-right font-medium">loop lag p99</th>
                  <th className="px-3 py-1.5 text-right font-medium">prediction log</th>
                </tr>
              </thead>
              <tbody className="divide-y divide-border">
                {[...replicas.values()].map((r) => (
                  <tr key={r.id} className={now - r.seenAt > 5000 ? "text-muted" : ""}>
                    <td className="px-3 py-1.5 font-mono text-xs">
                      {r.id}
                      {now - r.seenAt > 5000 && <span className="ml-1 font-sans">(silent {Math.round((now - r.seenAt) / 1000)} s)</span>}
                    </td>
                    <td className="px-3 py-1.5 text-right tabular-nums">{r.cpuPct.toFixed(0)}%</td>
                    <td className="px-3 py-1.5 text-right tabular-nums">{(r.rssBytes / 2 ** 20).toFixed(0)} MB</td>
                    <td
                      className="px-3 py-1.5 text-right tabular-nums"
                      title={`${r.inFlight} request(s) being answered; ${r.inFlightRuns} onnxruntime run(s) on the inference threads`}
                    >
                      {r.inFlight}
                      <span className="text-xs text-muted"> · {r.inFlightRuns} running</span>
                    </td>
                    <td className="px-3 py-1.5 text-right tabular-nums">{r.loopLagMs.toFixed(1)} ms</td>
                    <td
                      className="px-3 py-1.5 text-right tabular-nums"
                      title="Records written since the replica started; waiting ones are held while the database is away, dropped ones did not fit the buffer (PREDICTION_LOG_BUFFER)."
                    >
                      {r.log ? (
                        <>
                          {r.log.buffered.toLocaleString("en")} waiting
                          <span className={r.log.dropped ? "text-danger" : "text-xs text-muted"}> · {r.log.dropped.toLocaleString("en")} dropped</span>
                        </>
                      ) : (
                        "—"
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            <p className="px-3 pt-2 text-xs text-muted">CPU in % of one core for the whole replica (HTTP thread and inference threads).</p>
          </div>
        </div>
      )}
    </Card>
  );
}

/** CPU, memory and in-flight requests of the replicas that served the deployment, and its batch sizes, over the range. */
export function ResourcesCard({ name, range }: { name: string; range: Range }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const q = useQuery({ ...trpc.monitoring.resources.queryOptions({ workspaceId: workspace.id, name, range }), refetchInterval: 60_000 });
  if (!ready(q)) return <QueryWait query={q} rows={3} />;
  const label = (t: number) =>
    new Date(t).toLocaleString([], q.data.stepMinutes >= 60 ? { day: "2-digit", hour: "2-digit", minute: "2-digit" } : { hour: "2-digit", minute: "2-digit" });
  const rows = new Map<number, Record<string, number | string>>();
  for (const r of q.data.replicas)
    for (const p of r.points) {
      const row = rows.get(p.t) ?? { t: p.t, label: label(p.t) };
      row[`${r.replica} CPU`] = +p.cpuPct.toFixed(1);
      row[`${r.replica} MB`] = +p.rssMb.toFixed(0);
      row[`${r.replica} in flight`] = +p.inFlightMax;
      rows.set(p.t, row);
    }
  const replicaData = [...rows.values()].sort((a, b) => Number(a.t) - Number(b.t));
  const batchData = q.data.batches.map((b) => ({ label: label(b.t), "mean rows/run": +b.meanRows.toFixed(2), "max rows/run": b.maxRows }));
  const charts = [
    { title: "CPU (% of a core)", suffix: "CPU", data: replicaData, unit: "%" },
    { title: "Memory (RSS)", suffix: "MB", data: replicaData, unit: " MB" },
    { title: "In flight (max per step)", suffix: "in flight", data: replicaData, unit: "" },
  ];
  return (
    <Card>
      <CardHeader
        title="Resource use"
        description={`Inference replicas that served this deployment, per ${q.data.stepMinutes}-minute step, beside its batch sizes`}
      />
      {replicaData.length === 0 && batchData.length === 0 ? (
        <p className="px-5 py-4 text-sm text-muted">
          No replica has served this deployment in this range yet. Replicas write their figures once a minute; the live card above shows them as they happen.
        </p>
      ) : (
        <div className="grid gap-4 px-2 py-3 md:grid-cols-2 xl:grid-cols-4" data-testid="resource-charts">
          {charts.map((c) => (
            <div key={c.title}>
              <div className="px-3 text-xs font-medium text-muted">{c.title}</div>
              <div className="h-40">
                <ResponsiveContainer width="100%" height="100%">
                  <LineChart data={c.data}>
                    <CartesianGrid strokeDasharray="3 3" stroke="var(--color-border)" />
                    <XAxis dataKey="label" tick={{ fontSize: 9 }} minTickGap={24} />
                    <YAxis tick={{ fontSize: 9 }} unit={c.unit} width={52} />
                    <Tooltip />
                    {q.data.replicas.map((r, i) => (
                      <Line
                        key={r.replica}
                        dataKey={`${r.replica} ${c.suffix}`}
                        name={r.replica}
                        stroke={COLORS[i % COLORS.length]}
                        dot={false}
                        isAnimationActive={false}
                      />
                    ))}
                  </LineChart>
                </ResponsiveContainer>
              </div>
            </div>
          ))}
          <div>
            <div className="px-3 text-xs font-medium text-muted">Batch sizes (rows per onnxruntime run)</div>
            <div className="h-40">
              <ResponsiveContainer width="100%" height="100%">
                <LineChart data={batchData}>
                  <CartesianGrid strokeDasharray="3 3" stroke="var(--color-border)" />
                  <XAxis dataKey="label" tick={{ fontSize: 9 }} minTickGap={24} />
                  <YAxis tick={{ fontSize: 9 }} width={40} />
                  <Tooltip />
                  <Line dataKey="mean rows/run" stroke={COLORS[2]} dot={false} isAnimationActive={false} />
                  <Line dataKey="max rows/run" stroke={COLORS[4]} dot={false} isAnimationActive={false} />
                </LineChart>
              </ResponsiveContainer>
            </div>
          </div>
        </div>
      )}
    </Card>
  );
}

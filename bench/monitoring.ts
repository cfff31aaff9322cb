/* ---------------------------------------------------------------------------
 * bench/monitoring: the monitoring path beside its baselines, in one run.
 *   npm run bench:monitoring [-- --records 50000 --rounds 3]
 * 1. prediction-log ingest through the logger (bounded buffer → COPY batches) vs a raw
 *    COPY of the same rows, records/s; and what push() adds on the request path;
 * 2. drift of a window of 100k rows × 50 numeric features with the full statistics vs
 *    plain typed-array kernels (histogram + PSI), and PSI/JS from pre-built histograms.
 * 3. fan-out of dashboard updates (LiveTick-sized messages) to many browsers: socket.io
 *    vs raw `ws`, deliveries/s; and the live path as the product runs it (inference's
 *    emitter → Postgres NOTIFY → the socket.io Postgres adapter → the browser), latency.
 * 4. the KS test at the worker's window sizes (exact up to 10,000 per side, as SciPy's auto);
 * 5. anomaly rules over a normal simulated week: false alerts per sensitivity.
 * Uses DATABASE_URL (local only) or a throwaway embedded PostgreSQL.
 * ------------------------------------------------------------------------- */
import { randomUUID } from "node:crypto";
import type { Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import { benchEnv } from "./lib/env";

const { values } = parseArgs({
  options: {
    records: { type: "string", default: "50000" },
    rounds: { type: "string", default: "3" },
    clients: { type: "string", default: "200" },
    messages: { type: "string", default: "200" },
  },
});
const N = Number(values.records);
const ROUNDS = Number(values.rounds);
const bench = await benchEnv("monitoring");

const { getSql, closeDb } = await import("../db/client");
const { PredictionLog, encodeRows } = await import("../workers/inference/prediction-log");
const { numericDrift, numericEdges, histogram, psi, jensenShannon } = await import("../server/monitoring/drift");
const { percentile } = await import("../server/pipelines/metrics");

const f = (n: number, d = 0) => n.toLocaleString("en", { maximumFractionDigits: d, minimumFractionDigits: d });
const median = (xs: number[]) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    0.5,
  );
const summary: string[] = [];
console.log(`bench/monitoring: ${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"} · Node ${process.version} · ${f(N)} records · ${ROUNDS} rounds`);

// ---- 1. ingest ------------------------------------------------------------------
const ws = randomUUID();
const dep = randomUUID();
const mv = randomUUID();
const rows = Array.from({ length: N }, (_, i) => ({
  at: new Date(),
  requestId: randomUUID(),
  workspaceId: ws,
  deploymentId: dep,
  modelVersionId: mv,
  role: "primary" as const,
  status: "ok" as const,
  latencyMs: 1 + (i % 7),
  rows: 1,
  inputs: { instances: [{ age: 20 + (i % 50), income_k: 30 + (i % 90) / 3, debt_ratio: (i % 100) / 100 }] },
  outputs: { probability: [[0.3]], label: [[0]] },
}));
// The floor: the same rows, encoded for COPY before the clock starts.
const encoded = encodeRows(rows);
const sql = getSql();
const logger: number[] = [];
const copy: number[] = [];
const pushLat: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  await sql`delete from prediction_logs where deployment_id = ${dep}`;
  // Raw COPY of pre-encoded rows: the floor.
  let t = performance.now();
  const sink =
    await sql`copy prediction_logs (at, request_id, workspace_id, deployment_id, model_version_id, role, status, latency_ms, rows, inputs, outputs, error) from stdin`.writable();
  await pipeline(Readable.from([encoded]), sink);
  copy.push(N / ((performance.now() - t) / 1000));
  await sql`delete from prediction_logs where deployment_id = ${dep}`;
  // Through the logger, as the inference server does it: push per request, flush in the background.
  const log = new PredictionLog(N + 10, 500);
  t = performance.now();
  for (const r of rows) {
    const s = performance.now();
    log.push(r);
    pushLat.push(performance.now() - s);
  }
  await log.close();
  logger.push(N / ((performance.now() - t) / 1000));
  if (log.written !== N) throw new Error(`the logger wrote ${log.written} of ${N}`);
}
const ratio = median(logger) / median(copy);
const pushP99 = percentile(
  pushLat.sort((a, b) => a - b),
  0.99,
);
console.log(`\n1. ingest, records/s: logger ${f(median(logger))} · raw COPY ${f(median(copy))} · ratio ${ratio.toFixed(2)} (aim ≥ 0.5)`);
console.log(`   push() on the request path: p99 ${f(pushP99 * 1000, 1)} µs (aim: ≤ 0.2 ms added to predict p99)`);
summary.push(`prediction-log ingest, logger vs raw COPY (records/s)|${f(median(logger))} vs ${f(median(copy))} (${ratio.toFixed(2)})|≥ 0.5`);
summary.push(`push() on the request path, p99|${f(pushP99 * 1000, 1)} µs|≤ 0.2 ms`);
await sql`delete from prediction_logs where deployment_id = ${dep}`;

// ---- 2. drift ---------------------------------------------------------------------
const ROWS = 100_000;
const FEATURES = 50;
let s = 42;
const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648), s / 2147483648);
const refCols = Array.from({ length: FEATURES }, () => Float64Array.from({ length: ROWS }, () => rnd() * 100));
const curCols = Array.from({ length: FEATURES }, (_, j) => Float64Array.from({ length: ROWS }, () => rnd() * 100 + (j % 5 === 0 ? 10 : 0)));
/** The baseline: reference deciles by sorting, counts by binary search, PSI — nothing else. */
function plainPsi(ref: Float64Array, cur: Float64Array) {
  const sorted = Float64Array.from(ref).sort();
  const edges = new Float64Array(9);
  for (let i = 1; i < 10; i++) edges[i - 1] = sorted[Math.floor((i / 10) * (sorted.length - 1))]!;
  const count = (v: Float64Array) => {
    const c = new Float64Array(10);
    for (let i = 0; i < v.length; i++) {
      let lo = 0;
      let hi = 9;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (edges[mid]! < v[i]!) lo = mid + 1;
        else hi = mid;
      }
      c[lo]!++;
    }
    return c;
  };
  const r = count(ref);
  const c = count(cur);
  let p = 0;
  for (let i = 0; i < 10; i++) {
    const a = Math.max(r[i]! / ref.length, 1e-4);
    const b = Math.max(c[i]! / cur.length, 1e-4);
    p += (b - a) * Math.log(b / a);
  }
  return p;
}
const full: number[] = [];
const ours: number[] = [];
const plain: number[] = [];
const fromHist: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  let t = performance.now();
  for (let j = 0; j < FEATURES; j++) plainPsi(refCols[j]!, curCols[j]!);
  plain.push(performance.now() - t);
  t = performance.now();
  for (let j = 0; j < FEATURES; j++) {
    const e = numericEdges(refCols[j]!);
    psi(histogram(refCols[j]!, e), histogram(curCols[j]!, e));
  }
  ours.push(performance.now() - t);
  t = performance.now();
  for (let j = 0; j < FEATURES; j++) numericDrift(`f${j}`, refCols[j]!, curCols[j]!);
  full.push(performance.now() - t);
  const hists = refCols.map((r, j) => {
    const e = numericEdges(r);
    return [histogram(r, e), histogram(curCols[j]!, e)] as const;
  });
  t = performance.now();
  for (const [r, c] of hists) {
    psi(r, c);
    jensenShannon(r, c);
  }
  fromHist.push(performance.now() - t);
}
const r2 = median(plain) / median(ours);
console.log(
  `\n2. drift of ${f(ROWS)} rows × ${FEATURES} numeric features, PSI: our binning and PSI ${f(median(ours))} ms · plain typed-array kernel ${f(median(plain))} ms · speed ratio ${r2.toFixed(2)} (aim ≥ 0.8)`,
);
console.log(`   everything (PSI, JS, KS, Wasserstein, explanation): ${f(median(full))} ms`);
console.log(`   PSI + JS for all ${FEATURES} features from pre-built histograms: ${f(median(fromHist), 3)} ms (aim ≤ 50 ms)`);
summary.push(`drift 100k × 50, our PSI vs a plain typed-array kernel (ms)|${f(median(ours))} vs ${f(median(plain))} (${r2.toFixed(2)})|≥ 0.8`);
summary.push(`drift 100k × 50, all statistics and explanations|${f(median(full))} ms|—`);
summary.push(`PSI + JS for 50 features from pre-built histograms|${f(median(fromHist), 3)} ms|≤ 50 ms`);

// ---- 3. fan-out -----------------------------------------------------------------------
{
  const { createServer } = await import("node:http");
  const { Server } = await import("socket.io");
  const { io: ioClient } = await import("socket.io-client");
  const { WebSocketServer, WebSocket } = await import("ws");
  const { createAdapter } = await import("@socket.io/postgres-adapter");
  const pg = (await import("pg")).default;
  const { postgresEmitter } = await import("../server/realtime/pg-emitter");
  const CLIENTS = Number(values.clients);
  const MESSAGES = Number(values.messages);
  const room = "workspace:bench";
  // A tick of one replica with two busy deployments, as the inference server sends it.
  const tick = (t: number) => ({
    workspaceId: "bench",
    t,
    replica: { id: "bench:1", cpuPct: 87.5, rssBytes: 312_000_000, heapBytes: 90_000_000, inFlight: 12, inFlightRuns: 2, loopLagMs: 1.2 },
    deployments: [0, 1].map((k) => ({
      id: `d${k}`,
      series: [
        { key: "v3 primary", requests: 480, errors: 1, buckets: [10, 120, 250, 80, 15, 4, 1, 0, 0, 0, 0, 0] },
        { key: "v4 canary", requests: 52, errors: 0, buckets: [1, 12, 27, 9, 2, 1, 0, 0, 0, 0, 0, 0] },
      ],
      runs: 61,
      rows: 532,
      maxRows: 32,
    })),
  });
  const listen = (server: HttpServer) => new Promise<number>((r) => server.listen(0, "127.0.0.1", () => r((server.address() as AddressInfo).port)));
  /** Resolves when every client has `expected` messages; returns the seconds from the first send. */
  const waitAll = (counts: number[], expected: number, t0: number) =>
    new Promise<number>((resolve) => {
      const check = () => (counts.every((c) => c >= expected) ? resolve((performance.now() - t0) / 1000) : setImmediate(check));
      check();
    });

  async function socketIoRound() {
    const http = createServer();
    const io = new Server(http, { transports: ["websocket"] });
    io.on("connection", (s) => void s.join(room));
    const port = await listen(http);
    const counts = new Array<number>(CLIENTS).fill(0);
    const clients = await Promise.all(
      counts.map(
        (_, i) =>
          new Promise<ReturnType<typeof ioClient>>((resolve) => {
            const c = ioClient(`http://127.0.0.1:${port}`, { transports: ["websocket"], forceNew: true });
            c.on("monitoring.live", () => counts[i]!++);
            c.on("connect", () => resolve(c));
          }),
      ),
    );
    while ((await io.in(room).fetchSockets()).length < CLIENTS) await new Promise((r) => setTimeout(r, 10));
    const t0 = performance.now();
    for (let m = 0; m < MESSAGES; m++) io.to(room).emit("monitoring.live", tick(m));
    const seconds = await waitAll(counts, MESSAGES, t0);
    clients.forEach((c) => c.close());
    await new Promise<void>((r) => void io.close(() => r()));
    return (CLIENTS * MESSAGES) / seconds;
  }

  async function wsRound() {
    const http = createServer();
    const wss = new WebSocketServer({ server: http });
    const port = await listen(http);
    const counts = new Array<number>(CLIENTS).fill(0);
    const clients = await Promise.all(
      counts.map(
        (_, i) =>
          new Promise<InstanceType<typeof WebSocket>>((resolve) => {
            const c = new WebSocket(`ws://127.0.0.1:${port}`);
            // The same work a browser does with a socket.io packet: parse the event and its payload.
            c.on("message", (data: Buffer) => {
              JSON.parse(data.toString("utf8"));
              counts[i]!++;
            });
            c.on("open", () => resolve(c));
          }),
      ),
    );
    while (wss.clients.size < CLIENTS) await new Promise((r) => setTimeout(r, 10));
    const t0 = performance.now();
    for (let m = 0; m < MESSAGES; m++) {
      const text = JSON.stringify(["monitoring.live", tick(m)]);
      for (const c of wss.clients) c.send(text);
    }
    const seconds = await waitAll(counts, MESSAGES, t0);
    clients.forEach((c) => c.close());
    await new Promise<void>((r) => wss.close(() => r()));
    http.close();
    return (CLIENTS * MESSAGES) / seconds;
  }

  const sio: number[] = [];
  const raw: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    raw.push(await wsRound());
    sio.push(await socketIoRound());
  }
  const r3 = median(sio) / median(raw);
  console.log(
    `\n3. fan-out of ${MESSAGES} live ticks to ${CLIENTS} clients, deliveries/s: socket.io ${f(median(sio))} · raw ws ${f(median(raw))} · ratio ${r3.toFixed(2)} (aim ≥ 0.85)`,
  );
  summary.push(
    `fan-out of live ticks to ${CLIENTS} clients, socket.io vs raw ws (deliveries/s)|${f(median(sio))} vs ${f(median(raw))} (${r3.toFixed(2)})|≥ 0.85`,
  );

  // The live path as it runs: emitter → NOTIFY → Postgres adapter → socket → client; latency per tick.
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
  await pool.query("create table if not exists socket_io_attachments (id bigserial unique, created_at timestamptz default now(), payload bytea)");
  const http = createServer();
  const io = new Server(http, { transports: ["websocket"], adapter: createAdapter(pool, { tableName: "socket_io_attachments" }) });
  io.on("connection", (s) => void s.join(room));
  const port = await listen(http);
  const lat: number[] = [];
  let waiting: ((t: number) => void) | null = null;
  const client = await new Promise<ReturnType<typeof ioClient>>((resolve) => {
    const c = ioClient(`http://127.0.0.1:${port}`, { transports: ["websocket"], forceNew: true });
    c.on("monitoring.live", (p: { t: number }) => waiting?.(p.t));
    c.on("connect", () => resolve(c));
  });
  while ((await io.in(room).fetchSockets()).length < 1) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 200)); // the adapter's LISTEN is in place
  for (let m = 0; m < 200; m++) {
    const got = new Promise<number>((resolve) => (waiting = resolve));
    const t0 = performance.now();
    postgresEmitter.to(room).emit("monitoring.live", tick(m));
    await got;
    lat.push(performance.now() - t0);
  }
  client.close();
  await new Promise<void>((r) => void io.close(() => r()));
  await pool.end();
  lat.sort((a, b) => a - b);
  console.log(
    `   one tick through Postgres NOTIFY and the socket.io adapter to a client: p50 ${f(percentile(lat, 0.5), 2)} ms · p99 ${f(percentile(lat, 0.99), 2)} ms (dashboards: at most a second behind)`,
  );
  summary.push(
    `live tick, inference emitter → NOTIFY → adapter → client (p50 / p99)|${f(percentile(lat, 0.5), 2)} / ${f(percentile(lat, 0.99), 2)} ms|≤ 1 s behind`,
  );
}

// ---- 4. exact KS at the worker's sizes -------------------------------------------------
{
  const { ksTest } = await import("../server/monitoring/drift");
  const { MAX_REFERENCE } = await import("../workers/worker/monitoring/drift-job");
  let s = 11;
  const rand = () => ((s = (s * 1664525 + 1013904223) >>> 0), s / 2 ** 32);
  const sample = (n: number, shift = 0) => Float64Array.from({ length: n }, () => rand() + shift);
  // A dataset reference is a 100k-row sample (asymptotic with SciPy's correction); a window
  // reference and small windows take the exact distribution (both sides ≤ 10,000).
  const sizes: [number, number][] = [
    [MAX_REFERENCE, 20_000],
    [10_000, 10_000],
    [10_000, 500],
    [2_000, 2_000],
    [200, 200],
  ];
  console.log(`\n4. KS test per feature at the worker's window sizes (median of ${ROUNDS}):`);
  for (const [n, m] of sizes) {
    const a = sample(n);
    const b = sample(m, 0.01);
    const times: number[] = [];
    let method = "";
    for (let round = 0; round < ROUNDS; round++) {
      const t = performance.now();
      method = ksTest(a, b).method;
      times.push(performance.now() - t);
    }
    const per = median(times);
    console.log(`   ${f(n)} vs ${f(m)}: ${f(per, 2)} ms (${method}) · 50 features ${f(per * 50)} ms`);
    summary.push(`KS ${f(n)} vs ${f(m)} (${method}), 50 features|${f(per * 50)} ms|≤ 10 s (a drift slot is 10 min)`);
  }
}

// ---- 5. anomaly rules: false alerts over a normal week ----------------------------------
{
  const { createWorkspace } = await import("../db/seed/factories");
  const { seedCreditDemo } = await import("../db/seed/credit-demo");
  const { seedSyntheticRollups } = await import("../db/seed/synthetic-rollups");
  const { anomalyVerdicts } = await import("../server/monitoring/anomaly");
  const { ANOMALY_METRICS, SENSITIVITY_NAMES } = await import("../server/shared/anomaly");
  const { deployments } = await import("../db/schema");
  const { eq } = await import("drizzle-orm");
  const { getDb } = await import("../db/client");
  const { workspace, owner } = await createWorkspace();
  await seedCreditDemo(owner.wsActor);
  const [d] = await getDb().select().from(deployments).where(eq(deployments.workspaceId, workspace.id));
  const now = Math.floor(Date.now() / 60_000) * 60_000;
  await seedSyntheticRollups(d!, now, 28);
  const rules = SENSITIVITY_NAMES.flatMap((sensitivity) => ANOMALY_METRICS.map((metric) => ({ metric, sensitivity })));
  const alarms = new Map<string, number>(SENSITIVITY_NAMES.map((k) => [k, 0]));
  let judged = 0;
  const t0 = performance.now();
  // Every 10-minute window of the last week, every series, every sensitivity.
  for (let t = now - 7 * 86_400_000; t < now; t += 10 * 60_000) {
    const verdicts = await anomalyVerdicts(d!.id, 10, rules, new Date(t), d!.name);
    verdicts.forEach((v, i) => {
      if (v.status !== "ok") return;
      judged++;
      if (v.firing) alarms.set(rules[i]!.sensitivity, alarms.get(rules[i]!.sensitivity)! + 1);
    });
  }
  const ms = (performance.now() - t0) / (7 * 144);
  const counts = SENSITIVITY_NAMES.map((k) => `${k} ${alarms.get(k)}`).join(" · ");
  console.log(
    `\n5. anomaly rules over a normal simulated week (${f(judged)} judgements of 10-minute windows): false alerts ${counts}; ${f(ms, 1)} ms per evaluation of 15 rules`,
  );
  summary.push(`anomaly rules, false alerts over a normal week (${f(judged / 3)} judgements per sensitivity)|${counts}|0 at medium`);
}

console.log("\nMarkdown (docs/PERFORMANCE.md):\n| measured | figure | aim |\n|---|---|---|");
for (const x of summary) console.log(`| ${x.split("|").join(" | ")} |`);
await closeDb();
await bench.done();

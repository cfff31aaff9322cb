/* ---------------------------------------------------------------------------
 * bench/monitoring: the monitoring path beside its baselines, in one run.
 *   npm run bench:monitoring [-- --records 50000 --rounds 3]
 * 1. prediction-log ingest through the logger (bounded buffer → COPY batches) vs a raw
 *    COPY of the same rows, records/s; and what push() adds on the request path;
 * 2. drift of a window of 100k rows × 50 numeric features with the full statistics vs
 *    plain typed-array kernels (histogram + PSI), and PSI/JS from pre-built histograms.
 * Uses DATABASE_URL (local only) or a throwaway embedded PostgreSQL.
 * ------------------------------------------------------------------------- */
import { randomUUID } from "node:crypto";
import os from "node:os";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import { benchEnv } from "./lib/env";

const { values } = parseArgs({ options: { records: { type: "string", default: "50000" }, rounds: { type: "string", default: "3" } } });
const N = Number(values.records);
const ROUNDS = Number(values.rounds);
const bench = await benchEnv("monitoring");

const { getSql, closeDb } = await import("../db/client");
const { PredictionLog } = await import("../workers/inference/prediction-log");
const { numericDrift, numericEdges, histogram, psi, jensenShannon } = await import("../server/monitoring/drift");
const { percentile } = await import("../server/pipelines/metrics");

const f = (n: number, d = 0) => n.toLocaleString("en", { maximumFractionDigits: d, minimumFractionDigits: d });
const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 0.5);
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
const csv = (v: string) => `"${v.replaceAll('"', '""')}"`;
const encoded = rows.map((r) => `${r.at.toISOString()},${csv(r.requestId)},${r.workspaceId},${r.deploymentId},${r.modelVersionId},${r.role},${r.status},${r.latencyMs},${r.rows},${csv(JSON.stringify(r.inputs))},${csv(JSON.stringify(r.outputs))},\n`).join("");
const sql = getSql();
const logger: number[] = [];
const copy: number[] = [];
const pushLat: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  await sql`delete from prediction_logs where deployment_id = ${dep}`;
  // Raw COPY of pre-encoded rows: the floor.
  let t = performance.now();
  const sink = await sql`copy prediction_logs (at, request_id, workspace_id, deployment_id, model_version_id, role, status, latency_ms, rows, inputs, outputs, error) from stdin with (format csv)`.writable();
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
const pushP99 = percentile(pushLat.sort((a, b) => a - b), 0.99);
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
console.log(`\n2. drift of ${f(ROWS)} rows × ${FEATURES} numeric features, PSI: our binning and PSI ${f(median(ours))} ms · plain typed-array kernel ${f(median(plain))} ms · speed ratio ${r2.toFixed(2)} (aim ≥ 0.8)`);
console.log(`   everything (PSI, JS, KS, Wasserstein, explanation): ${f(median(full))} ms`);
console.log(`   PSI + JS for all ${FEATURES} features from pre-built histograms: ${f(median(fromHist), 3)} ms (aim ≤ 50 ms)`);
summary.push(`drift 100k × 50, our PSI vs a plain typed-array kernel (ms)|${f(median(ours))} vs ${f(median(plain))} (${r2.toFixed(2)})|≥ 0.8`);
summary.push(`drift 100k × 50, all statistics and explanations|${f(median(full))} ms|—`);
summary.push(`PSI + JS for 50 features from pre-built histograms|${f(median(fromHist), 3)} ms|≤ 50 ms`);

console.log("\nMarkdown (docs/PERFORMANCE.md):\n| measured | figure | aim |\n|---|---|---|");
for (const x of summary) console.log(`| ${x.split("|").join(" | ")} |`);
await closeDb();
await bench.done();

/* ---------------------------------------------------------------------------
 * bench/inference: the inference path's cost beside its baselines, in one run
 * (alternating rounds, medians, ratios). No database needed.
 *   npm run bench:inference [-- --rounds 5]
 * 1. in-process: the thread pool (our session wrapper) vs raw session.run, same model and inputs;
 * 2. dynamic batching on vs off at 32 concurrent single-row requests, ~1.3M-parameter MLP;
 * 3. event-loop lag of the calling thread under full inference load;
 * 4. loading and unloading a version 20 times: resident memory before and after.
 * ------------------------------------------------------------------------- */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { mlpOnnx } from "../db/seed/onnx-builder";
import { percentile } from "../server/pipelines/metrics";

// The batcher's module reads configuration it does not use here; no database is touched.
process.env.DATABASE_URL ??= "postgres://unused@127.0.0.1:1/unused";
process.env.AUTH_SECRET ??= "bench-secret-bench-secret-bench-secret-00";
const { Batcher } = await import("../workers/inference/live");
const { InferencePool } = await import("../workers/inference/pool");

const { values } = parseArgs({ options: { rounds: { type: "string", default: "5" } } });
const ROUNDS = Number(values.rounds);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "steward-bench-inference-"));
const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 0.5);
const f = (n: number, d = 0) => n.toLocaleString("en", { maximumFractionDigits: d, minimumFractionDigits: d });

const SIZES = [256, 1024, 1024, 16];
const file = path.join(dir, "mlp.onnx");
fs.writeFileSync(file, mlpOnnx(SIZES));
const params = SIZES.slice(1).reduce((a, b, i) => a + SIZES[i]! * b + b, 0);
console.log(`bench/inference: MLP ${SIZES.join("→")} (${f(params)} parameters), ${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, ${ROUNDS} rounds`);

const row = () => Float32Array.from({ length: SIZES[0]! }, (_, i) => Math.sin(i));
const pool = new InferencePool(os.cpus().length);
await pool.load("mlp", file, 1);
const raw = await InferenceSession.create(fs.readFileSync(file), { executionProviders: ["cpu"], intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: "all" });

try {
  // 1. Same inputs, sequential single requests: pool (thread hop + copies) vs raw session.run on this thread.
  const N = 300;
  const poolRates: number[] = [];
  const rawRates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let t = performance.now();
    for (let i = 0; i < N; i++) await pool.run("mlp", { x: { type: "float32", data: row(), dims: [1, SIZES[0]!] } });
    poolRates.push(N / ((performance.now() - t) / 1000));
    t = performance.now();
    for (let i = 0; i < N; i++) await raw.run({ x: new Tensor("float32", row(), [1, SIZES[0]!]) });
    rawRates.push(N / ((performance.now() - t) / 1000));
  }
  console.log(`  1. sequential batch-1 requests/s   pool ${f(median(poolRates))}   raw ${f(median(rawRates))}   ratio ${(median(poolRates) / median(rawRates)).toFixed(2)} (aim ≥ 0.9)`);

  // 2. 32 concurrent clients, single rows: batching on vs off.
  const CONC = 32;
  const PER = 40;
  async function load(useBatcher: boolean) {
    const batcher = new Batcher(pool, "mlp", 32, 2, () => undefined);
    const lat: number[] = [];
    const t = performance.now();
    await Promise.all(
      Array.from({ length: CONC }, async () => {
        for (let i = 0; i < PER; i++) {
          const s = performance.now();
          const feeds = { x: { type: "float32", data: row(), dims: [1, SIZES[0]!] } };
          if (useBatcher) await batcher.submit(feeds, 1);
          else await pool.run("mlp", feeds);
          lat.push(performance.now() - s);
        }
      }),
    );
    return { rate: (CONC * PER) / ((performance.now() - t) / 1000), p99: percentile(lat.sort((a, b) => a - b), 0.99) };
  }
  const on: { rate: number; p99: number }[] = [];
  const off: { rate: number; p99: number }[] = [];
  const loop = monitorEventLoopDelay({ resolution: 1 });
  for (let r = 0; r < ROUNDS; r++) {
    off.push(await load(false));
    loop.enable();
    on.push(await load(true));
    loop.disable();
  }
  const m = (xs: { rate: number; p99: number }[], k: "rate" | "p99") => median(xs.map((x) => x[k]));
  console.log(`  2. ${CONC} concurrent clients, rows/s  batching on ${f(m(on, "rate"))}   off ${f(m(off, "rate"))}   ratio ${(m(on, "rate") / m(off, "rate")).toFixed(1)}× (aim ≥ 5×)`);
  console.log(`     p99 latency ms                    on ${f(m(on, "p99"), 2)}   off ${f(m(off, "p99"), 2)}   added ${f(m(on, "p99") - m(off, "p99"), 2)} (aim ≤ 1.5)`);
  console.log(`  3. event-loop lag p99 of the calling thread under that load: ${f(loop.percentile(99) / 1e6, 2)} ms (aim ≤ 5)`);

  // 4. Load/unload the same version 20 times (all threads).
  const rss = () => process.memoryUsage.rss() / 1024 ** 2;
  await pool.load("probe", file, 1);
  await pool.unload("probe");
  const before = rss();
  for (let i = 0; i < 20; i++) {
    await pool.load(`v${i}`, file, 1);
    await pool.run(`v${i}`, { x: { type: "float32", data: row(), dims: [1, SIZES[0]!] } });
    await pool.unload(`v${i}`);
  }
  const after = rss();
  console.log(`  4. load+unload ×20: resident memory ${f(before)} MB → ${f(after)} MB (${after - before >= 0 ? "+" : ""}${f(after - before, 1)} MB)`);
} finally {
  await pool.close();
  await raw.release();
  fs.rmSync(dir, { recursive: true, force: true });
}

/* ---------------------------------------------------------------------------
 * bench/inference: the inference path's cost beside its baselines, in one run
 * (alternating rounds, medians, ratios).
 *   npm run bench:inference [-- --rounds 5] [-- --no-http]
 * In process (no database):
 *   1. our session wrapper (the thread pool) vs raw session.run on the same model and
 *      inputs, with the same compute (one inference thread each): throughput at batch 1
 *      and 32, and the latency a sequential request pays for the thread hop;
 *   2. dynamic batching on vs off, 64 concurrent single-row clients, ~1.3M-parameter MLP;
 *   3. loading and unloading a version 20 times (after warm-up): resident memory.
 * Over HTTP (the real inference process; DATABASE_URL or a throwaway embedded Postgres):
 *   4. POST predict vs POST /v1/noop on the same server, same body, at several
 *      concurrency levels: requests/s, p50/p99;
 *   5. event-loop lag p99 of the server's HTTP thread under full inference load.
 * ------------------------------------------------------------------------- */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { parseArgs } from "node:util";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { freePort } from "../bin/lib/embedded-pg";
import { benchEnv } from "./lib/env";
import { mlpOnnx } from "../db/seed/onnx-builder";

const { values } = parseArgs({
  options: { rounds: { type: "string", default: "5" }, "no-http": { type: "boolean", default: false }, "http-only": { type: "boolean", default: false } },
});
const ROUNDS = Number(values.rounds);
// The in-process part touches no database; the HTTP part needs one.
const bench = await benchEnv("inference", { database: !values["no-http"] });
const dir = bench.dir;
const { Batcher } = await import("../workers/inference/live");
const { InferencePool } = await import("../workers/inference/pool");
const { percentile } = await import("../server/pipelines/metrics");

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: number[]) => percentile(sorted(xs), 0.5);
const f = (n: number, d = 0) => n.toLocaleString("en", { maximumFractionDigits: d, minimumFractionDigits: d });
const verdict = (ok: boolean) => (ok ? "meets the aim" : "MISSES the aim");

const SIZES = [256, 1024, 1024, 16];
const WIDTH = SIZES[0]!;
const file = path.join(dir, "mlp.onnx");
fs.writeFileSync(file, mlpOnnx(SIZES));
const params = SIZES.slice(1).reduce((a, b, i) => a + SIZES[i]! * b + b, 0);
const cpus = os.cpus();
console.log(
  `bench/inference: MLP ${SIZES.join("→")} (${f(params)} parameters) · ${cpus.length} × ${cpus[0]?.model ?? "cpu"} · Node ${process.version} · ${ROUNDS} rounds`,
);

/** Pre-built inputs (the clients' own work is not what is measured). */
const ROWS = Array.from({ length: 64 }, (_, r) => Float32Array.from({ length: WIDTH }, (_, i) => Math.sin(i + r)));
const rowsOf = (batch: number, k: number) => {
  const out = new Float32Array(batch * WIDTH);
  for (let b = 0; b < batch; b++) out.set(ROWS[(k + b) % ROWS.length]!, b * WIDTH);
  return out;
};

const summary: string[] = [];
/** Raw session.run rows/s at batch 1 and 32 on one thread (section 1): the most batching can give. */
const rawRows: Record<number, number> = {};

// ---------------------------------------------------------------------------
// 1. Wrapper vs raw session.run, same compute: one inference thread each.
// ---------------------------------------------------------------------------
if (!values["http-only"]) {
  const pool1 = new InferencePool(1, 0);
  await pool1.load("mlp", file, 1);
  const raw = await InferenceSession.create(fs.readFileSync(file), {
    executionProviders: ["cpu"],
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: "all",
  });
  const rawRate = async (batch: number, n: number) => {
    const t = performance.now();
    for (let i = 0; i < n; i++) await raw.run({ x: new Tensor("float32", rowsOf(batch, i), [batch, WIDTH]) });
    return (n * batch) / ((performance.now() - t) / 1000);
  };
  /** The pool kept busy the way a server keeps it: several requests in flight. */
  const poolRate = async (batch: number, n: number, inFlight: number) => {
    const t = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < n) {
          const i = next++;
          await pool1.run("mlp", { x: { type: "float32", data: rowsOf(batch, i), dims: [batch, WIDTH] } });
        }
      }),
    );
    return (n * batch) / ((performance.now() - t) / 1000);
  };
  const seqLatency = async (useRaw: boolean, n: number) => {
    const lat: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      if (useRaw) await raw.run({ x: new Tensor("float32", rowsOf(1, i), [1, WIDTH]) });
      else await pool1.run("mlp", { x: { type: "float32", data: rowsOf(1, i), dims: [1, WIDTH] } });
      lat.push(performance.now() - t);
    }
    return median(lat);
  };
  await rawRate(1, 200);
  await poolRate(1, 200, 4);
  console.log("\n1. Session wrapper (thread pool, 1 inference thread) vs raw session.run on this thread, same model and inputs");
  for (const batch of [1, 32]) {
    const n = batch === 1 ? 2000 : 200;
    const p: number[] = [];
    const r: number[] = [];
    for (let k = 0; k < ROUNDS; k++) {
      r.push(await rawRate(batch, n));
      p.push(await poolRate(batch, n, 4));
    }
    const ratio = median(p) / median(r);
    rawRows[batch] = median(r);
    console.log(
      `   batch ${String(batch).padStart(2)}: rows/s  wrapper ${f(median(p)).padStart(7)}   raw ${f(median(r)).padStart(7)}   ratio ${ratio.toFixed(2)} (aim ≥ 0.9: ${verdict(ratio >= 0.9)})`,
    );
    summary.push(`wrapper vs raw session.run, batch ${batch}, rows/s|${f(median(p))} vs ${f(median(r))} (${ratio.toFixed(2)})|≥ 0.9`);
  }
  const lp: number[] = [];
  const lr: number[] = [];
  for (let k = 0; k < ROUNDS; k++) {
    lr.push(await seqLatency(true, 500));
    lp.push(await seqLatency(false, 500));
  }
  console.log(
    `   one request at a time, batch 1: median ${f(median(lp) * 1000)} µs via the wrapper vs ${f(median(lr) * 1000)} µs raw (the thread hop adds ${f((median(lp) - median(lr)) * 1000)} µs)`,
  );
  summary.push(`sequential batch-1 latency, wrapper vs raw|${f(median(lp) * 1000)} µs vs ${f(median(lr) * 1000)} µs|(reported)`);
  await pool1.close();
  await raw.release();
}

// ---------------------------------------------------------------------------
// 2. Dynamic batching on vs off under concurrency.
// ---------------------------------------------------------------------------
if (!values["http-only"]) {
  const pool = new InferencePool(cpus.length);
  await pool.load("mlp", file, 1);
  const CONC = 64;
  const PER = 60;
  async function load(useBatcher: boolean) {
    const batcher = new Batcher(pool, "mlp", 32, 2, () => undefined);
    const lat: number[] = [];
    const t = performance.now();
    await Promise.all(
      Array.from({ length: CONC }, async (_, c) => {
        for (let i = 0; i < PER; i++) {
          const s = performance.now();
          const feeds = { x: { type: "float32" as const, data: rowsOf(1, c + i), dims: [1, WIDTH] } };
          if (useBatcher) await batcher.submit(feeds, 1);
          else await pool.run("mlp", feeds);
          lat.push(performance.now() - s);
        }
      }),
    );
    return { rate: (CONC * PER) / ((performance.now() - t) / 1000), p99: percentile(sorted(lat), 0.99) };
  }
  await load(false);
  await load(true);
  const on: { rate: number; p99: number }[] = [];
  const off: { rate: number; p99: number }[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    off.push(await load(false));
    on.push(await load(true));
  }
  const m = (xs: { rate: number; p99: number }[], k: "rate" | "p99") => median(xs.map((x) => x[k]));
  const ratio = m(on, "rate") / m(off, "rate");
  const added = m(on, "p99") - m(off, "p99");
  console.log(`\n2. Dynamic batching (max 32 rows, 2 ms), ${CONC} concurrent single-row clients, ${cpus.length} inference threads`);
  console.log(
    `   rows/s      on ${f(m(on, "rate")).padStart(7)}   off ${f(m(off, "rate")).padStart(7)}   ratio ${ratio.toFixed(1)}× (aim ≥ 5×: ${verdict(ratio >= 5)})`,
  );
  console.log(
    `   p99 ms      on ${f(m(on, "p99"), 2).padStart(7)}   off ${f(m(off, "p99"), 2).padStart(7)}   added ${f(added, 2)} ms (aim ≤ 1.5: ${verdict(added <= 1.5)})`,
  );
  if (rawRows[1] && rawRows[32]) {
    const ceiling = rawRows[32] / rawRows[1];
    console.log(
      `   ceiling: raw session.run does ${f(rawRows[32])} rows/s at batch 32 vs ${f(rawRows[1])} at batch 1 on one thread (${ceiling.toFixed(1)}×): the most batching can gain on this model and CPU`,
    );
    summary.push(`raw session.run rows/s, batch 32 vs batch 1 (the ceiling for batching)|${f(rawRows[32])} vs ${f(rawRows[1])} (${ceiling.toFixed(1)}×)|—`);
  }
  summary.push(`batching on vs off, ${CONC} clients, rows/s|${f(m(on, "rate"))} vs ${f(m(off, "rate"))} (${ratio.toFixed(1)}×)|≥ 5×`);
  summary.push(`p99 with batching vs without|${f(m(on, "p99"), 2)} ms vs ${f(m(off, "p99"), 2)} ms (${added >= 0 ? "+" : ""}${f(added, 2)} ms)|≤ +1.5 ms`);

  // 3. Load/unload a version: memory after allocator warm-up, then the trend.
  const rss = () => process.memoryUsage.rss() / 1024 ** 2;
  const cycle = async (i: number) => {
    await pool.load(`v${i}`, file, 1);
    await pool.run(`v${i}`, { x: { type: "float32", data: rowsOf(1, i), dims: [1, WIDTH] } });
    await pool.unload(`v${i}`);
  };
  for (let i = 0; i < 20; i++) await cycle(i);
  const before = rss();
  for (let i = 0; i < 20; i++) await cycle(100 + i);
  const after = rss();
  // 100 more cycles: least-squares slope of resident memory per cycle (growth vs allocator noise).
  const ys: number[] = [];
  for (let i = 0; i < 100; i++) {
    await cycle(200 + i);
    ys.push(rss());
  }
  const xm = (ys.length - 1) / 2;
  const ym = ys.reduce((a, b) => a + b, 0) / ys.length;
  const slope = ys.reduce((a, y, i) => a + (i - xm) * (y - ym), 0) / ys.reduce((a, _, i) => a + (i - xm) ** 2, 0);
  const grew = after - before;
  const flat = Math.abs(slope) < 0.1;
  console.log(`\n3. Load + run + unload of the version on every thread (after 20 warm-up cycles)`);
  console.log(`   20 cycles: resident memory ${f(before)} MB → ${f(after)} MB (${grew >= 0 ? "+" : ""}${f(grew, 1)} MB)`);
  console.log(
    `   100 more: ${f(Math.min(...ys))}–${f(Math.max(...ys))} MB, trend ${slope >= 0 ? "+" : ""}${f(slope * 1000, 0)} KB per cycle (aim flat, |trend| < 100 KB/cycle: ${verdict(flat)})`,
  );
  summary.push(
    `resident memory, load+unload ×20 after warm-up; trend over 100 more|${f(before)} → ${f(after)} MB; ${slope >= 0 ? "+" : ""}${f(slope * 1000, 0)} KB/cycle|flat`,
  );
  await pool.close();
}

// ---------------------------------------------------------------------------
// 4–5. Over HTTP: the real inference process, with a deployment key and logging on.
// ---------------------------------------------------------------------------
if (!values["no-http"]) {
  const { createWorkspace } = await import("../db/seed/factories");
  const { uploadModelVersion } = await import("../server/registry/models.service");
  const { createDeployment, createKey } = await import("../server/serving/deployments.service");
  const { closeDb } = await import("../db/client");
  const { FEATURES, generateCredit, trainLogistic } = await import("../db/seed/credit-data");
  const ws = await createWorkspace();
  // The demo's credit-risk model (logistic regression on five features, records in
  // `instances`): the model's own work is microseconds, so what is measured is the stack.
  const rowsCredit = generateCredit(2000, 7);
  const m = trainLogistic(rowsCredit, FEATURES, 30, 0.1);
  const { logisticRegressionOnnx } = await import("../db/seed/onnx-builder");
  await uploadModelVersion(
    ws.owner.wsActor,
    { name: "credit-risk", filename: "credit-risk.onnx" },
    Readable.from([Buffer.from(logisticRegressionOnnx({ ...m, featureNames: [...FEATURES] }))]),
  );
  await createDeployment(ws.owner.wsActor, { name: "credit-bench", environment: "bench", model: "credit-risk", alias: "bench", version: 1 });
  const { key } = await createKey(ws.owner.wsActor, { name: "credit-bench", keyName: "bench" });
  const instance = Object.fromEntries(FEATURES.map((k) => [k, rowsCredit[0]![k]]));
  await closeDb();

  const port = await freePort();
  // /metrics on the inference port needs its token (it names every tenant's deployments).
  const metricsToken = `bench-${Math.random().toString(36).slice(2)}-${Date.now()}`;
  const server: ChildProcess = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_SERVER_ARGS?.split(" ").filter(Boolean) ?? []),
      "--import",
      "tsx",
      "--import",
      "./bin/hooks/register.js",
      "workers/inference/index.ts",
    ],
    {
      env: {
        ...process.env,
        INFERENCE_PORT: String(port),
        INFERENCE_METRICS_TOKEN: metricsToken,
        NODE_ENV: "production",
        PREDICTION_LOG_BUFFER: process.env.PREDICTION_LOG_BUFFER ?? "200000",
      },
      stdio: ["ignore", "pipe", "inherit", "ipc"],
    },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      server.stdout!.on("data", (d: Buffer) => d.toString().includes("ready:") && resolve());
      server.on("exit", (c) => reject(new Error(`the inference server exited (${c})`)));
    });
    // The load generator shares this machine with the server and Postgres; on a real
    // deployment it would be elsewhere. It runs at a lower priority (nice 10) so the server
    // is not preempted by its own clients; the server's inference threads are at nice 10 too.
    try {
      os.setPriority(10);
    } catch {
      /* not permitted: figures include the contention */
    }
    const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
    const body = JSON.stringify({ instances: [instance] });
    const call = (p: string) =>
      new Promise<number>((resolve, reject) => {
        const t = performance.now();
        const req = http.request(
          {
            host: "127.0.0.1",
            port,
            path: p,
            method: "POST",
            agent,
            headers: { authorization: `Bearer ${key}`, "content-type": "application/json", "content-length": Buffer.byteLength(body) },
          },
          (res) => {
            res.resume();
            res.on("end", () => (res.statusCode === 200 ? resolve(performance.now() - t) : reject(new Error(`${p} answered ${res.statusCode}`))));
          },
        );
        req.on("error", reject);
        req.end(body);
      });
    const drive = async (p: string, conc: number, ms: number) => {
      const lat: number[] = [];
      const until = performance.now() + ms;
      const t = performance.now();
      await Promise.all(
        Array.from({ length: conc }, async () => {
          while (performance.now() < until) lat.push(await call(p));
        }),
      );
      const s = sorted(lat);
      return { rps: lat.length / ((performance.now() - t) / 1000), p50: percentile(s, 0.5), p99: percentile(s, 0.99) };
    };
    const lag = async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } })).text();
      return Number(/^steward_inference_event_loop_lag_p99_seconds (\S+)$/m.exec(text)?.[1] ?? NaN) * 1000;
    };
    await drive("/v1/deployments/credit-bench/predict", 16, 1500);
    await drive("/v1/noop", 16, 1500);
    console.log(
      `\n4. HTTP on loopback, the demo's credit-risk model, one record per request (${f(Buffer.byteLength(body))}-byte body, keep-alive, prediction logging on):`,
    );
    console.log("   predict vs the no-op endpoint of the same server (same body); the load generator shares the machine");
    console.log("   clients   predict req/s  p50 ms  p99 ms │  no-op req/s  p50 ms  p99 ms │ ratio");
    const lags: number[] = [];
    for (const conc of [1, 8, 32, 64]) {
      const pr: Awaited<ReturnType<typeof drive>>[] = [];
      const nr: Awaited<ReturnType<typeof drive>>[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        nr.push(await drive("/v1/noop", conc, 1000));
        await lag(); // resets the server's window
        pr.push(await drive("/v1/deployments/credit-bench/predict", conc, 1000));
        if (conc === 64) lags.push(await lag());
      }
      const m = (xs: typeof pr, k: "rps" | "p50" | "p99") => median(xs.map((x) => x[k]));
      const ratio = m(pr, "rps") / m(nr, "rps");
      console.log(
        `   ${String(conc).padStart(7)}   ${f(m(pr, "rps")).padStart(13)}  ${f(m(pr, "p50"), 2).padStart(6)}  ${f(m(pr, "p99"), 2).padStart(6)} │ ${f(m(nr, "rps")).padStart(12)}  ${f(m(nr, "p50"), 2).padStart(6)}  ${f(m(nr, "p99"), 2).padStart(6)} │ ${ratio.toFixed(2)}`,
      );
      summary.push(
        `HTTP predict vs no-op, ${conc} client${conc > 1 ? "s" : ""}, req/s (p50 / p99 ms)|${f(m(pr, "rps"))} (${f(m(pr, "p50"), 2)} / ${f(m(pr, "p99"), 2)}) vs ${f(m(nr, "rps"))} (${f(m(nr, "p50"), 2)} / ${f(m(nr, "p99"), 2)}) — ${ratio.toFixed(2)}|≥ 0.6`,
      );
    }
    console.log("   (aim ≥ 0.6 at every level)");
    const lagP99 = median(lags);
    console.log(
      `\n5. Event-loop lag p99 of the server's HTTP thread while 64 clients keep every inference thread busy: ${f(lagP99, 2)} ms (aim ≤ 5: ${verdict(lagP99 <= 5)})`,
    );
    summary.push(`event-loop lag p99 of the HTTP thread, 64 clients predicting|${f(lagP99, 2)} ms|≤ 5 ms`);
    agent.destroy();
  } finally {
    server.kill("SIGTERM");
    await new Promise((r) => server.once("exit", r));
  }
}

console.log("\nMarkdown (docs/PERFORMANCE.md):\n| measured | figure | aim |\n|---|---|---|");
for (const s of summary) console.log(`| ${s.split("|").join(" | ")} |`);
await bench.done();

/* ---------------------------------------------------------------------------
 * bench/pipelines: how fast a queued pipeline step is picked up by an idle worker
 * (commit → claim), with LISTEN/NOTIFY wake-ups and with pg-boss polling alone.
 *   npm run bench:pipelines [-- --runs 40]
 * Prints p50/p95/max pickup latency for each, and their ratio.
 * Uses DATABASE_URL (local only) or a throwaway embedded PostgreSQL.
 * ------------------------------------------------------------------------- */
import { spawn } from "node:child_process";
import os from "node:os";
import { parseArgs } from "node:util";
import { benchEnv } from "./lib/env";

const { values } = parseArgs({ options: { runs: { type: "string", default: "40" } } });
const RUNS = Number(values.runs);
const bench = await benchEnv("pipelines");

const { getDb, closeDb } = await import("../db/client");
const { eq } = await import("drizzle-orm");
const { pipelineRuns, stepRuns } = await import("../db/schema");
const { createWorkspace } = await import("../db/seed/factories");
const { savePipeline } = await import("../server/pipelines/definitions.service");
const { startManualRun } = await import("../server/pipelines/runs.service");
const { closeEnqueuer } = await import("../server/jobs/enqueue");
const { percentile } = await import("../server/pipelines/metrics");

async function worker(listen: boolean) {
  const child = spawn(process.execPath, ["--import", "tsx", "--import", "./bin/hooks/register.js", "workers/worker/index.ts"], {
    env: { ...process.env, JOBS_LISTEN: String(listen), NODE_ENV: "production" },
    stdio: ["ignore", "pipe", "inherit", "ipc"],
  });
  await new Promise<void>((resolve) => child.stdout!.on("data", (d: Buffer) => d.toString().includes("ready:") && resolve()));
  return child;
}

async function measure(listen: boolean) {
  const { owner } = await createWorkspace({ members: [] });
  await savePipeline(owner.wsActor, { name: "noop", yaml: "steps:\n  noop:\n    type: command\n    run: 'true'\n" });
  const child = await worker(listen);
  const db = getDb();
  const lat: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const run = await startManualRun(owner.wsActor, { pipeline: "noop" });
    const committed = performance.now();
    for (;;) {
      const [s] = await db.select({ status: stepRuns.status, startedAt: stepRuns.startedAt }).from(stepRuns).where(eq(stepRuns.runId, run.id));
      if (s?.startedAt) {
        lat.push(performance.now() - committed);
        break;
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    for (;;) {
      const [r] = await db.select({ status: pipelineRuns.status }).from(pipelineRuns).where(eq(pipelineRuns.id, run.id));
      if (r && !["queued", "running"].includes(r.status)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  child.kill("SIGTERM");
  await new Promise((r) => child.on("exit", r));
  lat.sort((a, b) => a - b);
  return { p50: percentile(lat, 0.5), p95: percentile(lat, 0.95), max: lat[lat.length - 1]! };
}

try {
  console.log(`bench/pipelines: ${RUNS} runs of a one-step pipeline per mode, an idle worker, ${os.cpus().length} cores`);
  const notify = await measure(true);
  const poll = await measure(false);
  const f = (x: number) => `${x.toFixed(1)} ms`.padStart(10);
  console.log(`  pickup (commit → claim)      p50        p95        max`);
  console.log(`  LISTEN/NOTIFY wake-up  ${f(notify.p50)} ${f(notify.p95)} ${f(notify.max)}`);
  console.log(`  pg-boss polling (2 s)  ${f(poll.p50)} ${f(poll.p95)} ${f(poll.max)}`);
  console.log(`  ratio polling / notify (p50): ${(poll.p50 / notify.p50).toFixed(1)}×`);
} finally {
  await closeEnqueuer();
  await closeDb();
  await bench.done();
}

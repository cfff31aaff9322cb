// First: this file's workers get a database of their own (see the module).
import { dropIsolatedDatabase } from "~/test/isolated-database";
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { and, eq } from "drizzle-orm";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { closeDb, getDb } from "~/db/client";
import { checks, pipelineRuns, stepRuns } from "~/db/schema";
import { createWorkspace } from "~/db/seed/factories";
import { closeEnqueuer } from "~/server/jobs/enqueue";
import { savePipeline } from "~/server/pipelines/definitions.service";
import { startManualRun } from "~/server/pipelines/runs.service";
import { auditFor } from "~/test/helpers";

/*
 * The real worker process: picks up steps as they are queued, and when it is killed
 * with SIGKILL mid-step, another worker retries the step after the lease runs out.
 */
const root = path.resolve(import.meta.dirname, "../..");
const LEASE = 3;
const children: ChildProcess[] = [];

function startWorker(tag: string) {
  const child = spawn(process.execPath, ["--import", "tsx", "--import", "./bin/hooks/register.js", "workers/worker/index.ts"], {
    cwd: root,
    env: { ...process.env, PIPELINE_LEASE_SECONDS: String(LEASE), PIPELINE_CONCURRENCY: "2", NODE_ENV: "production" },
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  children.push(child);
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", () => out.includes("ready:") && resolve());
    child.on("exit", (code) => reject(new Error(`worker ${tag} exited early (${code}):\n${out}`)));
  });
  return { child, ready, output: () => out };
}

/** Waits for a condition by re-reading the database, up to a deadline (no fixed sleeps). */
async function until<T>(what: string, read: () => Promise<T | null | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill("SIGKILL");
});
afterAll(async () => {
  await closeEnqueuer();
  await closeDb();
  await dropIsolatedDatabase();
});

describe("worker process", () => {
  it("runs queued steps promptly, and retries a step whose worker was SIGKILLed, recording its checks once", async () => {
    const { workspace, owner } = await createWorkspace();
    await savePipeline(owner.wsActor, {
      name: "slow",
      yaml: `steps:
  first:
    type: command
    run: 'echo "{\\"score\\": 1}" > "$STEWARD_OUTPUT_DIR/metrics.json"'
    checks: { score: { fail_below: 0.5 } }
  second:
    type: command
    needs: [first]
    run: 'echo working; if [ "$STEWARD_STEP_ATTEMPT" = 1 ]; then sleep 600; fi; echo "{\\"score\\": 2}" > "$STEWARD_OUTPUT_DIR/metrics.json"'
    checks: { score: { fail_below: 0.5 } }
`,
    });
    const a = startWorker("A");
    await a.ready;
    const started = await startManualRun(owner.wsActor, { pipeline: "slow" });
    const db = getDb();
    const step = (key: string) =>
      db
        .select()
        .from(stepRuns)
        .where(and(eq(stepRuns.runId, started.id), eq(stepRuns.key, key)))
        .then((r) => r[0]!);
    // The second step starts on A once the first passed. Its first attempt blocks until it is killed (it sleeps for ten
    // minutes), so "running on A" is a state the test can always observe, however slow the machine; the retry does not block.
    const running = await until("the second step to run on worker A", async () => {
      const s = await step("second");
      return s.status === "running" && s.leaseOwner?.includes(`:${a.child.pid}:`) ? s : null;
    }).catch(async (err: Error) => {
      const [first, second] = [await step("first"), await step("second")];
      throw new Error(
        `${err.message}; first: ${first.status} (${first.leaseOwner ?? "-"}), second: ${second.status} (${second.leaseOwner ?? "-"}); worker A said:\n${a.output().slice(-3000)}`,
      );
    });
    expect(running.attempt).toBe(1);
    a.child.kill("SIGKILL");
    const killedAt = Date.now();
    const b = startWorker("B");
    await b.ready;
    const run = await until("the run to finish", async () => {
      const [r] = await db.select().from(pipelineRuns).where(eq(pipelineRuns.id, started.id));
      return r && !["queued", "running"].includes(r.status) ? r : null;
    });
    const retriedAfter = Date.now() - killedAt;
    const second = await step("second");
    expect(run.status, b.output()).toBe("passed");
    expect(second).toMatchObject({ status: "passed", attempt: 2 });
    expect(second.leaseOwner).toBeNull();
    // Well within a minute: the lease (3 s here, 30 s by default) plus a sweep.
    expect(retriedAfter).toBeLessThan(30_000);
    const recorded = await db.select().from(checks).where(eq(checks.runId, started.id));
    expect(recorded.map((c) => c.name).sort()).toEqual(["first.exit_code", "first.score", "second.exit_code", "second.score"]);
    expect(recorded.find((c) => c.name === "second.score")!.value).toBe(2);
    const retried = await auditFor(workspace.id, "pipeline.step_retried");
    expect(retried).toHaveLength(1);
    expect(retried[0]!.metadata).toMatchObject({ step: "second", attempt: 2 });
  }, 120_000);
});

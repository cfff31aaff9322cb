import "server-only";
import { and, eq, lt, sql } from "drizzle-orm";
import { getDb } from "~/db/client";
import { checks, pipelineRuns, runArtifacts, stepLogs, stepRuns } from "~/db/schema";
import type { SystemActor } from "~/server/audit/actor";
import { mutate } from "~/server/audit/mutate";
import { publish } from "~/server/realtime/publish";
import type { CheckResult } from "./checks";

import { advance, queueStep, summarize } from "./run-state";

/*
 * The worker's side of a run: claim a step with a lease, renew it, stream logs, record the
 * result (only the current attempt's lease holder can), and requeue steps whose worker died.
 * Claims, leases and logs are telemetry (no audit event); results and retries are audited.
 */

export const LEASE_SECONDS = 30;

const systemActor = (workspaceId: string): SystemActor & { workspaceId: string } => ({ type: "system", job: "pipeline-worker", workspaceId });

/** Takes the step for this attempt, or null when the job is stale (retried, cancelled, done). */
export async function claimStep(stepRunId: string, attempt: number, workerId: string, leaseSeconds = LEASE_SECONDS) {
  const db = getDb();
  const claimed = await db.transaction(async (tx) => {
    const [step] = await tx
      .update(stepRuns)
      .set({
        status: "running",
        leaseOwner: workerId,
        leaseExpiresAt: sql`now() + make_interval(secs => ${leaseSeconds})`,
        startedAt: sql`coalesce(${stepRuns.startedAt}, now())`,
      })
      .where(and(eq(stepRuns.id, stepRunId), eq(stepRuns.attempt, attempt), eq(stepRuns.status, "queued")))
      .returning();
    if (!step) return null;
    await tx
      .update(pipelineRuns)
      .set({ status: "running", startedAt: sql`coalesce(${pipelineRuns.startedAt}, now())` })
      .where(and(eq(pipelineRuns.id, step.runId), eq(pipelineRuns.status, "queued")));
    return step;
  });
  if (claimed) publish.toWorkspace(claimed.workspaceId, "pipeline.progress", { workspaceId: claimed.workspaceId, runId: claimed.runId, stepRunId });
  return claimed;
}

/** Extends the lease; tells the worker to stop when the run was cancelled or the lease was lost. */
export async function renewLease(stepRunId: string, attempt: number, workerId: string, leaseSeconds = LEASE_SECONDS): Promise<"ok" | "cancel" | "lost"> {
  const rows = await getDb().execute<{ cancel: boolean }>(sql`
    update step_runs s set lease_expires_at = now() + make_interval(secs => ${leaseSeconds})
    from pipeline_runs r
    where s.id = ${stepRunId} and s.attempt = ${attempt} and s.lease_owner = ${workerId} and s.status = 'running' and r.id = s.run_id
    returning r.cancel_requested as cancel`);
  const row = rows[0];
  if (!row) return "lost";
  return row.cancel ? "cancel" : "ok";
}

export async function appendLogs(
  step: { id: string; runId: string; workspaceId: string },
  attempt: number,
  lines: { stream: "stdout" | "stderr" | "system"; line: string }[],
) {
  if (!lines.length) return;
  await getDb()
    .insert(stepLogs)
    .values(lines.map((l) => ({ stepRunId: step.id, attempt, stream: l.stream, line: l.line.slice(0, 4000) })));
  publish.toWorkspace(step.workspaceId, "pipeline.progress", { workspaceId: step.workspaceId, runId: step.runId, stepRunId: step.id });
}

export type StepResult = {
  status: "passed" | "warned" | "failed" | "skipped" | "cancelled";
  reason?: string | null;
  outputs?: Record<string, unknown> | null;
  checks?: CheckResult[];
  required: boolean;
  artifacts?: { path: string; sha256: string; sizeBytes: number; modelVersionId: string | null }[];
};

/**
 * Records a step's result if this worker still holds the attempt's lease, then moves the
 * run on: queues steps whose needs all passed, skips those behind a failure, and closes
 * the run when every step is done. Returns false when the result was not recorded.
 */
export async function finishStep(stepRunId: string, attempt: number, workerId: string, result: StepResult) {
  let ws = "";
  let runId = "";
  const recorded = await mutate({ type: "system", job: "pipeline-worker" }, async (tx, audit) => {
    const [step] = await tx
      .update(stepRuns)
      .set({
        status: result.status,
        reason: result.reason ?? null,
        outputs: result.outputs ?? null,
        finishedAt: new Date(),
        leaseOwner: null,
        leaseExpiresAt: null,
      })
      .where(and(eq(stepRuns.id, stepRunId), eq(stepRuns.attempt, attempt), eq(stepRuns.leaseOwner, workerId), eq(stepRuns.status, "running")))
      .returning();
    if (!step) return false;
    ws = step.workspaceId;
    runId = step.runId;
    const [run] = await tx.select().from(pipelineRuns).where(eq(pipelineRuns.id, step.runId)).for("update");
    if (result.checks?.length) {
      await tx.insert(checks).values(
        result.checks.map((c) => ({
          workspaceId: step.workspaceId,
          runId: step.runId,
          stepRunId: step.id,
          modelVersionId: run!.modelVersionId,
          name: `${step.key}.${c.name}`,
          status: c.status,
          value: c.value,
          threshold: c.threshold,
          message: c.message,
          required: result.required,
        })),
      );
    }
    if (result.artifacts?.length) {
      await tx
        .insert(runArtifacts)
        .values(result.artifacts.map((a) => ({ workspaceId: step.workspaceId, runId: step.runId, stepRunId: step.id, ...a })))
        .onConflictDoNothing();
    }
    const summary = result.checks?.length ? summarize(result.checks.map((c) => c.status)) : (result.reason ?? undefined);
    audit({
      action: "pipeline.step_finished",
      target: { type: "step_run", id: step.id },
      workspaceId: step.workspaceId,
      metadata: { number: run!.number, step: step.key, type: step.type, status: result.status, attempt, checks: summary },
    });
    await advance(tx, audit, run!);
    return true;
  });
  if (recorded) publish.toWorkspace(ws, "pipeline.progress", { workspaceId: ws, runId, stepRunId });
  return recorded;
}

/**
 * Steps whose worker stopped renewing its lease: queued again as a new attempt (the old
 * attempt's late result is refused), or failed once the attempts are used up.
 */
export async function sweepExpiredLeases() {
  const expired = await getDb()
    .select({ id: stepRuns.id, workspaceId: stepRuns.workspaceId })
    .from(stepRuns)
    .where(and(eq(stepRuns.status, "running"), lt(stepRuns.leaseExpiresAt, sql`now()`)))
    .limit(100);
  let requeued = 0;
  for (const e of expired) {
    const done = await mutate(systemActor(e.workspaceId), async (tx, audit) => {
      const [s] = await tx
        .select()
        .from(stepRuns)
        .where(and(eq(stepRuns.id, e.id), eq(stepRuns.status, "running"), lt(stepRuns.leaseExpiresAt, sql`now()`)))
        .for("update", { skipLocked: true });
      if (!s) return null;
      const [run] = await tx.select().from(pipelineRuns).where(eq(pipelineRuns.id, s.runId)).for("update");
      const reason = `The worker running it (${s.leaseOwner ?? "unknown"}) stopped responding.`;
      if (s.attempt < s.maxAttempts && !run!.cancelRequested) {
        await tx
          .update(stepRuns)
          .set({ status: "queued", attempt: s.attempt + 1, leaseOwner: null, leaseExpiresAt: null })
          .where(eq(stepRuns.id, s.id));
        await tx
          .insert(stepLogs)
          .values({ stepRunId: s.id, attempt: s.attempt, stream: "system", line: `${reason} Retrying as attempt ${s.attempt + 1} of ${s.maxAttempts}.` });
        await queueStep(tx, s.workspaceId, { id: s.id, attempt: s.attempt + 1 });
        audit({
          action: "pipeline.step_retried",
          target: { type: "step_run", id: s.id },
          metadata: { number: run!.number, step: s.key, attempt: s.attempt + 1, reason },
        });
      } else {
        const why = run!.cancelRequested ? "Cancelled while its worker was gone." : `${reason} No attempts left (${s.maxAttempts}).`;
        await tx
          .update(stepRuns)
          .set({ status: run!.cancelRequested ? "cancelled" : "failed", reason: why, finishedAt: new Date(), leaseOwner: null, leaseExpiresAt: null })
          .where(eq(stepRuns.id, s.id));
        audit({
          action: "pipeline.step_finished",
          target: { type: "step_run", id: s.id },
          metadata: { number: run!.number, step: s.key, type: s.type, status: "failed", attempt: s.attempt, checks: why },
        });
        await advance(tx, audit, run!);
      }
      return s.runId;
    });
    if (done) {
      requeued++;
      publish.toWorkspace(e.workspaceId, "pipeline.progress", { workspaceId: e.workspaceId, runId: done });
    }
  }
  return requeued;
}

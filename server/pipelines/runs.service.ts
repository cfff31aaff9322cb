import "server-only";
import { and, asc, desc, eq, inArray, lt, sql } from "drizzle-orm";
import { getDb, type Tx } from "~/db/client";
import { checks, models, modelVersions, pipelineRuns, pipelines, pipelineVersions, runArtifacts, stepLogs, stepRuns, users } from "~/db/schema";
import type { CheckStatus, RunStatus, StepStatus, Trigger } from "~/db/schema/pipelines";
import type { RequestMeta, SystemActor, WorkspaceActor } from "~/server/audit/actor";
import { mutate, type AuditFn } from "~/server/audit/mutate";
import { AppError, isUniqueViolation } from "~/server/errors";
import { enqueue } from "~/server/jobs/enqueue";
import { pipelineStep } from "~/server/jobs/definitions";
import { publish } from "~/server/realtime/publish";
import type { CheckResult } from "./checks";
import { topoOrder, type PipelineSpec } from "./spec";

/*
 * A run is a DAG of step runs. Each queued step is one job; a worker claims it with a
 * lease it renews while it works. A worker that dies stops renewing, the lease runs out,
 * and the sweeper queues the step again (a new attempt). Results are recorded only by
 * the holder of the current attempt's lease, in one transaction with the checks, the
 * audit event and the next steps' jobs — so a retried step cannot record a check twice.
 */

export const LEASE_SECONDS = 30;
const TERMINAL: StepStatus[] = ["passed", "warned", "failed", "skipped", "cancelled"];

type RunRow = typeof pipelineRuns.$inferSelect;

async function nextRunNumber(tx: Tx, workspaceId: string) {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${"runs:" + workspaceId}, 0))`);
  const [r] = await tx.select({ n: sql<number>`coalesce(max(${pipelineRuns.number}), 0)::int` }).from(pipelineRuns).where(eq(pipelineRuns.workspaceId, workspaceId));
  return (r?.n ?? 0) + 1;
}

async function queueStep(tx: Tx, workspaceId: string, step: { id: string; attempt: number }) {
  await enqueue(tx, pipelineStep, { workspaceId, stepRunId: step.id, attempt: step.attempt });
}

/**
 * Creates a run of a pipeline version with its steps, and queues the steps that need
 * nothing — inside the caller's transaction, so the run exists exactly when the change
 * that caused it does.
 */
export async function startRunTx(
  tx: Tx,
  audit: AuditFn,
  input: {
    workspaceId: string;
    pipelineId: string;
    pipelineName: string;
    pipelineVersionId: string;
    spec: PipelineSpec;
    modelVersionId: string | null;
    modelLabel?: string | null;
    trigger: Trigger;
    triggerRef?: string | null;
    createdBy: string | null;
  },
) {
  const number = await nextRunNumber(tx, input.workspaceId);
  const [run] = await tx
    .insert(pipelineRuns)
    .values({
      workspaceId: input.workspaceId,
      pipelineId: input.pipelineId,
      pipelineVersionId: input.pipelineVersionId,
      number,
      modelVersionId: input.modelVersionId,
      trigger: input.trigger,
      triggerRef: input.triggerRef ?? null,
      createdBy: input.createdBy,
    })
    .returning();
  const order = topoOrder(input.spec);
  const steps = await tx
    .insert(stepRuns)
    .values(
      order.map((key) => {
        const s = input.spec.steps[key]!;
        return { workspaceId: input.workspaceId, runId: run!.id, key, type: s.type, needs: s.needs ?? [], status: s.needs?.length ? ("pending" as const) : ("queued" as const), attempt: 1, maxAttempts: 1 + (s.retries ?? 2) };
      }),
    )
    .returning();
  for (const s of steps) if (s.status === "queued") await queueStep(tx, input.workspaceId, s);
  audit({
    action: "pipeline.run_started",
    target: { type: "pipeline_run", id: run!.id },
    workspaceId: input.workspaceId,
    metadata: { number, pipeline: input.pipelineName, trigger: input.trigger, model: input.modelLabel ?? null, steps: order },
  });
  return run!;
}

async function currentVersion(tx: Tx | ReturnType<typeof getDb>, pipelineId: string) {
  const [row] = await tx
    .select({ id: pipelineVersions.id, spec: pipelineVersions.spec })
    .from(pipelineVersions)
    .innerJoin(pipelines, and(eq(pipelines.id, pipelineVersions.pipelineId), eq(pipelines.currentVersion, pipelineVersions.version)))
    .where(eq(pipelines.id, pipelineId));
  return row ? { id: row.id, spec: row.spec as PipelineSpec } : null;
}

const globToRegex = (g: string) => new RegExp(`^${g.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`);

/** Starts every pipeline that runs on new model versions (called in the registering transaction). */
export async function startModelVersionPipelines(
  tx: Tx,
  audit: AuditFn,
  input: { workspaceId: string; modelVersionId: string; modelName: string; version: number; createdBy: string | null; sourceRunId?: string },
) {
  const list = await tx.select().from(pipelines).where(and(eq(pipelines.workspaceId, input.workspaceId), eq(pipelines.onModelVersion, true)));
  // A version made by a pipeline's command step does not start that same pipeline again (no loops).
  const [source] = input.sourceRunId ? await tx.select({ pipelineId: pipelineRuns.pipelineId }).from(pipelineRuns).where(eq(pipelineRuns.id, input.sourceRunId)) : [];
  const started: string[] = [];
  for (const p of list) {
    if (p.id === source?.pipelineId) continue;
    const v = await currentVersion(tx, p.id);
    if (!v) continue;
    const on = v.spec.on?.model_version;
    if (typeof on === "object" && !on.models.some((g) => globToRegex(g).test(input.modelName))) continue;
    const run = await startRunTx(tx, audit, {
      workspaceId: input.workspaceId,
      pipelineId: p.id,
      pipelineName: p.name,
      pipelineVersionId: v.id,
      spec: v.spec,
      modelVersionId: input.modelVersionId,
      modelLabel: `${input.modelName}@${input.version}`,
      trigger: "model_version",
      createdBy: input.createdBy,
    });
    started.push(run.id);
  }
  return started;
}

async function resolveModelVersion(workspaceId: string, name: string, version: number | string) {
  const db = getDb();
  const [m] = await db.select().from(models).where(and(eq(models.workspaceId, workspaceId), eq(models.name, name)));
  if (!m) throw new AppError("NOT_FOUND", `There is no model "${name}" in this workspace.`, { field: "model" });
  const [v] =
    typeof version === "number"
      ? await db.select({ id: modelVersions.id, version: modelVersions.version }).from(modelVersions).where(and(eq(modelVersions.modelId, m.id), eq(modelVersions.version, version)))
      : await db.execute<{ id: string; version: number }>(sql`select mv.id, mv.version from model_aliases a join model_versions mv on mv.id = a.model_version_id where a.model_id = ${m.id} and a.alias = ${version}`);
  if (!v) throw new AppError("NOT_FOUND", typeof version === "number" ? `Model "${name}" has no version ${version}.` : `No version of "${name}" holds the alias "${version}".`, { field: "version" });
  return { id: v.id, label: `${name}@${v.version}` };
}

/** A person (or a token) starts a pipeline on a model version. */
export async function startManualRun(actor: WorkspaceActor, input: { pipeline: string; model?: string; version?: number }, meta: RequestMeta = {}) {
  const [p] = await getDb().select().from(pipelines).where(and(eq(pipelines.workspaceId, actor.workspaceId), eq(pipelines.name, input.pipeline)));
  if (!p) throw new AppError("NOT_FOUND", `There is no pipeline "${input.pipeline}" in this workspace.`, { field: "pipeline" });
  const mv = input.model ? await resolveModelVersion(actor.workspaceId, input.model, input.version ?? "production") : null;
  const run = await mutate(
    actor,
    async (tx, audit) => {
      const v = await currentVersion(tx, p.id);
      if (!v) throw new AppError("NOT_FOUND", `Pipeline "${input.pipeline}" has no version.`);
      const needsModel = Object.values(v.spec.steps).some((s) => s.type !== "command");
      if (needsModel && !mv) throw new AppError("INVALID", `Pipeline "${input.pipeline}" tests a model: choose the model version to run it on.`, { field: "model" });
      return startRunTx(tx, audit, { workspaceId: actor.workspaceId, pipelineId: p.id, pipelineName: p.name, pipelineVersionId: v.id, spec: v.spec, modelVersionId: mv?.id ?? null, modelLabel: mv?.label, trigger: "manual", createdBy: actor.userId });
    },
    meta,
  );
  publish.toWorkspace(actor.workspaceId, "pipeline.progress", { workspaceId: actor.workspaceId, runId: run.id });
  return { id: run.id, number: run.number };
}

/**
 * Starts a pipeline for something that is not a person: a schedule slot or an alert.
 * Scheduled runs are unique per slot, so any number of workers may tick.
 */
export async function startSystemRun(actor: SystemActor & { workspaceId: string }, input: { pipelineId: string; trigger: "schedule" | "alert"; triggerRef: string; modelVersionId?: string | null }) {
  const [p] = await getDb().select().from(pipelines).where(and(eq(pipelines.id, input.pipelineId), eq(pipelines.workspaceId, actor.workspaceId)));
  if (!p) throw new AppError("NOT_FOUND", "The pipeline no longer exists.");
  let mv: { id: string; label: string } | null = null;
  const v0 = await currentVersion(getDb(), p.id);
  if (!v0) return null;
  if (input.modelVersionId) {
    const [row] = await getDb().select({ id: modelVersions.id, version: modelVersions.version, name: models.name }).from(modelVersions).innerJoin(models, eq(models.id, modelVersions.modelId)).where(eq(modelVersions.id, input.modelVersionId));
    mv = row ? { id: row.id, label: `${row.name}@${row.version}` } : null;
  } else if (v0.spec.target) {
    mv = await resolveModelVersion(actor.workspaceId, v0.spec.target.model, v0.spec.target.alias).catch(() => null);
  }
  try {
    const run = await mutate(actor, async (tx, audit) =>
      startRunTx(tx, audit, { workspaceId: actor.workspaceId, pipelineId: p.id, pipelineName: p.name, pipelineVersionId: v0.id, spec: v0.spec, modelVersionId: mv?.id ?? null, modelLabel: mv?.label, trigger: input.trigger, triggerRef: input.triggerRef, createdBy: null }),
    );
    publish.toWorkspace(actor.workspaceId, "pipeline.progress", { workspaceId: actor.workspaceId, runId: run.id });
    return run;
  } catch (err) {
    // Another worker already started this slot.
    if (input.trigger === "schedule" && isUniqueViolation(err)) return null;
    throw err;
  }
}

/** Runs the same pipeline version on the same model version again. */
export async function rerun(actor: WorkspaceActor, runId: string, meta: RequestMeta = {}) {
  const old = await getRunRow(actor.workspaceId, runId);
  const run = await mutate(
    actor,
    async (tx, audit) => {
      const [v] = await tx.select({ spec: pipelineVersions.spec }).from(pipelineVersions).where(eq(pipelineVersions.id, old.pipelineVersionId));
      const [p] = await tx.select({ name: pipelines.name }).from(pipelines).where(eq(pipelines.id, old.pipelineId));
      const label = old.modelVersionId ? await modelLabel(tx, old.modelVersionId) : null;
      return startRunTx(tx, audit, { workspaceId: actor.workspaceId, pipelineId: old.pipelineId, pipelineName: p!.name, pipelineVersionId: old.pipelineVersionId, spec: v!.spec as PipelineSpec, modelVersionId: old.modelVersionId, modelLabel: label, trigger: "rerun", triggerRef: `#${old.number}`, createdBy: actor.userId });
    },
    meta,
  );
  publish.toWorkspace(actor.workspaceId, "pipeline.progress", { workspaceId: actor.workspaceId, runId: run.id });
  return { id: run.id, number: run.number };
}

async function modelLabel(tx: Tx, modelVersionId: string) {
  const [row] = await tx.select({ version: modelVersions.version, name: models.name }).from(modelVersions).innerJoin(models, eq(models.id, modelVersions.modelId)).where(eq(modelVersions.id, modelVersionId));
  return row ? `${row.name}@${row.version}` : null;
}

async function getRunRow(workspaceId: string, runId: string): Promise<RunRow> {
  const [run] = await getDb().select().from(pipelineRuns).where(and(eq(pipelineRuns.id, runId), eq(pipelineRuns.workspaceId, workspaceId)));
  if (!run) throw new AppError("NOT_FOUND", "There is no such run in this workspace.", { field: "runId" });
  return run;
}

/** Stops a run: steps not yet started are cancelled now; running ones are stopped by their worker. */
export async function cancelRun(actor: WorkspaceActor, runId: string, meta: RequestMeta = {}) {
  const run = await getRunRow(actor.workspaceId, runId);
  if (!["queued", "running"].includes(run.status)) throw new AppError("PRECONDITION_FAILED", `Run #${run.number} has already ${run.status === "cancelled" ? "been cancelled" : "finished"}.`);
  await mutate(
    actor,
    async (tx, audit) => {
      const [locked] = await tx.select().from(pipelineRuns).where(eq(pipelineRuns.id, runId)).for("update");
      if (!locked || !["queued", "running"].includes(locked.status)) throw new AppError("PRECONDITION_FAILED", `Run #${run.number} has already finished.`);
      await tx.update(pipelineRuns).set({ cancelRequested: true }).where(eq(pipelineRuns.id, runId));
      await tx
        .update(stepRuns)
        .set({ status: "cancelled", finishedAt: new Date(), reason: `Cancelled by ${actor.email}.` })
        .where(and(eq(stepRuns.runId, runId), inArray(stepRuns.status, ["pending", "queued"])));
      const [p] = await tx.select({ name: pipelines.name }).from(pipelines).where(eq(pipelines.id, run.pipelineId));
      audit({ action: "pipeline.run_cancelled", target: { type: "pipeline_run", id: runId }, metadata: { number: run.number, pipeline: p?.name } });
      await settleRun(tx, audit, runId);
    },
    meta,
  );
  publish.toWorkspace(actor.workspaceId, "pipeline.progress", { workspaceId: actor.workspaceId, runId });
}

// ---------------------------------------------------------------------------
// Worker side
// ---------------------------------------------------------------------------

const systemActor = (workspaceId: string): SystemActor & { workspaceId: string } => ({ type: "system", job: "pipeline-worker", workspaceId });

/** Takes the step for this attempt, or null when the job is stale (retried, cancelled, done). */
export async function claimStep(stepRunId: string, attempt: number, workerId: string, leaseSeconds = LEASE_SECONDS) {
  const db = getDb();
  const claimed = await db.transaction(async (tx) => {
    const [step] = await tx
      .update(stepRuns)
      .set({ status: "running", leaseOwner: workerId, leaseExpiresAt: sql`now() + make_interval(secs => ${leaseSeconds})`, startedAt: sql`coalesce(${stepRuns.startedAt}, now())` })
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

export async function appendLogs(step: { id: string; runId: string; workspaceId: string }, attempt: number, lines: { stream: "stdout" | "stderr" | "system"; line: string }[]) {
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
      .set({ status: result.status, reason: result.reason ?? null, outputs: result.outputs ?? null, finishedAt: new Date(), leaseOwner: null, leaseExpiresAt: null })
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
      await tx.insert(runArtifacts).values(result.artifacts.map((a) => ({ workspaceId: step.workspaceId, runId: step.runId, stepRunId: step.id, ...a }))).onConflictDoNothing();
    }
    const summary = result.checks?.length ? summarize(result.checks.map((c) => c.status)) : result.reason ?? undefined;
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

function summarize(statuses: CheckStatus[]) {
  const n = (s: CheckStatus) => statuses.filter((x) => x === s).length;
  return [`${n("pass")} passed`, n("warn") ? `${n("warn")} warned` : "", n("fail") ? `${n("fail")} failed` : ""].filter(Boolean).join(", ");
}

async function advance(tx: Tx, audit: AuditFn, run: RunRow) {
  const steps = await tx.select().from(stepRuns).where(eq(stepRuns.runId, run.id)).orderBy(asc(stepRuns.key));
  const byKey = new Map(steps.map((s) => [s.key, s]));
  let changed = true;
  // Propagate skips through chains in one pass of the transaction.
  while (changed && !run.cancelRequested) {
    changed = false;
    for (const s of steps) {
      if (s.status !== "pending") continue;
      const deps = s.needs.map((k) => byKey.get(k)!);
      const blocked = deps.find((d) => ["failed", "skipped", "cancelled"].includes(d.status));
      if (blocked) {
        s.status = "skipped";
        s.reason = `Not run: it needs ${blocked.key}, which ${blocked.status === "failed" ? "failed" : blocked.status === "cancelled" ? "was cancelled" : "was skipped"}.`;
        await tx.update(stepRuns).set({ status: "skipped", reason: s.reason, finishedAt: new Date() }).where(eq(stepRuns.id, s.id));
        changed = true;
      } else if (deps.every((d) => d.status === "passed" || d.status === "warned")) {
        s.status = "queued";
        await tx.update(stepRuns).set({ status: "queued" }).where(eq(stepRuns.id, s.id));
        await queueStep(tx, run.workspaceId, s);
        changed = true;
      }
    }
  }
  await settleRun(tx, audit, run.id);
}

/** Closes the run when no step can still change. */
async function settleRun(tx: Tx, audit: AuditFn, runId: string) {
  const [run] = await tx.select().from(pipelineRuns).where(eq(pipelineRuns.id, runId));
  if (!run || !["queued", "running"].includes(run.status)) return;
  const steps = await tx.select().from(stepRuns).where(eq(stepRuns.runId, runId));
  if (!steps.every((s) => TERMINAL.includes(s.status))) return;
  const required = await tx.execute<{ key: string; required: boolean }>(sql`
    select s.key, coalesce((pv.spec->'steps'->s.key->>'required')::boolean, true) as required
    from step_runs s join pipeline_runs r on r.id = s.run_id join pipeline_versions pv on pv.id = r.pipeline_version_id
    where s.run_id = ${runId}`);
  const req = new Map(required.map((r) => [r.key, r.required]));
  let status: RunStatus;
  if (run.cancelRequested) status = "cancelled";
  else if (steps.some((s) => s.status === "failed" && req.get(s.key) !== false)) status = "failed";
  else if (steps.some((s) => s.status === "warned" || s.status === "failed")) status = "warned";
  else status = "passed";
  await tx.update(pipelineRuns).set({ status, finishedAt: new Date() }).where(eq(pipelineRuns.id, runId));
  const [p] = await tx.select({ name: pipelines.name }).from(pipelines).where(eq(pipelines.id, run.pipelineId));
  audit({
    action: "pipeline.run_finished",
    target: { type: "pipeline_run", id: runId },
    workspaceId: run.workspaceId,
    metadata: { number: run.number, pipeline: p?.name, status, model: run.modelVersionId ? await modelLabel(tx, run.modelVersionId) : null },
  });
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
        await tx.update(stepRuns).set({ status: "queued", attempt: s.attempt + 1, leaseOwner: null, leaseExpiresAt: null }).where(eq(stepRuns.id, s.id));
        await tx.insert(stepLogs).values({ stepRunId: s.id, attempt: s.attempt, stream: "system", line: `${reason} Retrying as attempt ${s.attempt + 1} of ${s.maxAttempts}.` });
        await queueStep(tx, s.workspaceId, { id: s.id, attempt: s.attempt + 1 });
        audit({ action: "pipeline.step_retried", target: { type: "step_run", id: s.id }, metadata: { number: run!.number, step: s.key, attempt: s.attempt + 1, reason } });
      } else {
        const why = run!.cancelRequested ? "Cancelled while its worker was gone." : `${reason} No attempts left (${s.maxAttempts}).`;
        await tx.update(stepRuns).set({ status: run!.cancelRequested ? "cancelled" : "failed", reason: why, finishedAt: new Date(), leaseOwner: null, leaseExpiresAt: null }).where(eq(stepRuns.id, s.id));
        audit({ action: "pipeline.step_finished", target: { type: "step_run", id: s.id }, metadata: { number: run!.number, step: s.key, type: s.type, status: "failed", attempt: s.attempt, checks: why } });
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

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

export async function listRuns(actor: WorkspaceActor, filter: { pipeline?: string; model?: string; version?: number; limit?: number } = {}) {
  const conds = [eq(pipelineRuns.workspaceId, actor.workspaceId)];
  if (filter.pipeline) conds.push(eq(pipelines.name, filter.pipeline));
  if (filter.model) conds.push(eq(models.name, filter.model));
  if (filter.version) conds.push(eq(modelVersions.version, filter.version));
  const runs = await getDb()
    .select({
      id: pipelineRuns.id,
      number: pipelineRuns.number,
      pipeline: pipelines.name,
      status: pipelineRuns.status,
      trigger: pipelineRuns.trigger,
      triggerRef: pipelineRuns.triggerRef,
      model: models.name,
      version: modelVersions.version,
      createdAt: pipelineRuns.createdAt,
      startedAt: pipelineRuns.startedAt,
      finishedAt: pipelineRuns.finishedAt,
      createdBy: users.name,
    })
    .from(pipelineRuns)
    .innerJoin(pipelines, eq(pipelines.id, pipelineRuns.pipelineId))
    .leftJoin(modelVersions, eq(modelVersions.id, pipelineRuns.modelVersionId))
    .leftJoin(models, eq(models.id, modelVersions.modelId))
    .leftJoin(users, eq(users.id, pipelineRuns.createdBy))
    .where(and(...conds))
    .orderBy(desc(pipelineRuns.number))
    .limit(filter.limit ?? 100);
  if (!runs.length) return [];
  const counts = await getDb()
    .select({ runId: stepRuns.runId, status: stepRuns.status, n: sql<number>`count(*)::int` })
    .from(stepRuns)
    .where(inArray(stepRuns.runId, runs.map((r) => r.id)))
    .groupBy(stepRuns.runId, stepRuns.status);
  return runs.map((r) => {
    const mine = counts.filter((c) => c.runId === r.id);
    const total = mine.reduce((a, c) => a + c.n, 0);
    const done = mine.filter((c) => TERMINAL.includes(c.status)).reduce((a, c) => a + c.n, 0);
    return { ...r, steps: { total, done } };
  });
}

export async function getRun(actor: WorkspaceActor, runId: string) {
  const run = await getRunRow(actor.workspaceId, runId);
  const db = getDb();
  const [pv] = await db.select({ version: pipelineVersions.version, spec: pipelineVersions.spec, name: pipelines.name }).from(pipelineVersions).innerJoin(pipelines, eq(pipelines.id, pipelineVersions.pipelineId)).where(eq(pipelineVersions.id, run.pipelineVersionId));
  const steps = await db.select().from(stepRuns).where(eq(stepRuns.runId, runId));
  const spec = pv!.spec as PipelineSpec;
  const order = topoOrder(spec);
  steps.sort((a, b) => order.indexOf(a.key) - order.indexOf(b.key));
  const runChecks = await db.select().from(checks).where(eq(checks.runId, runId)).orderBy(asc(checks.name));
  const [mv] = run.modelVersionId
    ? await db.select({ name: models.name, version: modelVersions.version }).from(modelVersions).innerJoin(models, eq(models.id, modelVersions.modelId)).where(eq(modelVersions.id, run.modelVersionId))
    : [];
  const [creator] = run.createdBy ? await db.select({ name: users.name }).from(users).where(eq(users.id, run.createdBy)) : [];
  const produced = await db.execute<{ path: string; sha256: string; size_bytes: number; model: string | null; version: number | null }>(sql`
    select ra.path, ra.sha256, ra.size_bytes, m.name as model, mv.version from run_artifacts ra
    left join model_versions mv on mv.id = ra.model_version_id left join models m on m.id = mv.model_id
    where ra.run_id = ${runId} order by ra.path`);
  return {
    id: run.id,
    number: run.number,
    status: run.status,
    trigger: run.trigger,
    triggerRef: run.triggerRef,
    cancelRequested: run.cancelRequested,
    createdAt: run.createdAt,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    createdBy: creator?.name ?? null,
    pipeline: { name: pv!.name, version: pv!.version },
    model: mv ? { name: mv.name, version: mv.version } : null,
    steps: steps.map((s) => ({
      id: s.id,
      key: s.key,
      type: s.type,
      needs: s.needs,
      status: s.status,
      attempt: s.attempt,
      maxAttempts: s.maxAttempts,
      startedAt: s.startedAt,
      finishedAt: s.finishedAt,
      reason: s.reason,
      outputs: s.outputs,
      required: spec.steps[s.key]?.required !== false,
    })),
    checks: runChecks.map((c) => ({ id: c.id, name: c.name, status: c.status, value: c.value, threshold: c.threshold, message: c.message, required: c.required })),
    artifacts: produced.map((a) => ({ path: a.path, sha256: a.sha256, sizeBytes: Number(a.size_bytes), model: a.model, version: a.version })),
  };
}

export async function getStepLogs(actor: WorkspaceActor, stepRunId: string, afterId = 0) {
  const [s] = await getDb().select({ id: stepRuns.id }).from(stepRuns).where(and(eq(stepRuns.id, stepRunId), eq(stepRuns.workspaceId, actor.workspaceId)));
  if (!s) throw new AppError("NOT_FOUND", "There is no such step in this workspace.", { field: "stepRunId" });
  return getDb()
    .select({ id: stepLogs.id, attempt: stepLogs.attempt, stream: stepLogs.stream, line: stepLogs.line, at: stepLogs.at })
    .from(stepLogs)
    .where(and(eq(stepLogs.stepRunId, stepRunId), sql`${stepLogs.id} > ${afterId}`))
    .orderBy(asc(stepLogs.id))
    .limit(5000);
}

/** The latest run of each pipeline on a model version, with its checks: what the version page shows. */
export async function latestValidation(actor: WorkspaceActor, name: string, version: number) {
  const mv = await resolveModelVersion(actor.workspaceId, name, version);
  const [run] = await getDb()
    .select({ id: pipelineRuns.id })
    .from(pipelineRuns)
    .innerJoin(pipelines, eq(pipelines.id, pipelineRuns.pipelineId))
    .where(and(eq(pipelineRuns.modelVersionId, mv.id), eq(pipelineRuns.workspaceId, actor.workspaceId)))
    .orderBy(sql`(${pipelines.name} = 'validate') desc`, desc(pipelineRuns.number))
    .limit(1);
  return run ? getRun(actor, run.id) : null;
}


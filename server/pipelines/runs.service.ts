import "server-only";
import { and, eq, inArray, sql } from "drizzle-orm";
import { getDb, type Tx } from "~/db/client";
import { models, modelVersions, pipelineRuns, pipelines, pipelineVersions, stepRuns } from "~/db/schema";
import type { Trigger } from "~/db/schema/pipelines";
import type { RequestMeta, SystemActor, WorkspaceActor } from "~/server/audit/actor";
import { mutate, type AuditFn } from "~/server/audit/mutate";
import { AppError, isUniqueViolation } from "~/server/errors";
import { modelByName } from "~/server/registry/lookup";
import { publish } from "~/server/realtime/publish";
import { topoOrder, type PipelineSpec } from "~/server/shared/pipeline-spec";
import { lock, LOCKS } from "~/server/platform/locks";

import { modelLabel, queueStep, settleRun, type RunRow } from "./run-state";

/*
 * A run is a DAG of step runs. Each queued step is one job; a worker claims it with a
 * lease it renews while it works. A worker that dies stops renewing, the lease runs out,
 * and the sweeper queues the step again (a new attempt). Results are recorded only by
 * the holder of the current attempt's lease, in one transaction with the checks, the
 * audit event and the next steps' jobs — so a retried step cannot record a check twice.
 */

async function nextRunNumber(tx: Tx, workspaceId: string) {
  await lock(tx, LOCKS.runs(workspaceId));
  const [r] = await tx
    .select({ n: sql<number>`coalesce(max(${pipelineRuns.number}), 0)::int` })
    .from(pipelineRuns)
    .where(eq(pipelineRuns.workspaceId, workspaceId));
  return (r?.n ?? 0) + 1;
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
        return {
          workspaceId: input.workspaceId,
          runId: run!.id,
          key,
          type: s.type,
          needs: s.needs ?? [],
          status: s.needs?.length ? ("pending" as const) : ("queued" as const),
          attempt: 1,
          maxAttempts: 1 + (s.retries ?? 2),
        };
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

const globToRegex = (g: string) =>
  new RegExp(
    `^${g
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
  );

/** Starts every pipeline that runs on new model versions (called in the registering transaction). */
export async function startModelVersionPipelines(
  tx: Tx,
  audit: AuditFn,
  input: { workspaceId: string; modelVersionId: string; modelName: string; version: number; createdBy: string | null; sourceRunId?: string },
) {
  const list = await tx
    .select()
    .from(pipelines)
    .where(and(eq(pipelines.workspaceId, input.workspaceId), eq(pipelines.onModelVersion, true)));
  // A version made by a pipeline's command step does not start that same pipeline again (no loops).
  const [source] = input.sourceRunId
    ? await tx.select({ pipelineId: pipelineRuns.pipelineId }).from(pipelineRuns).where(eq(pipelineRuns.id, input.sourceRunId))
    : [];
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

export async function resolveModelVersion(workspaceId: string, name: string, version: number | string) {
  const db = getDb();
  const m = await modelByName(db, workspaceId, name);
  const [v] =
    typeof version === "number"
      ? await db
          .select({ id: modelVersions.id, version: modelVersions.version })
          .from(modelVersions)
          .where(and(eq(modelVersions.modelId, m.id), eq(modelVersions.version, version)))
      : await db.execute<{ id: string; version: number }>(
          sql`select mv.id, mv.version from model_aliases a join model_versions mv on mv.id = a.model_version_id where a.model_id = ${m.id} and a.alias = ${version}`,
        );
  if (!v)
    throw new AppError(
      "NOT_FOUND",
      typeof version === "number" ? `Model "${name}" has no version ${version}.` : `No version of "${name}" holds the alias "${version}".`,
      { field: "version" },
    );
  return { id: v.id, label: `${name}@${v.version}` };
}

/** A person (or a token) starts a pipeline on a model version. */
export async function startManualRun(actor: WorkspaceActor, input: { pipeline: string; model?: string; version?: number }, meta: RequestMeta = {}) {
  const [p] = await getDb()
    .select()
    .from(pipelines)
    .where(and(eq(pipelines.workspaceId, actor.workspaceId), eq(pipelines.name, input.pipeline)));
  if (!p) throw new AppError("NOT_FOUND", `There is no pipeline "${input.pipeline}" in this workspace.`, { field: "pipeline" });
  const mv = input.model ? await resolveModelVersion(actor.workspaceId, input.model, input.version ?? "production") : null;
  const run = await mutate(
    actor,
    async (tx, audit) => {
      const v = await currentVersion(tx, p.id);
      if (!v) throw new AppError("NOT_FOUND", `Pipeline "${input.pipeline}" has no version.`);
      const needsModel = Object.values(v.spec.steps).some((s) => s.type !== "command");
      if (needsModel && !mv)
        throw new AppError("INVALID", `Pipeline "${input.pipeline}" tests a model: choose the model version to run it on.`, { field: "model" });
      return startRunTx(tx, audit, {
        workspaceId: actor.workspaceId,
        pipelineId: p.id,
        pipelineName: p.name,
        pipelineVersionId: v.id,
        spec: v.spec,
        modelVersionId: mv?.id ?? null,
        modelLabel: mv?.label,
        trigger: "manual",
        createdBy: actor.userId,
      });
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
/**
 * A run started by Steward itself (a schedule, an alert). `alongside` runs in the run's own
 * transaction (an alert links its incident to the run there, covered by the run's event).
 */
export async function startSystemRun(
  actor: SystemActor & { workspaceId: string },
  input: { pipelineId: string; trigger: "schedule" | "alert"; triggerRef: string; modelVersionId?: string | null },
  alongside?: (tx: Tx, runId: string) => Promise<void>,
) {
  const [p] = await getDb()
    .select()
    .from(pipelines)
    .where(and(eq(pipelines.id, input.pipelineId), eq(pipelines.workspaceId, actor.workspaceId)));
  if (!p) throw new AppError("NOT_FOUND", "The pipeline no longer exists.");
  let mv: { id: string; label: string } | null = null;
  const v0 = await currentVersion(getDb(), p.id);
  if (!v0) return null;
  if (input.modelVersionId) {
    const [row] = await getDb()
      .select({ id: modelVersions.id, version: modelVersions.version, name: models.name })
      .from(modelVersions)
      .innerJoin(models, eq(models.id, modelVersions.modelId))
      .where(eq(modelVersions.id, input.modelVersionId));
    mv = row ? { id: row.id, label: `${row.name}@${row.version}` } : null;
  } else if (v0.spec.target) {
    mv = await resolveModelVersion(actor.workspaceId, v0.spec.target.model, v0.spec.target.alias).catch(() => null);
  }
  try {
    const run = await mutate(actor, async (tx, audit) => {
      const started = await startRunTx(tx, audit, {
        workspaceId: actor.workspaceId,
        pipelineId: p.id,
        pipelineName: p.name,
        pipelineVersionId: v0.id,
        spec: v0.spec,
        modelVersionId: mv?.id ?? null,
        modelLabel: mv?.label,
        trigger: input.trigger,
        triggerRef: input.triggerRef,
        createdBy: null,
      });
      await alongside?.(tx, started.id);
      return started;
    });
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
      return startRunTx(tx, audit, {
        workspaceId: actor.workspaceId,
        pipelineId: old.pipelineId,
        pipelineName: p!.name,
        pipelineVersionId: old.pipelineVersionId,
        spec: v!.spec as PipelineSpec,
        modelVersionId: old.modelVersionId,
        modelLabel: label,
        trigger: "rerun",
        triggerRef: `#${old.number}`,
        createdBy: actor.userId,
      });
    },
    meta,
  );
  publish.toWorkspace(actor.workspaceId, "pipeline.progress", { workspaceId: actor.workspaceId, runId: run.id });
  return { id: run.id, number: run.number };
}

export async function getRunRow(workspaceId: string, runId: string): Promise<RunRow> {
  const [run] = await getDb()
    .select()
    .from(pipelineRuns)
    .where(and(eq(pipelineRuns.id, runId), eq(pipelineRuns.workspaceId, workspaceId)));
  if (!run) throw new AppError("NOT_FOUND", "There is no such run in this workspace.", { field: "runId" });
  return run;
}

/** Stops a run: steps not yet started are cancelled now; running ones are stopped by their worker. */
export async function cancelRun(actor: WorkspaceActor, runId: string, meta: RequestMeta = {}) {
  const run = await getRunRow(actor.workspaceId, runId);
  if (!["queued", "running"].includes(run.status))
    throw new AppError("PRECONDITION_FAILED", `Run #${run.number} has already ${run.status === "cancelled" ? "been cancelled" : "finished"}.`);
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

import "server-only";
import { and, asc, desc, eq, inArray, lt, sql } from "drizzle-orm";
import { getDb } from "~/db/client";
import { checks, models, modelVersions, pipelineRuns, pipelines, pipelineVersions, stepLogs, stepRuns, users } from "~/db/schema";
import type { WorkspaceActor } from "~/server/audit/actor";
import { AppError } from "~/server/errors";
import { topoOrder, type PipelineSpec } from "~/server/shared/pipeline-spec";

import { getRunRow, resolveModelVersion } from "./runs.service";
import { TERMINAL } from "./run-state";

/* Reading runs: lists, one run with its steps and checks, step logs, the latest validation. */

/** Newest first; `before` (a run number) pages to older runs. */
export async function listRuns(actor: WorkspaceActor, filter: { pipeline?: string; model?: string; version?: number; limit?: number; before?: number } = {}) {
  const conds = [eq(pipelineRuns.workspaceId, actor.workspaceId)];
  if (filter.pipeline) conds.push(eq(pipelines.name, filter.pipeline));
  if (filter.model) conds.push(eq(models.name, filter.model));
  if (filter.version) conds.push(eq(modelVersions.version, filter.version));
  if (filter.before) conds.push(lt(pipelineRuns.number, filter.before));
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
    .where(
      inArray(
        stepRuns.runId,
        runs.map((r) => r.id),
      ),
    )
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
  const [pv] = await db
    .select({ version: pipelineVersions.version, spec: pipelineVersions.spec, name: pipelines.name })
    .from(pipelineVersions)
    .innerJoin(pipelines, eq(pipelines.id, pipelineVersions.pipelineId))
    .where(eq(pipelineVersions.id, run.pipelineVersionId));
  const steps = await db.select().from(stepRuns).where(eq(stepRuns.runId, runId));
  const spec = pv!.spec as PipelineSpec;
  const order = topoOrder(spec);
  steps.sort((a, b) => order.indexOf(a.key) - order.indexOf(b.key));
  const runChecks = await db.select().from(checks).where(eq(checks.runId, runId)).orderBy(asc(checks.name));
  const [mv] = run.modelVersionId
    ? await db
        .select({ name: models.name, version: modelVersions.version })
        .from(modelVersions)
        .innerJoin(models, eq(models.id, modelVersions.modelId))
        .where(eq(modelVersions.id, run.modelVersionId))
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
    checks: runChecks.map((c) => ({
      id: c.id,
      name: c.name,
      status: c.status,
      value: c.value,
      threshold: c.threshold,
      message: c.message,
      required: c.required,
    })),
    artifacts: produced.map((a) => ({ path: a.path, sha256: a.sha256, sizeBytes: Number(a.size_bytes), model: a.model, version: a.version })),
  };
}

export async function getStepLogs(actor: WorkspaceActor, stepRunId: string, afterId = 0) {
  const [s] = await getDb()
    .select({ id: stepRuns.id })
    .from(stepRuns)
    .where(and(eq(stepRuns.id, stepRunId), eq(stepRuns.workspaceId, actor.workspaceId)));
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

import "server-only";
import { asc, eq, sql } from "drizzle-orm";
import { type Tx } from "~/db/client";
import { models, modelVersions, pipelineRuns, pipelines, stepRuns } from "~/db/schema";
import type { CheckStatus, RunStatus, StepStatus } from "~/db/schema/pipelines";
import { type AuditFn } from "~/server/audit/mutate";
import { enqueue } from "~/server/jobs/enqueue";
import { pipelineStep } from "~/server/jobs/definitions";

/*
 * How a run moves on, shared by the commands (cancel) and the worker (a step finished, a lease
 * ran out): queue the steps whose needs passed, skip those behind a failure, close the run.
 * Always inside the caller's mutate() transaction.
 */

export const TERMINAL: StepStatus[] = ["passed", "warned", "failed", "skipped", "cancelled"];

export type RunRow = typeof pipelineRuns.$inferSelect;

export async function queueStep(tx: Tx, workspaceId: string, step: { id: string; attempt: number }) {
  await enqueue(tx, pipelineStep, { workspaceId, stepRunId: step.id, attempt: step.attempt });
}

export async function modelLabel(tx: Tx, modelVersionId: string) {
  const [row] = await tx
    .select({ version: modelVersions.version, name: models.name })
    .from(modelVersions)
    .innerJoin(models, eq(models.id, modelVersions.modelId))
    .where(eq(modelVersions.id, modelVersionId));
  return row ? `${row.name}@${row.version}` : null;
}

export function summarize(statuses: CheckStatus[]) {
  const n = (s: CheckStatus) => statuses.filter((x) => x === s).length;
  return [`${n("pass")} passed`, n("warn") ? `${n("warn")} warned` : "", n("fail") ? `${n("fail")} failed` : ""].filter(Boolean).join(", ");
}

export async function advance(tx: Tx, audit: AuditFn, run: RunRow) {
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
export async function settleRun(tx: Tx, audit: AuditFn, runId: string) {
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

import { Readable } from "node:stream";
import { and, eq, inArray } from "drizzle-orm";
import { getDb } from "~/db/client";
import { pipelineRuns, stepRuns } from "~/db/schema";
import { FEATURES, generateCredit, toCsv, trainLogistic } from "~/db/seed/credit-data";
import { logisticRegressionOnnx } from "~/db/seed/onnx-builder";
import type { WorkspaceActor } from "~/server/audit/actor";
import { uploadDatasetVersion } from "~/server/registry/datasets.service";
import { uploadModelVersion } from "~/server/registry/models.service";
import { runStepJob } from "~/workers/worker/handlers/pipeline-step.handler";

/** Test helpers for pipelines: credit data and models, and a driver that plays the worker in-process. */

export async function creditFixture(actor: WorkspaceActor, opts: { trainRows?: number; evalRows?: number } = {}) {
  const train = generateCredit(opts.trainRows ?? 800, 7);
  const evalRows = generateCredit(opts.evalRows ?? 300, 11);
  await uploadDatasetVersion(actor, { name: "credit-train", filename: "credit-train.csv" }, Readable.from([toCsv(train)]));
  await uploadDatasetVersion(actor, { name: "credit-eval", filename: "credit-eval.csv" }, Readable.from([toCsv(evalRows)]));
  return { train, evalRows };
}

export function creditModel(train: ReturnType<typeof generateCredit>, features: readonly (typeof FEATURES)[number][] = FEATURES, epochs = 200) {
  const m = trainLogistic(train, features, epochs, 0.5);
  return Buffer.from(logisticRegressionOnnx({ ...m, featureNames: [...features] }));
}

export async function pushModel(actor: WorkspaceActor, name: string, bytes: Uint8Array, meta: Record<string, unknown> = {}) {
  return uploadModelVersion(
    actor,
    {
      name,
      filename: `${name}.onnx`,
      meta: {
        datasets: [
          { ref: "credit-train@1", role: "train" },
          { ref: "credit-eval@1", role: "eval" },
        ],
        ...meta,
      },
    },
    Readable.from([Buffer.from(bytes)]),
  );
}

/**
 * Plays the worker: claims and runs every queued step of the run (independent ones
 * concurrently, each in its own step process, as the worker does) until the run ends.
 */
export async function drive(runId: string, workerId = "test-worker") {
  const db = getDb();
  for (let round = 0; round < 50; round++) {
    const [run] = await db.select().from(pipelineRuns).where(eq(pipelineRuns.id, runId));
    if (!run || !["queued", "running"].includes(run.status)) return run!;
    const queued = await db
      .select()
      .from(stepRuns)
      .where(and(eq(stepRuns.runId, runId), inArray(stepRuns.status, ["queued"])));
    if (!queued.length) throw new Error(`run ${runId} is ${run.status} with nothing queued`);
    await Promise.all(queued.map((s) => runStepJob({ workspaceId: s.workspaceId, stepRunId: s.id, attempt: s.attempt }, workerId)));
  }
  throw new Error("run did not finish");
}

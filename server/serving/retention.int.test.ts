import { Readable } from "node:stream";
import { and, eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "~/db/client";
import { deployments, predictionFeedback, predictionLogs, workspaces } from "~/db/schema";
import { createWorkspace } from "~/db/seed/factories";
import { logisticRegressionOnnx } from "~/db/seed/onnx-builder";
import { uploadModelVersion } from "~/server/registry/models.service";
import { createDeployment } from "~/server/serving/deployments.service";
import { auditFor } from "~/test/helpers";
import { applyPredictionRetention } from "./retention.service";

const DAY = 86_400_000;

async function deployed(days: number) {
  const ws = await createWorkspace();
  await getDb().update(workspaces).set({ predictionRetentionDays: days }).where(eq(workspaces.id, ws.workspace.id));
  await uploadModelVersion(
    ws.owner.wsActor,
    { name: "m", filename: "m.onnx" },
    Readable.from([Buffer.from(logisticRegressionOnnx({ weights: [1], bias: 0, featureNames: ["a"] }))]),
  );
  const d = await createDeployment(ws.owner.wsActor, { name: "m-prod", environment: "prod", model: "m", alias: "dev", version: 1 });
  const [row] = await getDb().select({ v: deployments.primaryVersionId }).from(deployments).where(eq(deployments.id, d.id));
  return { ws, deploymentId: d.id, versionId: row!.v };
}

describe("prediction-log retention", () => {
  it("removes logs and ground truth past each workspace's retention, drops whole old partitions, audits every removal, and is idempotent", async () => {
    const now = new Date();
    const short = await deployed(7);
    const long = await deployed(90);
    // A daily partition older than any workspace's retention can be (at most 3650 days; other
    // tests' workspaces keep logs 184 days or more when a framework requires it).
    const old = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) - 3700 * DAY);
    const part = `prediction_logs_${old.toISOString().slice(0, 10).replaceAll("-", "")}`;
    await getDb().execute(
      sql`create table if not exists ${sql.identifier(part)} partition of prediction_logs for values from (${sql.raw(`'${old.toISOString()}'`)}) to (${sql.raw(`'${new Date(old.getTime() + DAY).toISOString()}'`)})`,
    );
    const row = (w: typeof short, at: Date, requestId: string) => ({
      at,
      requestId,
      workspaceId: w.ws.workspace.id,
      deploymentId: w.deploymentId,
      modelVersionId: w.versionId,
      role: "primary" as const,
      status: "ok" as const,
      latencyMs: 1,
      rows: 1,
      inputs: { a: 1 },
      outputs: { y: 1 },
    });
    for (const w of [short, long]) {
      await getDb()
        .insert(predictionLogs)
        .values([
          row(w, new Date(now.getTime() - DAY), "recent"),
          row(w, new Date(now.getTime() - 30 * DAY), "month"),
          row(w, new Date(old.getTime() + 3600_000), "ancient"),
        ]);
    }
    await getDb()
      .insert(predictionFeedback)
      .values([
        { requestId: "month", workspaceId: short.ws.workspace.id, deploymentId: short.deploymentId, label: 1, at: new Date(now.getTime() - 30 * DAY) },
        { requestId: "recent", workspaceId: short.ws.workspace.id, deploymentId: short.deploymentId, label: 0, at: new Date(now.getTime() - DAY) },
      ]);

    const r = await applyPredictionRetention(now);
    expect(r.partitionsDropped).toContain(part);
    const [exists] = await getDb().execute<{ t: string | null }>(sql`select to_regclass(${part})::text as t`);
    expect(exists!.t).toBeNull();

    const left = async (w: typeof short) =>
      (await getDb().select({ id: predictionLogs.requestId }).from(predictionLogs).where(eq(predictionLogs.workspaceId, w.ws.workspace.id)))
        .map((x) => x.id)
        .sort();
    expect(await left(short)).toEqual(["recent"]);
    expect(await left(long)).toEqual(["month", "recent"]);
    const fb = await getDb()
      .select({ id: predictionFeedback.requestId })
      .from(predictionFeedback)
      .where(and(eq(predictionFeedback.workspaceId, short.ws.workspace.id)));
    expect(fb.map((x) => x.id)).toEqual(["recent"]);

    // Every removal is in the workspace's audit trail: the dropped partition and the per-workspace delete.
    const shortEvents = await auditFor(short.ws.workspace.id, "prediction_logs.purged");
    expect(shortEvents.map((e) => e.metadata)).toEqual([
      expect.objectContaining({ predictions: 1, partition: part }),
      expect.objectContaining({ predictions: 1, feedback: 1, retentionDays: 7 }),
    ]);
    expect(shortEvents.every((e) => e.actorType === "system")).toBe(true);
    const longEvents = await auditFor(long.ws.workspace.id, "prediction_logs.purged");
    expect(longEvents.map((e) => e.metadata)).toEqual([expect.objectContaining({ predictions: 1, partition: part })]);

    // Again: nothing more to remove, nothing more audited.
    const again = await applyPredictionRetention(now);
    expect(again.purged.filter((p) => [short.ws.workspace.id, long.ws.workspace.id].includes(p.workspaceId))).toEqual([]);
    expect(await auditFor(short.ws.workspace.id, "prediction_logs.purged")).toHaveLength(2);
  });
});

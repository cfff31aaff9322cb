import { Readable } from "node:stream";
import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "~/db/client";
import { deployments, predictionLogs, workspaces } from "~/db/schema";
import { createWorkspace } from "~/db/seed/factories";
import { logisticRegressionOnnx } from "~/db/seed/onnx-builder";
import { uploadModelVersion } from "~/server/registry/models.service";
import { createDeployment } from "~/server/serving/deployments.service";
import { applyPredictionRetention } from "~/server/serving/retention.service";
import { createToken } from "~/server/tokens/tokens.service";
import { auditFor, callerFor, expectTrpcError } from "~/test/helpers";
import { rest } from "~/test/rest-client";

const DAY = 86_400_000;

describe("governance.setFrameworks and the retention floor", () => {
  it("refuses to enable the AI Act over a shorter retention unless told to raise it, then holds the floor", async () => {
    const { workspace, owner } = await createWorkspace();
    const caller = callerFor(owner);
    const ws = { workspaceId: workspace.id };
    expect(await caller.governance.frameworks(ws)).toMatchObject({ enabled: [], predictionRetentionDays: 90, retentionFloor: null });

    // Below the floor: refused with the figures, nothing written.
    await expectTrpcError(
      caller.governance.setFrameworks({ ...ws, frameworks: ["eu-ai-act"] }),
      "PRECONDITION_FAILED",
      /EU AI Act requires prediction logs to be kept at least 184 days .*keeps them 90 days/,
    );
    expect(await auditFor(workspace.id, "workspace.frameworks_changed")).toEqual([]);

    // Confirmed: raised to the floor in the same transaction, both changes audited.
    expect(await caller.governance.setFrameworks({ ...ws, frameworks: ["eu-ai-act", "us-mrm-2026"], raiseRetention: true })).toEqual({
      enabled: ["eu-ai-act", "us-mrm-2026"],
      predictionRetentionDays: 184,
      retentionFloor: { days: 184, framework: "eu-ai-act" },
    });
    const [raised] = await auditFor(workspace.id, "workspace.retention_changed");
    expect(raised).toMatchObject({ changes: { predictionRetentionDays: [90, 184] }, metadata: { reason: "framework_floor", framework: "eu-ai-act" } });
    const [changed] = await auditFor(workspace.id, "workspace.frameworks_changed");
    expect(changed!.changes).toEqual({ frameworks: [[], ["eu-ai-act", "us-mrm-2026"]] });
    expect(changed!.seq).toBe(raised!.seq + 1);

    // The retention setting cannot go below it while the framework is enabled…
    const err = await expectTrpcError(
      caller.workspaces.setRetention({ ...ws, predictionRetentionDays: 90 }),
      "BAD_REQUEST",
      /predictionRetentionDays: .*at least 184 days while EU AI Act is enabled/,
    );
    expect(err.message).toMatch(/Article 19\(1\)/);
    await caller.workspaces.setRetention({ ...ws, predictionRetentionDays: 365 });
    await caller.workspaces.setRetention({ ...ws, predictionRetentionDays: 184 });
    // …and can once it is disabled.
    await caller.governance.setFrameworks({ ...ws, frameworks: ["us-mrm-2026"] });
    await caller.workspaces.setRetention({ ...ws, predictionRetentionDays: 30 });
    expect(await caller.governance.frameworks(ws)).toMatchObject({ enabled: ["us-mrm-2026"], predictionRetentionDays: 30, retentionFloor: null });

    // Unknown or repeated frameworks and no-op changes are refused at the edge or by the service.
    await expectTrpcError(caller.governance.setFrameworks({ ...ws, frameworks: ["iso-42001"] }), "BAD_REQUEST");
    await expectTrpcError(caller.governance.setFrameworks({ ...ws, frameworks: ["us-mrm-2026", "us-mrm-2026"] }), "BAD_REQUEST");
    await expectTrpcError(caller.governance.setFrameworks({ ...ws, frameworks: ["us-mrm-2026"] }), "PRECONDITION_FAILED", /nothing changed/);
  });

  it("is for admins and owners, over tRPC and REST", async () => {
    const { workspace, owner, members } = await createWorkspace({ members: [{ role: "compliance_officer" }, { role: "admin" }] });
    const [officer, admin] = members;
    await expectTrpcError(callerFor(officer!).governance.setFrameworks({ workspaceId: workspace.id, frameworks: ["sr-11-7"] }), "FORBIDDEN");
    expect((await callerFor(officer!).governance.frameworks({ workspaceId: workspace.id })).available.map((f) => [f.id, f.legalStatus])).toEqual([
      ["eu-ai-act", "in_force"],
      ["us-mrm-2026", "in_force"],
      ["sr-11-7", "superseded"],
    ]);
    await callerFor(admin!).governance.setFrameworks({ workspaceId: workspace.id, frameworks: ["sr-11-7"] });

    const { token } = await createToken(owner.wsActor, { workspaceId: workspace.id, name: "t", role: "owner" });
    const refused = await rest("PUT", `/workspaces/${workspace.slug}/frameworks`, { token, json: { frameworks: ["eu-ai-act"] } });
    expect(refused.status).toBe(412);
    expect(refused.data.error).toMatchObject({ code: "PRECONDITION_FAILED", field: "predictionRetentionDays" });
    const ok = await rest("PUT", `/workspaces/${workspace.slug}/frameworks`, { token, json: { frameworks: ["eu-ai-act"], raiseRetention: true } });
    expect(ok.status).toBe(200);
    expect(ok.data).toMatchObject({ enabled: ["eu-ai-act"], predictionRetentionDays: 184 });
    expect((await rest("GET", `/workspaces/${workspace.slug}/frameworks`, { token })).data).toMatchObject({
      enabled: ["eu-ai-act"],
      retentionFloor: { days: 184 },
    });
    const { token: viewerToken } = await createToken(owner.wsActor, { workspaceId: workspace.id, name: "v", role: "viewer" });
    expect((await rest("PUT", `/workspaces/${workspace.slug}/frameworks`, { token: viewerToken, json: { frameworks: [] } })).status).toBe(403);
  });

  it("keeps the retention job above the floor even when the setting was lowered behind the service's back", async () => {
    const { workspace, owner } = await createWorkspace();
    await callerFor(owner).governance.setFrameworks({ workspaceId: workspace.id, frameworks: ["eu-ai-act"], raiseRetention: true });
    await getDb().update(workspaces).set({ predictionRetentionDays: 7 }).where(eq(workspaces.id, workspace.id));
    await uploadModelVersion(
      owner.wsActor,
      { name: "m", filename: "m.onnx" },
      Readable.from([Buffer.from(logisticRegressionOnnx({ weights: [1], bias: 0, featureNames: ["a"] }))]),
    );
    const d = await createDeployment(owner.wsActor, { name: "m-prod", environment: "prod", model: "m", alias: "dev", version: 1 });
    const [row] = await getDb().select({ v: deployments.primaryVersionId }).from(deployments).where(eq(deployments.id, d.id));
    const now = new Date();
    const log = (at: Date, requestId: string) => ({
      at,
      requestId,
      workspaceId: workspace.id,
      deploymentId: d.id,
      modelVersionId: row!.v,
      role: "primary" as const,
      status: "ok" as const,
      latencyMs: 1,
      rows: 1,
      inputs: { a: 1 },
      outputs: { y: 1 },
    });
    await getDb()
      .insert(predictionLogs)
      .values([log(new Date(now.getTime() - 30 * DAY), "month")]);
    await applyPredictionRetention(now);
    const [left] = await getDb()
      .select({ n: sql<number>`count(*)::int` })
      .from(predictionLogs)
      .where(eq(predictionLogs.workspaceId, workspace.id));
    expect(left!.n).toBe(1);
  });
});

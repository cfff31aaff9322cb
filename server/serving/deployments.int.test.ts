import { Readable } from "node:stream";
import { and, eq, isNull } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "~/db/client";
import { aliasHistory, approvalPolicies, deployments, modelVersions, reviewRequests } from "~/db/schema";
import { createWorkspace } from "~/db/seed/factories";
import { logisticRegressionOnnx } from "~/db/seed/onnx-builder";
import { seedAlias, uploadModelVersion } from "~/server/registry/models.service";
import { DEFAULT_POLICIES } from "~/server/reviews/policy";
import { openReview } from "~/server/reviews/requests.service";
import { auditFor, callerFor, expectAudit, expectTrpcError, markUnloadable } from "~/test/helpers";

async function settingsFixture() {
  const ws = await createWorkspace({ members: [{ role: "ml_engineer" }] });
  await uploadModelVersion(
    ws.owner.wsActor,
    { name: "m", filename: "m.onnx" },
    Readable.from([Buffer.from(logisticRegressionOnnx({ weights: [1, 2], bias: 0, featureNames: ["age", "ssn"] }))]),
  );
  const api = callerFor(ws.owner).deployments;
  const ref = { workspaceId: ws.workspace.id, name: "m-prod" };
  await api.create({ ...ref, environment: "prod", model: "m", alias: "dev", version: 1 });
  return { ...ws, api, ref };
}

describe("deployment settings", () => {
  it("changes only what changed and names it in the history and the audit event", async () => {
    const { api, ref, workspace } = await settingsFixture();
    await api.updateSettings({ ...ref, settings: { maxBatchSize: 64, maxWaitMs: 2, sensitiveInputs: [{ name: "ssn", mode: "hash" }] } });
    const d = await api.get(ref);
    expect(d.settings).toMatchObject({ maxBatchSize: 64, maxWaitMs: 2, sensitiveInputs: [{ name: "ssn", mode: "hash" }] });
    // maxWaitMs did not change: it is not in the summary.
    expect(d.events[0]!.summary).toBe("Settings changed: maxBatchSize 32 → 64; sensitiveInputs none → ssn (hash).");
    const ev = await expectAudit(workspace.id, { action: "deployment.settings_changed" });
    expect(ev.metadata).toMatchObject({ name: "m-prod", summary: d.events[0]!.summary });
  });

  it("refuses a sensitive input the model does not take and out-of-range values, naming them, and changes nothing", async () => {
    const { api, ref } = await settingsFixture();
    const before = await api.get(ref);
    await expectTrpcError(
      api.updateSettings({ ...ref, settings: { sensitiveInputs: [{ name: "name", mode: "drop" }] } }),
      "BAD_REQUEST",
      /sensitiveInputs\[0\]\.name: "name" is not an input or column of v1 \(it takes age, ssn, features\)/,
    );
    await expectTrpcError(api.updateSettings({ ...ref, settings: { maxWaitMs: 500 } }), "BAD_REQUEST", /maxWaitMs must be at most 100 ms/);
    expect((await api.get(ref)).revision).toBe(before.revision);
  });

  it("treats the same settings as no change, whatever the key order, and one changed field as one change", async () => {
    const { api, ref } = await settingsFixture();
    await api.updateSettings({ ...ref, settings: { maxBatchSize: 64 } });
    await expectTrpcError(api.updateSettings({ ...ref, settings: { maxBatchSize: 64 } }), "PRECONDITION_FAILED", /Nothing changed/);
    const d = await api.get(ref);
    const ca = d.settings.canaryAnalysis;
    const reordered = {
      windowMinutes: ca.windowMinutes,
      maxLatencyRatio: ca.maxLatencyRatio,
      maxErrorRateDelta: ca.maxErrorRateDelta,
      minRequests: ca.minRequests,
      enabled: ca.enabled,
    };
    await expectTrpcError(api.updateSettings({ ...ref, settings: { canaryAnalysis: reordered } }), "PRECONDITION_FAILED", /Nothing changed/);
    await api.updateSettings({ ...ref, settings: { canaryAnalysis: { ...reordered, minRequests: 200 } } });
    const after = await api.get(ref);
    expect(after.events[0]!.summary).toBe("Settings changed: canaryAnalysis.minRequests 50 → 200.");
    expect(after.revision).toBe(d.revision + 1);
  });

  it("is for those who manage deployments: an ML engineer is refused", async () => {
    const { ref, members } = await settingsFixture();
    await expectTrpcError(callerFor(members[0]!).deployments.updateSettings({ ...ref, settings: { maxBatchSize: 8 } }), "FORBIDDEN");
  });
});

// ---------------------------------------------------------------------------
// Approvals, alias moves and races
// ---------------------------------------------------------------------------

async function creditWorkspace() {
  const ws = await createWorkspace({ members: [{ role: "ops" }, { role: "ops" }] });
  for (const w of [
    [1, 2],
    [2, 3],
    [3, 4],
  ])
    await uploadModelVersion(
      ws.owner.wsActor,
      { name: "credit", filename: "c.onnx" },
      Readable.from([Buffer.from(logisticRegressionOnnx({ weights: w, bias: 0, featureNames: ["a", "b"] }))]),
    );
  await seedAlias(ws.owner.wsActor, { workspaceId: ws.workspace.id, name: "credit", alias: "production", version: 1 });
  const versions = await getDb().select().from(modelVersions).where(eq(modelVersions.workspaceId, ws.workspace.id));
  const v = (n: number) => versions.find((x) => x.version === n)!;
  /** A review of `version` for production that was approved (the signing path is tested in reviews). */
  const approve = async (n: number, number = 100 + n, closedAt = new Date()) =>
    getDb()
      .insert(reviewRequests)
      .values({
        workspaceId: ws.workspace.id,
        number,
        modelId: v(n).modelId,
        modelVersionId: v(n).id,
        alias: "production",
        summary: "approved",
        status: "approved",
        requestedBy: ws.owner.id,
        closedAt,
        policyVersion: 0,
      });
  const ref = (name: string) => ({ workspaceId: ws.workspace.id, name });
  return { ...ws, v, approve, ref, ops: callerFor(ws.members[0]!).deployments, ops2: callerFor(ws.members[1]!).deployments };
}

describe("deployments under approvals", () => {
  it("two operators changing one deployment at once: one wins, the other gets a conflict naming the current revision, nothing half-applied", async () => {
    const s = await creditWorkspace();
    await s.approve(2);
    await s.ops.create({ ...s.ref("race"), environment: "prod", model: "credit" });
    const { revision } = await s.ops.get(s.ref("race"));
    const results = await Promise.allSettled([
      s.ops.setTraffic({ ...s.ref("race"), canaryVersion: 2, canaryPercent: 10, expectedRevision: revision }),
      s.ops2.setTraffic({ ...s.ref("race"), shadowVersion: 3, expectedRevision: revision }),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const lost = results.find((r) => r.status === "rejected")!;
    expect(lost.reason).toMatchObject({
      code: "CONFLICT",
      message: expect.stringMatching(new RegExp(`revision ${revision + 1} now \\(you saw ${revision}\\)`)) as unknown,
    });
    const after = await s.ops.get(s.ref("race"));
    expect(after.revision).toBe(revision + 1);
    // Exactly one of the two changes, whole.
    expect([after.canary?.version ?? null, after.shadow]).toEqual(results[0].status === "fulfilled" ? [2, null] : [null, 3]);
  });

  it("Promote is the alias move: an approved canary becomes production's holder, and every deployment following production rolls out", async () => {
    const s = await creditWorkspace();
    await s.approve(2);
    await s.ops.create({ ...s.ref("a"), environment: "prod", model: "credit" });
    await s.ops.create({ ...s.ref("b"), environment: "prod", model: "credit" });
    await s.ops.setTraffic({ ...s.ref("a"), canaryVersion: 2, canaryPercent: 20 });
    const out = await s.ops.promoteCanary(s.ref("a"));
    expect(out.rolloutId).toMatch(/^[0-9a-f-]{36}$/);
    const [a, b] = [await s.ops.get(s.ref("a")), await s.ops.get(s.ref("b"))];
    expect(a).toMatchObject({ primary: 2, canary: null, following: true, holder: 2 });
    expect(a.events[0]!.kind).toBe("canary_promoted");
    expect(b).toMatchObject({ primary: 2, following: true });
    expect(b.events[0]!.kind).toBe("alias_followed");
    const moves = await auditFor(s.workspace.id, "model.alias_moved");
    expect(moves.map((e) => e.metadata)).toContainEqual(expect.objectContaining({ alias: "production", promote: "a" }));
    // A canary that is not approved cannot be promoted: the answer leads to a review.
    await getDb()
      .update(deployments)
      .set({ canaryVersionId: s.v(3).id, canaryPercent: 10 })
      .where(eq(deployments.id, a.id));
    await expectTrpcError(
      s.ops.promoteCanary(s.ref("a")),
      "PRECONDITION_FAILED",
      /v3 is not approved for "production": open a review request for v3 → production/,
    );
  });

  it("follow or pin is its own audited action, and the UI's way back to following works", async () => {
    const s = await creditWorkspace();
    await s.approve(2);
    await s.ops.create({ ...s.ref("fp"), environment: "prod", model: "credit" });
    await s.ops.setFollow({ ...s.ref("fp"), follow: false, version: 2 });
    expect(await s.ops.get(s.ref("fp"))).toMatchObject({ following: false, primary: 2, followAlias: null });
    await s.ops.setFollow({ ...s.ref("fp"), follow: true });
    const d = await s.ops.get(s.ref("fp"));
    expect(d).toMatchObject({ following: true, primary: 1, followAlias: "production" });
    expect(d.events.slice(0, 2).map((e) => e.summary)).toEqual([
      "Follows production again: serves v1 (was pinned to v2).",
      "Pinned to v2 (was v1); no longer follows production.",
    ]);
    expect((await auditFor(s.workspace.id, "deployment.follow_changed")).length).toBe(2);
  });

  it("an emergency rollback needs a reason, records it, and goes only to a version that held the alias and was not rejected since", async () => {
    const s = await creditWorkspace();
    await s.approve(2);
    await s.ops.create({ ...s.ref("rb"), environment: "prod", model: "credit", follow: false, version: 2 });
    await expectTrpcError(s.ops.rollback({ ...s.ref("rb"), version: 1, reason: "" }), "BAD_REQUEST", /reason is required/);
    await s.ops.rollback({ ...s.ref("rb"), version: 1, reason: "v2 answers 500s for thin files" });
    const d = await s.ops.get(s.ref("rb"));
    expect(d).toMatchObject({ primary: 1, following: false });
    expect(d.rollout).toMatchObject({ emergencyReason: "v2 answers 500s for thin files", cause: "rolled_back" });
    expect(d.events[0]!.summary).toBe("Emergency rollback to v1 (from v2); pinned. Reason: v2 answers 500s for thin files");
    const ev = await expectAudit(s.workspace.id, { action: "deployment.rolled_back" });
    expect(ev.metadata).toMatchObject({ emergency: true, reason: "v2 answers 500s for thin files" });
    // v1 is rejected for production after it held it: no longer a rollback target.
    await s.ops.setFollow({ ...s.ref("rb"), follow: false, version: 2 });
    await getDb()
      .insert(reviewRequests)
      .values({
        workspaceId: s.workspace.id,
        number: 300,
        modelId: s.v(1).modelId,
        modelVersionId: s.v(1).id,
        alias: "production",
        summary: "re-check",
        status: "rejected",
        requestedBy: s.owner.id,
        closedAt: new Date(Date.now() + 1000),
        policyVersion: 0,
      });
    await getDb()
      .update(aliasHistory)
      .set({ untilAt: new Date() })
      .where(and(eq(aliasHistory.modelVersionId, s.v(1).id), isNull(aliasHistory.untilAt)));
    await expectTrpcError(
      s.ops.rollback({ ...s.ref("rb"), version: 1, reason: "again" }),
      "PRECONDITION_FAILED",
      /v1 was rejected for "production" in review #300/,
    );
  });

  it("a policy's canary allowance lets a version under review take at most its share; an expired approval no longer lets a version in", async () => {
    const s = await creditWorkspace();
    await getDb()
      .insert(approvalPolicies)
      .values({
        workspaceId: s.workspace.id,
        alias: "production",
        version: 1,
        rules: { ...DEFAULT_POLICIES.production!, canaryBeforeApproval: { maxPercent: 5 } },
        createdBy: s.owner.id,
      });
    await openReview(s.owner.wsActor, { model: "credit", version: 3, alias: "production", summary: "v3" });
    await s.ops.create({ ...s.ref("cb"), environment: "prod", model: "credit" });
    await expectTrpcError(
      s.ops.setTraffic({ ...s.ref("cb"), canaryVersion: 3, canaryPercent: 20 }),
      "PRECONDITION_FAILED",
      /allows it as a canary of at most 5% until it is approved \(asked for 20%\)/,
    );
    await s.ops.setTraffic({ ...s.ref("cb"), canaryVersion: 3, canaryPercent: 5 });
    await expectTrpcError(s.ops.setTraffic({ ...s.ref("cb"), canaryPercent: 6 }), "PRECONDITION_FAILED", /at most 5%/);
    await expectTrpcError(s.ops.promoteCanary(s.ref("cb")), "PRECONDITION_FAILED", /under review/);
    // Approved 40 days ago under a 30-day validity: expired.
    await s.approve(2, 102, new Date(Date.now() - 40 * 86_400_000));
    await expectTrpcError(
      s.ops.setFollow({ ...s.ref("cb"), follow: false, version: 2 }),
      "PRECONDITION_FAILED",
      /v2's approval for "production" \(review #102\) expired/,
    );
  });

  it("a version serving past its approval's validity is not pulled: the next traffic change tells the approvers it is due for re-approval, once", async () => {
    const s = await creditWorkspace();
    await s.ops.create({ ...s.ref("old"), environment: "prod", model: "credit" });
    // v1 has held production for 40 days under a 30-day validity.
    await getDb()
      .update(aliasHistory)
      .set({ fromAt: new Date(Date.now() - 40 * 86_400_000) })
      .where(eq(aliasHistory.modelVersionId, s.v(1).id));
    await s.ops.setTraffic({ ...s.ref("old"), shadowVersion: 2 });
    await s.ops.setTraffic({ ...s.ref("old"), shadowVersion: 3 });
    const due = await auditFor(s.workspace.id, "deployment.reapproval_due");
    expect(due).toHaveLength(1);
    expect(due[0]!.metadata).toMatchObject({ name: "old", alias: "production", version: 1 });
    expect((await s.ops.get(s.ref("old"))).primary).toBe(1);
  });

  it("an unprotected alias cannot move to a version that cannot load while a deployment follows it", async () => {
    const s = await creditWorkspace();
    // onnxruntime-refused models are no longer registered; versions registered before that still exist, so the state is made by hand.
    const odd = await uploadModelVersion(
      s.owner.wsActor,
      { name: "credit", filename: "odd.onnx" },
      Readable.from([Buffer.from(logisticRegressionOnnx({ weights: [9, 9], bias: 1 }))]),
    );
    await markUnloadable(odd.versionId);
    const models = callerFor(s.owner).models;
    await models.setAlias({ workspaceId: s.workspace.id, name: "credit", alias: "dev", version: 1 });
    await s.ops.create({ ...s.ref("dev"), environment: "dev", model: "credit", alias: "dev" });
    await expectTrpcError(
      models.setAlias({ workspaceId: s.workspace.id, name: "credit", alias: "dev", version: 4 }),
      "PRECONDITION_FAILED",
      /v4 cannot be served: onnxruntime could not load it when it was registered/,
    );
    expect((await s.ops.get(s.ref("dev"))).holder).toBe(1);
    await expectTrpcError(
      models.removeAlias({ workspaceId: s.workspace.id, name: "credit", alias: "dev" }),
      "PRECONDITION_FAILED",
      /Deployments follow "dev" \(dev\)/,
    );
  });
});

import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createWorkspace } from "~/db/seed/factories";
import { logisticRegressionOnnx } from "~/db/seed/onnx-builder";
import { uploadModelVersion } from "~/server/registry/models.service";
import { callerFor, expectAudit, expectTrpcError } from "~/test/helpers";

describe("deployment settings", () => {
  it("changes only what changed, names it in history and audit, and refuses unknown sensitive inputs, no-ops and out-of-range values", async () => {
    const ws = await createWorkspace({ members: [{ role: "ml_engineer" }] });
    await uploadModelVersion(ws.owner.wsActor, { name: "m", filename: "m.onnx" }, Readable.from([Buffer.from(logisticRegressionOnnx({ weights: [1, 2], bias: 0, featureNames: ["age", "ssn"] }))]));
    const api = callerFor(ws.owner).deployments;
    const ref = { workspaceId: ws.workspace.id, name: "m-prod" };
    await api.create({ ...ref, environment: "prod", model: "m", version: 1 });
    await api.updateSettings({ ...ref, settings: { maxBatchSize: 64, maxWaitMs: 2, sensitiveInputs: [{ name: "ssn", mode: "hash" }] } });
    const d = await api.get(ref);
    expect(d.settings).toMatchObject({ maxBatchSize: 64, maxWaitMs: 2, sensitiveInputs: [{ name: "ssn", mode: "hash" }] });
    // maxWaitMs did not change: it is not in the summary.
    expect(d.events[0]!.summary).toBe("Settings changed: maxBatchSize 32 → 64; sensitiveInputs none → ssn (hash).");
    const ev = await expectAudit(ws.workspace.id, { action: "deployment.settings_changed" });
    expect(ev.metadata).toMatchObject({ name: "m-prod", summary: d.events[0]!.summary });

    await expectTrpcError(api.updateSettings({ ...ref, settings: { sensitiveInputs: [{ name: "name", mode: "drop" }] } }), "BAD_REQUEST", /sensitiveInputs\[0\]\.name: "name" is not an input or column of v1 \(it takes age, ssn, features\)/);
    await expectTrpcError(api.updateSettings({ ...ref, settings: { maxBatchSize: 64 } }), "PRECONDITION_FAILED", /Nothing changed/);
    // The same canary analysis with its keys in another order is no change; one field is.
    const ca = d.settings.canaryAnalysis;
    const reordered = { windowMinutes: ca.windowMinutes, maxLatencyRatio: ca.maxLatencyRatio, maxErrorRateDelta: ca.maxErrorRateDelta, minRequests: ca.minRequests, enabled: ca.enabled };
    await expectTrpcError(api.updateSettings({ ...ref, settings: { canaryAnalysis: reordered } }), "PRECONDITION_FAILED", /Nothing changed/);
    await api.updateSettings({ ...ref, settings: { canaryAnalysis: { ...reordered, minRequests: 200 } } });
    expect((await api.get(ref)).events[0]!.summary).toBe("Settings changed: canaryAnalysis.minRequests 50 → 200.");
    await expectTrpcError(api.updateSettings({ ...ref, settings: { maxWaitMs: 500 } }), "BAD_REQUEST", /maxWaitMs must be at most 100 ms/);
    await expectTrpcError(callerFor(ws.members[0]!).deployments.updateSettings({ ...ref, settings: { maxBatchSize: 8 } }), "FORBIDDEN");
    expect((await api.get(ref)).revision).toBe(d.revision + 1);
  });
});

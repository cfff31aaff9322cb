import { Readable } from "node:stream";
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "~/db/client";
import { alertIncidents, deployments, webhookOutbox, webhooks } from "~/db/schema";
import { createWorkspace } from "~/db/seed/factories";
import { logisticRegressionOnnx } from "~/db/seed/onnx-builder";
import { mutate } from "~/server/audit/mutate";
import { uploadModelVersion } from "~/server/registry/models.service";
import { auditFor, callerFor, expectTrpcError } from "~/test/helpers";
import { fireSystemIncidentTx } from "./alerts.service";

/** A small deployment with one firing incident (a failed rollout: opened by an event, no traffic needed). */
async function firingIncident() {
  const ws = await createWorkspace({ members: [{ role: "ops" }, { role: "ml_engineer" }] });
  await uploadModelVersion(
    ws.owner.wsActor,
    { name: "m", filename: "m.onnx" },
    Readable.from([Buffer.from(logisticRegressionOnnx({ weights: [1, 2], bias: 0, featureNames: ["a", "b"] }))]),
  );
  await callerFor(ws.owner).deployments.create({ workspaceId: ws.workspace.id, name: "m-prod", environment: "prod", model: "m", alias: "dev", version: 1 });
  const [d] = await getDb().select().from(deployments).where(eq(deployments.workspaceId, ws.workspace.id));
  await mutate({ type: "system", job: "test", workspaceId: ws.workspace.id }, (tx, audit) =>
    fireSystemIncidentTx(tx, audit, { deploymentId: d!.id, metric: "rollout_failed", message: "m-prod: the rollout failed" }),
  );
  const [incident] = await getDb().select().from(alertIncidents).where(eq(alertIncidents.deploymentId, d!.id));
  const [ops, engineer] = ws.members;
  return { ...ws, d: d!, incident: incident!, ops: ops!, engineer: engineer! };
}

describe("monitoring.resolveIncident", () => {
  it("resolves a firing incident with a note: who and why on the incident, alert.resolved in the trail, a webhook delivery queued", async () => {
    const { workspace, ops, incident } = await firingIncident();
    // A webhook receives resolutions as it receives firings.
    await getDb().insert(webhooks).values({ workspaceId: workspace.id, name: "pager", url: "https://example.com/hook", secret: "s" });
    const api = callerFor(ops).monitoring;
    const r = await api.resolveIncident({ workspaceId: workspace.id, incidentId: incident.id, note: "  Rolled forward to v1 by hand.  " });
    expect(r).toMatchObject({ id: incident.id, status: "resolved", resolvedBy: ops.id, resolutionNote: "Rolled forward to v1 by hand." });

    const { incidents } = await api.alerts({ workspaceId: workspace.id, name: "m-prod" });
    expect(incidents.find((i) => i.id === incident.id)).toMatchObject({
      status: "resolved",
      resolvedAt: expect.any(Date),
      resolvedBy: ops.id,
      resolutionNote: "Rolled forward to v1 by hand.",
    });
    const [ev] = (await auditFor(workspace.id, "alert.resolved")).filter((e) => e.targetId === incident.id);
    expect(ev).toMatchObject({
      actorType: "user",
      actorId: ops.id,
      changes: { status: ["firing", "resolved"] },
      metadata: { rule: "Rollout failed", deployment: "m-prod", note: "Rolled forward to v1 by hand." },
    });
    // Delivered as the webhook's subscription says (alert.fired and alert.resolved by default), from the audit event.
    const owed = await getDb()
      .select()
      .from(webhookOutbox)
      .where(and(eq(webhookOutbox.workspaceId, workspace.id), eq(webhookOutbox.action, "alert.resolved")));
    expect(owed.map((o) => o.payload)).toMatchObject([
      { event: "alert.resolved", actor: { id: ops.id }, target: { id: incident.id }, metadata: { note: "Rolled forward to v1 by hand." } },
    ]);

    // Once resolved, it stays so: a second resolution and an acknowledgement are refused.
    await expectTrpcError(
      api.resolveIncident({ workspaceId: workspace.id, incidentId: incident.id, note: "again" }),
      "PRECONDITION_FAILED",
      /already resolved/,
    );
    await expectTrpcError(api.acknowledge({ workspaceId: workspace.id, incidentId: incident.id }), "PRECONDITION_FAILED", /already resolved/);
  });

  it("resolves an acknowledged incident too", async () => {
    const { workspace, owner, incident } = await firingIncident();
    const api = callerFor(owner).monitoring;
    await api.acknowledge({ workspaceId: workspace.id, incidentId: incident.id });
    const r = await api.resolveIncident({ workspaceId: workspace.id, incidentId: incident.id, note: "Known cause." });
    expect(r.status).toBe("resolved");
    const [ev] = await auditFor(workspace.id, "alert.resolved");
    expect(ev!.changes).toEqual({ status: ["acknowledged", "resolved"] });
  });

  it("needs deployment:manage and a note, and does not reveal another workspace's incidents", async () => {
    const { workspace, engineer, ops, incident } = await firingIncident();
    const ref = { workspaceId: workspace.id, incidentId: incident.id };
    await expectTrpcError(callerFor(engineer).monitoring.resolveIncident({ ...ref, note: "x" }), "FORBIDDEN");
    const noNote = await expectTrpcError(callerFor(ops).monitoring.resolveIncident({ ...ref, note: "   " }), "BAD_REQUEST", /note is required/);
    expect(noNote.message).toMatch(/note/);
    await expectTrpcError(callerFor(ops).monitoring.resolveIncident({ ...ref, incidentId: "nope", note: "x" }), "BAD_REQUEST", /incidentId/);
    // Another workspace's ops cannot resolve it, or learn that it exists.
    const other = await createWorkspace();
    await expectTrpcError(
      callerFor(other.owner).monitoring.resolveIncident({ workspaceId: other.workspace.id, incidentId: incident.id, note: "x" }),
      "NOT_FOUND",
      /does not exist/,
    );
    const [still] = await getDb().select().from(alertIncidents).where(eq(alertIncidents.id, incident.id));
    expect(still!.status).toBe("firing");
    expect(await auditFor(workspace.id, "alert.resolved")).toEqual([]);
  });
});

describe("monitoring.reopenIncident", () => {
  it("reopens a resolved incident with a note: firing again, unacknowledged, alert.reopened in the trail; refused while it is open or while the rule has fired again", async () => {
    const { workspace, ops, engineer, incident, d } = await firingIncident();
    const api = callerFor(ops).monitoring;
    const ws = workspace.id;
    await expectTrpcError(api.reopenIncident({ workspaceId: ws, incidentId: incident.id, note: "x" }), "PRECONDITION_FAILED", /firing, not resolved/);
    await api.acknowledge({ workspaceId: ws, incidentId: incident.id });
    await api.resolveIncident({ workspaceId: ws, incidentId: incident.id, note: "Rolled back." });
    await expectTrpcError(callerFor(engineer).monitoring.reopenIncident({ workspaceId: ws, incidentId: incident.id, note: "x" }), "FORBIDDEN");
    await expectTrpcError(api.reopenIncident({ workspaceId: ws, incidentId: incident.id, note: "  " }), "BAD_REQUEST", /note is required/);

    const r = await api.reopenIncident({ workspaceId: ws, incidentId: incident.id, note: "Errors are back after the rollback." });
    expect(r).toMatchObject({ status: "firing", resolvedAt: null, resolutionNote: null, acknowledgedAt: null });
    const [row] = await getDb().select().from(alertIncidents).where(eq(alertIncidents.id, incident.id));
    expect(row).toMatchObject({ status: "firing", resolvedBy: null, acknowledgedBy: null });
    const [event] = await auditFor(ws, "alert.reopened");
    expect(event).toMatchObject({
      targetId: incident.id,
      changes: { status: ["resolved", "firing"] },
      metadata: { note: "Errors are back after the rollback.", previousResolution: "Rolled back.", deployment: "m-prod" },
    });

    // Resolved again; meanwhile the rule fires a new incident: reopening the old one is refused, naming the new one.
    await api.resolveIncident({ workspaceId: ws, incidentId: incident.id, note: "Fixed for real." });
    await mutate({ type: "system", job: "test", workspaceId: ws }, (tx, audit) =>
      fireSystemIncidentTx(tx, audit, { deploymentId: d.id, metric: "rollout_failed", message: "m-prod: the rollout failed again" }),
    );
    const [fresh] = await getDb()
      .select()
      .from(alertIncidents)
      .where(and(eq(alertIncidents.deploymentId, d.id), eq(alertIncidents.status, "firing")));
    await expectTrpcError(api.reopenIncident({ workspaceId: ws, incidentId: incident.id, note: "x" }), "CONFLICT", new RegExp(`incident ${fresh!.id}`));
  });
});

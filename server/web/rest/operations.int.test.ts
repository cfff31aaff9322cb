import { Readable } from "node:stream";
import { and, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { getDb } from "~/db/client";
import { alertIncidents, deployments } from "~/db/schema";
import type { PolicyRules } from "~/db/schema/reviews";
import { createUser, createWorkspace } from "~/db/seed/factories";
import { acceptInvitation } from "~/server/identity/members.service";
import { logisticRegressionOnnx } from "~/db/seed/onnx-builder";
import { mutate } from "~/server/audit/mutate";
import { fireSystemIncidentTx } from "~/server/monitoring/alerts.service";
import { uploadModelVersion } from "~/server/registry/models.service";
import type { Role } from "~/server/shared/permissions";
import { createToken } from "~/server/tokens/tokens.service";
import { auditFor, expectAudit } from "~/test/helpers";
import { rest } from "~/test/rest-client";
import { applyPolicy } from "~/test/reviews";

/*
 * The REST routes of issue 19's operator actions: each allowed and refused by role, bad input
 * refused naming the field, and the audit event written — through the same services as tRPC.
 * One workspace for the file (each test works on its own deployment, rule or review).
 */

const ROLES_USED = ["viewer", "ml_engineer", "reviewer", "compliance_officer", "ops", "admin"] as const satisfies readonly Role[];
let ws: Awaited<ReturnType<typeof createWorkspace>>;
let slug: string;
const token = {} as Record<(typeof ROLES_USED)[number] | "owner", string>;
const member = {} as Record<(typeof ROLES_USED)[number], Awaited<ReturnType<typeof createWorkspace>>["members"][number]>;

const onnx = (w: number) => Readable.from([Buffer.from(logisticRegressionOnnx({ weights: [w, 1], bias: 0, featureNames: ["a", "b"] }))]);
let deploymentSeq = 0;
/** A fresh deployment of model m v1, as ops would create it. */
async function deployment() {
  const name = `d${++deploymentSeq}-prod`;
  const r = await rest("POST", `/workspaces/${slug}/deployments`, {
    token: token.ops,
    json: { name, environment: "prod", model: "m", alias: "dev", follow: false, version: 1 },
  });
  expect(r.status, JSON.stringify(r.data)).toBe(201);
  const [d] = await getDb()
    .select()
    .from(deployments)
    .where(and(eq(deployments.workspaceId, ws.workspace.id), eq(deployments.name, name)));
  return d!;
}

beforeAll(async () => {
  ws = await createWorkspace({ members: ROLES_USED.map((role) => ({ role })) });
  slug = ws.workspace.slug;
  for (const m of ws.members) {
    member[m.role as (typeof ROLES_USED)[number]] = m;
    token[m.role as (typeof ROLES_USED)[number]] = (await createToken(m.wsActor, { workspaceId: ws.workspace.id, name: m.role, role: m.role })).token;
  }
  token.owner = (await createToken(ws.owner.wsActor, { workspaceId: ws.workspace.id, name: "owner", role: "owner" })).token;
  await uploadModelVersion(member.ml_engineer.wsActor, { name: "m", filename: "m.onnx" }, onnx(1));
  await uploadModelVersion(member.ml_engineer.wsActor, { name: "m", filename: "m.onnx" }, onnx(2));
});

describe("REST: deployment settings and keys", () => {
  it("reads and changes settings (ops, not an ML engineer), naming a bad field", async () => {
    const d = await deployment();
    const base = `/workspaces/${slug}/deployments/${d.name}/settings`;
    expect((await rest("GET", base, { token: token.viewer })).data).toMatchObject({ maxBatchSize: 32 });
    expect((await rest("PUT", base, { token: token.ml_engineer, json: { maxBatchSize: 64 } })).status).toBe(403);
    const bad = await rest("PUT", base, { token: token.ops, json: { maxWaitMs: 500 } });
    expect(bad.status).toBe(400);
    expect(bad.data.error).toMatchObject({ code: "INVALID", field: "maxWaitMs" });
    const ok = await rest("PUT", base, { token: token.ops, json: { maxBatchSize: 64 } });
    expect(ok.status, JSON.stringify(ok.data)).toBe(200);
    expect((await rest("GET", base, { token: token.viewer })).data).toMatchObject({ maxBatchSize: 64 });
    expect((await expectAudit(ws.workspace.id, { action: "deployment.settings_changed", targetId: d.id })).metadata).toMatchObject({ name: d.name });
  });

  it("creates a key shown once, lists it by prefix, revokes it", async () => {
    const d = await deployment();
    const base = `/workspaces/${slug}/deployments/${d.name}/keys`;
    expect((await rest("POST", base, { token: token.ml_engineer, json: { name: "svc" } })).status).toBe(403);
    const noName = await rest("POST", base, { token: token.ops, json: { name: " " } });
    expect(noName.data.error).toMatchObject({ field: "name" });
    const created = await rest("POST", base, { token: token.ops, json: { name: "checkout" } });
    expect(created.status).toBe(201);
    expect(created.data.key).toMatch(/^stwd_/);
    const list = (await rest("GET", base, { token: token.viewer })).data as unknown as { id: string; name: string; prefix: string; key?: string }[];
    expect(list).toEqual([expect.objectContaining({ id: created.data.id, name: "checkout", prefix: String(created.data.key).slice(0, 12) })]);
    expect(JSON.stringify(list)).not.toContain(String(created.data.key));
    expect((await rest("DELETE", `${base}/not-a-uuid`, { token: token.ops })).data.error).toMatchObject({ field: "keyId" });
    expect((await rest("DELETE", `${base}/${String(created.data.id)}`, { token: token.ml_engineer })).status).toBe(403);
    expect((await rest("DELETE", `${base}/${String(created.data.id)}`, { token: token.ops })).data).toEqual({ revoked: true });
    await expectAudit(ws.workspace.id, { action: "deployment.key_created", targetId: String(created.data.id) });
    await expectAudit(ws.workspace.id, { action: "deployment.key_revoked", targetId: String(created.data.id) });
    expect((await rest("DELETE", `${base}/${String(created.data.id)}`, { token: token.ops })).status).toBe(404);
  });
});

describe("REST: monitoring, alert rules and incidents", () => {
  it("answers the overview and a deployment's series, drift and performance, naming bad query fields", async () => {
    const d = await deployment();
    const base = `/workspaces/${slug}/monitoring`;
    const overview = await rest("GET", base, { token: token.viewer });
    expect((overview.data as unknown as { name: string }[]).map((o) => o.name)).toContain(d.name);
    const traffic = await rest("GET", `${base}/${d.name}/traffic?range=6h`, { token: token.viewer });
    expect(traffic.status).toBe(200);
    expect(traffic.data).toHaveProperty("series");
    expect((await rest("GET", `${base}/${d.name}/traffic?range=2h`, { token: token.viewer })).data.error).toMatchObject({ field: "range" });
    expect((await rest("GET", `${base}/${d.name}/resources`, { token: token.viewer })).status).toBe(200);
    expect((await rest("GET", `${base}/${d.name}/drift`, { token: token.viewer })).data).toMatchObject({ latest: null });
    expect((await rest("GET", `${base}/${d.name}/performance?days=3`, { token: token.viewer })).data).toEqual([]);
    expect((await rest("GET", `${base}/${d.name}/performance?days=0`, { token: token.viewer })).data.error).toMatchObject({ field: "days" });
    expect((await rest("GET", `${base}/nope/drift`, { token: token.viewer })).status).toBe(404);
    // Drift on demand: ops, not a viewer; the job is queued and audited.
    expect((await rest("POST", `${base}/${d.name}/drift`, { token: token.viewer, json: {} })).status).toBe(403);
    expect((await rest("POST", `${base}/${d.name}/drift`, { token: token.ops, json: { windowMinutes: 1 } })).data.error).toMatchObject({
      field: "windowMinutes",
    });
    const drift = await rest("POST", `${base}/${d.name}/drift`, { token: token.ops, json: { windowMinutes: 30 } });
    expect([drift.status, drift.data]).toEqual([202, { queued: true }]);
    await expectAudit(ws.workspace.id, { action: "monitoring.drift_requested", targetId: d.id });
  });

  it("adds, changes and deletes an alert rule (ops), naming a bad field; deletion is refused while an incident is open", async () => {
    const d = await deployment();
    const base = `/workspaces/${slug}/monitoring/${d.name}/alerts`;
    const rule = { name: "Slow", metric: "latency_p99", threshold: 250, windowMinutes: 10, severity: "warning" };
    expect((await rest("POST", base, { token: token.ml_engineer, json: rule })).status).toBe(403);
    const bad = await rest("POST", base, { token: token.ops, json: { ...rule, metric: "vibes" } });
    expect([bad.status, bad.data.error?.field]).toEqual([400, "metric"]);
    const created = await rest("POST", base, { token: token.ops, json: rule });
    expect(created.status).toBe(201);
    const id = String(created.data.id);
    expect((await rest("PUT", `${base}/${id}`, { token: token.ops, json: { ...rule, threshold: 400 } })).status).toBe(200);
    const list = (await rest("GET", base, { token: token.viewer })).data as unknown as { rules: { id: string; threshold: number }[] };
    expect(list.rules.find((r) => r.id === id)).toMatchObject({ threshold: 400 });
    const saved = (await auditFor(ws.workspace.id, "alert.rule_saved")).filter((e) => e.targetId === id);
    expect(saved.map((e) => e.changes?.threshold ?? null)).toEqual([null, [250, 400]]);

    // A rule with an open incident stays until the incident is resolved.
    await mutate({ type: "system", job: "test", workspaceId: ws.workspace.id }, (tx, audit) =>
      fireSystemIncidentTx(tx, audit, { deploymentId: d.id, metric: "rollout_failed", message: `${d.name}: the rollout failed` }),
    );
    const [incident] = await getDb().select().from(alertIncidents).where(eq(alertIncidents.deploymentId, d.id));
    const rollout = String(incident!.ruleId);
    expect((await rest("DELETE", `${base}/${rollout}`, { token: token.ops })).status).toBe(412);
    await rest("POST", `/workspaces/${slug}/incidents/${incident!.id}/resolve`, { token: token.ops, json: { note: "done" } });
    expect((await rest("DELETE", `${base}/${rollout}`, { token: token.ops })).data).toEqual({ deleted: true });

    expect((await rest("DELETE", `${base}/${id}`, { token: token.ml_engineer })).status).toBe(403);
    expect((await rest("DELETE", `${base}/${id}`, { token: token.ops })).data).toEqual({ deleted: true });
    expect((await expectAudit(ws.workspace.id, { action: "alert.rule_deleted", targetId: id })).metadata).toMatchObject({ rule: "Slow", deployment: d.name });
    expect((await rest("DELETE", `${base}/${id}`, { token: token.ops })).status).toBe(404);
  });

  it("lists, acknowledges and resolves incidents with a note (ops), naming bad fields", async () => {
    const d = await deployment();
    await mutate({ type: "system", job: "test", workspaceId: ws.workspace.id }, (tx, audit) =>
      fireSystemIncidentTx(tx, audit, { deploymentId: d.id, metric: "rollout_failed", message: `${d.name}: the rollout failed` }),
    );
    const base = `/workspaces/${slug}/incidents`;
    const open = (await rest("GET", `${base}?status=open&deployment=${d.name}`, { token: token.viewer })).data as unknown as {
      id: string;
      rule: string;
      deployment: string;
      status: string;
    }[];
    expect(open).toEqual([expect.objectContaining({ rule: "Rollout failed", deployment: d.name, status: "firing" })]);
    const id = open[0]!.id;
    expect((await rest("GET", `${base}?status=closed`, { token: token.viewer })).data.error).toMatchObject({ field: "status" });
    expect((await rest("POST", `${base}/${id}/acknowledge`, { token: token.ml_engineer })).status).toBe(403);
    expect((await rest("POST", `${base}/${id}/acknowledge`, { token: token.ops })).data).toEqual({ acknowledged: true });
    await expectAudit(ws.workspace.id, { action: "alert.acknowledged", targetId: id });
    expect((await rest("POST", `${base}/${id}/resolve`, { token: token.ml_engineer, json: { note: "x" } })).status).toBe(403);
    const noNote = await rest("POST", `${base}/${id}/resolve`, { token: token.ops, json: {} });
    expect([noNote.status, noNote.data.error?.field]).toEqual([400, "note"]);
    expect((await rest("POST", `${base}/nope/resolve`, { token: token.ops, json: { note: "x" } })).data.error).toMatchObject({ field: "id" });
    const resolved = await rest("POST", `${base}/${id}/resolve`, { token: token.ops, json: { note: "Rolled back by hand." } });
    expect(resolved.data).toMatchObject({ status: "resolved", resolutionNote: "Rolled back by hand.", resolvedBy: member.ops.id });
    const ev = await expectAudit(ws.workspace.id, { action: "alert.resolved", targetId: id });
    expect([ev.actorId, ev.metadata]).toEqual([member.ops.id, expect.objectContaining({ note: "Rolled back by hand." })]);
    expect((await rest("POST", `${base}/${id}/resolve`, { token: token.ops, json: { note: "again" } })).status).toBe(412);
    expect((await rest("GET", `${base}?status=open&deployment=${d.name}`, { token: token.viewer })).data).toEqual([]);
  });
});

const POLICY: PolicyRules = {
  requiredApprovals: [
    { role: "reviewer", count: 1 },
    { role: "compliance_officer", count: 1 },
  ],
  minDistinctApprovers: 2,
  requiredChecks: [],
  allowRequesterApproval: false,
  approvalValidDays: 30,
};

describe("REST: reviews", () => {
  it("comments, requests and clears changes, and approves with e-signatures that re-authenticate by password", async () => {
    await applyPolicy({ ...ws, members: ws.members }, "production", POLICY);
    const opened = await rest("POST", `/workspaces/${slug}/reviews`, {
      token: token.ml_engineer,
      json: { model: "m", version: 2, alias: "production", summary: "Better on every slice." },
    });
    expect(opened.status, JSON.stringify(opened.data)).toBe(201);
    const n = Number(opened.data.number);
    const base = `/workspaces/${slug}/reviews/${n}`;
    const listed = (await rest("GET", `/workspaces/${slug}/reviews?status=open`, { token: token.viewer })).data as unknown as { number: number }[];
    expect(listed.map((r) => r.number)).toContain(n);
    expect((await rest("GET", `/workspaces/${slug}/reviews?status=maybe`, { token: token.viewer })).data.error).toMatchObject({ field: "status" });

    // Comments: anyone who participates, not a viewer; an empty one is refused.
    expect((await rest("POST", `${base}/comments`, { token: token.viewer, json: { body: "hi" } })).status).toBe(403);
    expect((await rest("POST", `${base}/comments`, { token: token.reviewer, json: { body: "Looks good; @nobody check the slices." } })).status).toBe(201);
    await expectAudit(ws.workspace.id, { action: "review.commented" });
    expect((await rest("POST", `${base}/comments`, { token: token.reviewer, json: { body: "x", threadId: "t" } })).data.error).toMatchObject({
      field: "threadId",
    });

    // Changes: reviewers, not the ML engineer; cleared by the reviewer.
    expect((await rest("POST", `${base}/changes`, { token: token.ml_engineer, json: { reason: "no" } })).status).toBe(403);
    expect((await rest("POST", `${base}/changes`, { token: token.reviewer, json: { reason: "Add the fairness slice." } })).status).toBe(201);
    await expectAudit(ws.workspace.id, { action: "review.changes_requested" });
    expect((await rest("DELETE", `${base}/changes`, { token: token.reviewer })).status).toBe(200);
    await expectAudit(ws.workspace.id, { action: "review.changes_cleared" });

    // Signatures: review:sign, the password again (a token alone cannot sign), named fields.
    const sig = (password: string, meaning = "Approved for production release") => ({ decision: "approve", meaning, password });
    expect((await rest("POST", `${base}/signatures`, { token: token.ml_engineer, json: sig(member.ml_engineer.password) })).status).toBe(403);
    expect((await rest("POST", `${base}/signatures`, { token: token.reviewer, json: { decision: "approve", meaning: "ok ok" } })).data.error).toMatchObject({
      field: "password",
    });
    expect((await rest("POST", `${base}/signatures`, { token: token.reviewer, json: sig(member.reviewer.password, "") })).data.error).toMatchObject({
      field: "meaning",
    });
    const wrong = await rest("POST", `${base}/signatures`, { token: token.reviewer, json: sig("not-the-password") });
    expect([wrong.status, wrong.data.error?.field]).toEqual([401, "password"]);
    await expectAudit(ws.workspace.id, { action: "review.signature_refused" });
    expect((await rest("POST", `${base}/signatures`, { token: token.reviewer, json: sig(member.reviewer.password) })).data).toEqual({ outcome: "signed" });
    const approved = await rest("POST", `${base}/signatures`, { token: token.compliance_officer, json: sig(member.compliance_officer.password) });
    expect([approved.status, approved.data]).toEqual([201, { outcome: "approved" }]);
    await expectAudit(ws.workspace.id, { action: "review.approved" });
    expect((await rest("GET", `/workspaces/${slug}/models/m`, { token: token.viewer })).data.aliases).toMatchObject(
      expect.arrayContaining([expect.objectContaining({ alias: "production", version: 2 })]),
    );
  });

  it("withdraws a request (its requester), not a viewer", async () => {
    const opened = await rest("POST", `/workspaces/${slug}/reviews`, {
      token: token.ml_engineer,
      json: { model: "m", version: 1, alias: "staging", summary: "For staging." },
    });
    expect(opened.status, JSON.stringify(opened.data)).toBe(201);
    const base = `/workspaces/${slug}/reviews/${String(opened.data.number)}`;
    expect((await rest("POST", `${base}/withdraw`, { token: token.viewer })).status).toBe(403);
    expect((await rest("POST", `${base}/withdraw`, { token: token.ml_engineer })).status).toBe(200);
    await expectAudit(ws.workspace.id, { action: "review.withdrawn" });
    expect((await rest("POST", `${base}/withdraw`, { token: token.ml_engineer })).status).toBe(412);
    expect((await rest("POST", `/workspaces/${slug}/reviews/zero/withdraw`, { token: token.ml_engineer })).data.error).toMatchObject({ field: "number" });
  });
});

describe("REST: members, invitations, workspace settings and audit queries", () => {
  it("lets admins invite, revoke, change roles and remove members; refuses others; names bad fields", async () => {
    const base = `/workspaces/${slug}`;
    const members = (await rest("GET", `${base}/members`, { token: token.viewer })).data as unknown as { userId: string; role: string }[];
    expect(members.length).toBe(ROLES_USED.length + 1);
    expect((await rest("POST", `${base}/invitations`, { token: token.ops, json: { email: "new@example.com", role: "viewer" } })).status).toBe(403);
    const badEmail = await rest("POST", `${base}/invitations`, { token: token.admin, json: { email: "not-an-email", role: "viewer" } });
    expect([badEmail.status, badEmail.data.error?.field]).toEqual([400, "email"]);
    expect((await rest("POST", `${base}/invitations`, { token: token.admin, json: { email: "new@example.com", role: "boss" } })).data.error).toMatchObject({
      field: "role",
    });
    const inv = await rest("POST", `${base}/invitations`, { token: token.admin, json: { email: "new@example.com", role: "viewer" } });
    expect(inv.status).toBe(201);
    expect(inv.data.token).toEqual(expect.any(String));
    expect((await rest("GET", `${base}/invitations`, { token: token.viewer })).status).toBe(403);
    const open = (await rest("GET", `${base}/invitations`, { token: token.admin })).data as unknown as { id: string; email: string }[];
    expect(open.map((i) => i.email)).toContain("new@example.com");
    expect((await rest("DELETE", `${base}/invitations/${String(inv.data.id)}`, { token: token.admin })).status).toBe(200);
    await expectAudit(ws.workspace.id, { action: "invitation.revoked", targetId: String(inv.data.id) });

    const viewer = member.viewer.id;
    expect((await rest("PUT", `${base}/members/${viewer}`, { token: token.ops, json: { role: "reviewer" } })).status).toBe(403);
    expect((await rest("PUT", `${base}/members/${viewer}`, { token: token.admin, json: { role: "emperor" } })).data.error).toMatchObject({ field: "role" });
    expect((await rest("PUT", `${base}/members/me`, { token: token.admin, json: { role: "viewer" } })).data.error).toMatchObject({ field: "userId" });
    expect((await rest("PUT", `${base}/members/${viewer}`, { token: token.admin, json: { role: "reviewer" } })).status).toBe(200);
    await expectAudit(ws.workspace.id, { action: "member.role_changed" });
    expect((await rest("PUT", `${base}/members/${viewer}`, { token: token.admin, json: { role: "viewer" } })).status).toBe(200);

    // Removing: a member who joined through an invitation made over REST.
    const joiner = await createUser();
    const inv2 = await rest("POST", `${base}/invitations`, { token: token.admin, json: { email: joiner.email, role: "ml_engineer" } });
    await acceptInvitation(joiner.actor, String(inv2.data.token));
    expect((await rest("DELETE", `${base}/members/${joiner.id}`, { token: token.ops })).status).toBe(403);
    expect((await rest("DELETE", `${base}/members/${joiner.id}`, { token: token.admin })).status).toBe(200);
    await expectAudit(ws.workspace.id, { action: "member.removed" });
    expect((await rest("DELETE", `${base}/members/${joiner.id}`, { token: token.admin })).status).toBe(404);
  });

  it("changes workspace settings (admins) and answers the audit explorer's query with pages", async () => {
    const base = `/workspaces/${slug}`;
    expect((await rest("PUT", `${base}/settings/retention`, { token: token.ops, json: { predictionRetentionDays: 60 } })).status).toBe(403);
    expect((await rest("PUT", `${base}/settings/retention`, { token: token.admin, json: { predictionRetentionDays: 0 } })).data.error).toMatchObject({
      field: "predictionRetentionDays",
    });
    expect((await rest("PUT", `${base}/settings/retention`, { token: token.admin, json: { predictionRetentionDays: 60 } })).status).toBe(200);
    await expectAudit(ws.workspace.id, { action: "workspace.retention_changed" });
    expect((await rest("GET", `${base}/settings`, { token: token.viewer })).data).toMatchObject({ predictionRetentionDays: 60 });

    const page1 = await rest("GET", `${base}/audit/events?limit=2`, { token: token.viewer });
    const p1 = page1.data as unknown as { items: { seq: number }[]; nextCursor: number | null };
    expect(p1.items).toHaveLength(2);
    const p2 = (await rest("GET", `${base}/audit/events?limit=2&cursor=${p1.nextCursor}`, { token: token.viewer })).data as unknown as typeof p1;
    expect(p2.items[0]!.seq).toBeLessThan(p1.items[1]!.seq);
    const members = (await rest("GET", `${base}/audit/events?action=member.joined`, { token: token.viewer })).data as unknown as typeof p1;
    expect(members.items.length).toBeGreaterThanOrEqual(ROLES_USED.length);
    expect(new Set(members.items.map((e) => (e as unknown as { action: string }).action))).toEqual(new Set(["member.joined"]));
    expect((await rest("GET", `${base}/audit/events?action=member.danced`, { token: token.viewer })).data.error).toMatchObject({ field: "action" });
    expect((await rest("GET", `${base}/audit/events?limit=0`, { token: token.viewer })).data.error).toMatchObject({ field: "limit" });
    expect((await rest("GET", `${base}/audit/events`)).status).toBe(401);

    expect((await rest("POST", `${base}/audit/checkpoints`, { token: token.ml_engineer })).status).toBe(403);
    expect((await rest("POST", `${base}/audit/checkpoints`, { token: token.compliance_officer })).status).toBe(201);
    await expectAudit(ws.workspace.id, { action: "audit.checkpoint_signed" });
    expect((await rest("POST", `${base}/audit/verify`, { token: token.viewer })).data).toMatchObject({ intact: true });
  });
});

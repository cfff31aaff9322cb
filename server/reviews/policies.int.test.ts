import { Readable } from "node:stream";
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "~/db/client";
import { approvalPolicies, notifications, policyChanges } from "~/db/schema";
import type { PolicyRules } from "~/db/schema/reviews";
import { createWorkspace } from "~/db/seed/factories";
import { logisticRegressionOnnx } from "~/db/seed/onnx-builder";
import { uploadModelVersion } from "~/server/registry/models.service";
import { createToken } from "~/server/tokens/tokens.service";
import { auditFor, callerFor, expectAudit, expectTrpcError } from "~/test/helpers";
import { rest } from "~/test/rest-client";
import { DEFAULT_POLICIES } from "./policy";

const PROD = DEFAULT_POLICIES.production!;
const WEAK: PolicyRules = { ...PROD, requiredApprovals: [{ role: "reviewer", count: 1 }], minDistinctApprovers: 1, canaryBeforeApproval: { maxPercent: 20 } };

async function setup() {
  const ws = await createWorkspace({ members: [{ role: "admin" }, { role: "reviewer" }, { role: "ml_engineer" }, { role: "admin" }] });
  const [admin, rev, eng, admin2] = ws.members;
  const wsId = ws.workspace.id;
  const policies = (u: { id: string; email: string }) => callerFor(u).policies;
  const prod = async () => (await policies(eng!).list({ workspaceId: wsId })).find((p) => p.alias === "production")!;
  return { ...ws, admin: admin!, rev: rev!, eng: eng!, admin2: admin2!, wsId, policies, prod };
}

describe("policy changes need a second admin or owner", () => {
  it("one admin cannot weaken a protected alias's policy alone: it waits, the old policy applies, self-approval is refused, a second admin applies it with before and after", async () => {
    const s = await setup();
    const proposed = await s.policies(s.owner).save({ workspaceId: s.wsId, alias: "production", rules: WEAK, reason: "Pilot: one reviewer is enough" });
    expect(proposed).toMatchObject({ pending: true, baseVersion: 0, approvers: 2 });
    const changeId = (proposed as { changeId: string }).changeId;

    // Nothing applied: the default still governs, the change is shown with its diff.
    let prod = await s.prod();
    expect(prod).toMatchObject({ source: "default", version: 0, rules: { ...PROD, canaryBeforeApproval: null } });
    expect(prod.pendingChange).toMatchObject({ id: changeId, proposedBy: { id: s.owner.id }, reason: "Pilot: one reviewer is enough", stale: false });
    expect(prod.pendingChange!.diff.map((d) => [d.label, d.before, d.after, d.weakens])).toEqual([
      ["compliance officer approvals", "1", "0", true],
      ["Distinct approvers", "2", "1", true],
      ["Canary before approval", "off", "up to 20%", true],
    ]);
    await expectAudit(s.wsId, { action: "policy.change_proposed" });
    expect(await getDb().select().from(approvalPolicies).where(eq(approvalPolicies.workspaceId, s.wsId))).toEqual([]);
    // The other admins hear about it; the proposer does not.
    const asked = await getDb()
      .select()
      .from(notifications)
      .where(and(eq(notifications.workspaceId, s.wsId), eq(notifications.kind, "approval_needed")));
    expect(new Set(asked.map((n) => n.userId))).toEqual(new Set([s.admin.id, s.admin2.id]));
    expect(asked[0]!.body).toContain("Weakens: compliance officer approvals 1 → 0");

    // One at a time; nobody approves their own change; members who are not admins cannot decide.
    await expectTrpcError(
      s.policies(s.admin).save({ workspaceId: s.wsId, alias: "production", rules: PROD, active: false }),
      "CONFLICT",
      /waiting for approval/,
    );
    await expectTrpcError(s.policies(s.owner).decide({ workspaceId: s.wsId, id: changeId, decision: "approve" }), "FORBIDDEN", /You proposed this change/);
    await expectTrpcError(s.policies(s.rev).decide({ workspaceId: s.wsId, id: changeId, decision: "approve" }), "FORBIDDEN");
    await expectTrpcError(s.policies(s.admin).withdraw({ workspaceId: s.wsId, id: changeId }), "FORBIDDEN", /Only the admin who proposed/);
    expect((await s.prod()).version).toBe(0);

    const approved = await s.policies(s.admin).decide({ workspaceId: s.wsId, id: changeId, decision: "approve", note: "For the pilot quarter." });
    expect(approved).toMatchObject({ status: "approved", version: 1 });
    prod = await s.prod();
    expect(prod).toMatchObject({ source: "workspace", version: 1, rules: WEAK, approvedBy: s.admin.name, pendingChange: null });
    const [row] = await getDb().select().from(approvalPolicies).where(eq(approvalPolicies.workspaceId, s.wsId));
    expect(row).toMatchObject({ createdBy: s.owner.id, approvedBy: s.admin.id, version: 1 });
    const ev = await expectAudit(s.wsId, { action: "policy.change_approved" });
    expect(ev.changes).toEqual({ rules: [PROD, WEAK], active: [true, true] });
    expect(ev.metadata).toMatchObject({
      alias: "production",
      changeId,
      version: 1,
      proposedBy: s.owner.id,
      approvedBy: s.admin.id,
      weakens: ["compliance officer approvals", "Distinct approvers", "Canary before approval"],
    });
    await expectTrpcError(s.policies(s.admin2).decide({ workspaceId: s.wsId, id: changeId, decision: "approve" }), "PRECONDITION_FAILED", /already approved/);
  });

  it("switching a policy off waits too (the alias stays protected), and can be rejected or withdrawn", async () => {
    const s = await setup();
    await uploadModelVersion(
      s.eng.wsActor,
      { name: "risk", filename: "risk.onnx" },
      Readable.from([Buffer.from(logisticRegressionOnnx({ weights: [1, 1], bias: 0, featureNames: ["a", "b"] }))]),
    );
    const off = await s.policies(s.admin).save({ workspaceId: s.wsId, alias: "production", rules: PROD, active: false });
    expect(off).toMatchObject({ pending: true });
    const offId = (off as { changeId: string }).changeId;
    expect((await s.prod()).pendingChange!.diff).toEqual([{ field: "active", label: "Protection", before: "on", after: "off", weakens: true }]);
    await expectTrpcError(
      callerFor(s.eng).models.setAlias({ workspaceId: s.wsId, name: "risk", alias: "production", version: 1 }),
      "PRECONDITION_FAILED",
      /protected by an approval policy/,
    );
    expect(await s.policies(s.owner).decide({ workspaceId: s.wsId, id: offId, decision: "reject", note: "Production stays gated." })).toMatchObject({
      status: "rejected",
    });
    const rejected = await expectAudit(s.wsId, { action: "policy.change_rejected" });
    expect(rejected.changes).toEqual({ rules: [PROD, { ...PROD, canaryBeforeApproval: null }], active: [true, false] });
    expect(rejected.metadata).toMatchObject({ note: "Production stays gated.", proposedBy: s.admin.id });
    expect((await getDb().select().from(policyChanges).where(eq(policyChanges.id, offId)))[0]).toMatchObject({ status: "rejected", decidedBy: s.owner.id });
    await expectTrpcError(
      callerFor(s.eng).models.setAlias({ workspaceId: s.wsId, name: "risk", alias: "production", version: 1 }),
      "PRECONDITION_FAILED",
      /protected/,
    );

    const again = (await s.policies(s.admin).save({ workspaceId: s.wsId, alias: "production", rules: PROD, active: false })) as { changeId: string };
    await s.policies(s.admin).withdraw({ workspaceId: s.wsId, id: again.changeId });
    await expectAudit(s.wsId, { action: "policy.change_withdrawn" });
    expect((await s.prod()).pendingChange).toBeNull();
    expect(await getDb().select().from(approvalPolicies).where(eq(approvalPolicies.workspaceId, s.wsId))).toEqual([]);
  });

  it("an alias without any policy gets its first one at once; later changes wait; a change proposed against an older version is refused as stale", async () => {
    const s = await setup();
    const first = await s.policies(s.owner).save({ workspaceId: s.wsId, alias: "champion", rules: PROD });
    expect(first).toEqual({ pending: false, alias: "champion", version: 1, active: true });
    await expectAudit(s.wsId, { action: "policy.saved" });
    const change = (await s.policies(s.owner).save({ workspaceId: s.wsId, alias: "champion", rules: { ...PROD, approvalValidDays: 90 } })) as {
      pending: true;
      changeId: string;
      baseVersion: number;
    };
    expect(change).toMatchObject({ pending: true, baseVersion: 1 });
    // A newer version lands by another path (e.g. an older web process during a rolling deploy).
    await getDb()
      .insert(approvalPolicies)
      .values({
        workspaceId: s.wsId,
        alias: "champion",
        version: 2,
        rules: { ...PROD, approvalValidDays: 10 },
        active: true,
        createdBy: s.admin.id,
        approvedBy: s.owner.id,
      });
    expect((await s.policies(s.eng).list({ workspaceId: s.wsId })).find((p) => p.alias === "champion")!.pendingChange!.stale).toBe(true);
    await expectTrpcError(
      s.policies(s.admin).decide({ workspaceId: s.wsId, id: change.changeId, decision: "approve" }),
      "CONFLICT",
      /proposed against version 1 of the "champion" policy, which is at version 2 now/,
    );
    expect((await getDb().select().from(policyChanges).where(eq(policyChanges.id, change.changeId)))[0]!.status).toBe("stale");
    const stale = (await auditFor(s.wsId, "policy.change_rejected")).at(-1)!;
    expect(stale.metadata).toMatchObject({ stale: true, baseVersion: 1, currentVersion: 2 });
    const versions = await getDb()
      .select({ v: approvalPolicies.version, days: approvalPolicies.rules })
      .from(approvalPolicies)
      .where(and(eq(approvalPolicies.workspaceId, s.wsId), eq(approvalPolicies.alias, "champion")));
    expect(versions.map((x) => x.v).sort()).toEqual([1, 2]);
  });

  it("validates the canary-before-approval option and works over REST with tokens", async () => {
    const s = await setup();
    await expectTrpcError(
      s.policies(s.owner).save({ workspaceId: s.wsId, alias: "production", rules: { ...PROD, canaryBeforeApproval: { maxPercent: 60 } } }),
      "BAD_REQUEST",
      /at most 50/,
    );
    await expectTrpcError(
      s.policies(s.owner).save({ workspaceId: s.wsId, alias: "production", rules: { ...PROD, canaryBeforeApproval: { maxPercent: 0 } } }),
      "BAD_REQUEST",
      /at least 1/,
    );
    const ownerToken = (await createToken(s.owner.wsActor, { workspaceId: s.wsId, name: "o", role: "owner" })).token;
    const adminToken = (await createToken(s.admin.wsActor, { workspaceId: s.wsId, name: "a", role: "admin" })).token;
    const slug = s.workspace.slug;
    const put = await rest("PUT", `/workspaces/${slug}/policies/production`, {
      token: ownerToken,
      json: { rules: { ...PROD, canaryBeforeApproval: { maxPercent: 10 } } },
    });
    expect(put.status).toBe(200);
    expect(put.data).toMatchObject({ pending: true });
    const id = put.data.changeId as string;
    expect((await rest("POST", `/workspaces/${slug}/policy-changes/${id}/decision`, { token: ownerToken, json: { decision: "approve" } })).status).toBe(403);
    const ok = await rest("POST", `/workspaces/${slug}/policy-changes/${id}/decision`, { token: adminToken, json: { decision: "approve" } });
    expect(ok.status).toBe(200);
    expect(ok.data).toMatchObject({ status: "approved", version: 1 });
    const list = await rest("GET", `/workspaces/${slug}/policies`, { token: adminToken });
    expect((list.data as unknown as { alias: string; rules: PolicyRules }[]).find((p) => p.alias === "production")!.rules.canaryBeforeApproval).toEqual({
      maxPercent: 10,
    });
  });
});

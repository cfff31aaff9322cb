import { Readable } from "node:stream";
import { and, eq, sql } from "drizzle-orm";
import { SMTPServer } from "smtp-server";
import { describe, expect, it } from "vitest";
import { freePort } from "~/bin/lib/embedded-pg";
import { getDb } from "~/db/client";
import { auditEvents, modelAliases, notifications, reviewSignatures } from "~/db/schema";
import { createWorkspace } from "~/db/seed/factories";
import { logisticRegressionOnnx } from "~/db/seed/onnx-builder";
import { uploadModelVersion } from "~/server/registry/models.service";
import type { PolicyRules } from "~/db/schema/reviews";
import { callerFor, expectAudit, expectTrpcError } from "~/test/helpers";
import { applyPolicy } from "~/test/reviews";
import { sendEmails } from "./notifications.service";
import { signatureRecordHash } from "./signature-record";

const NO_CHECKS: PolicyRules = {
  requiredApprovals: [
    { role: "reviewer", count: 1 },
    { role: "compliance_officer", count: 1 },
  ],
  minDistinctApprovers: 2,
  requiredChecks: [],
  allowRequesterApproval: false,
  approvalValidDays: 30,
};

async function setup(extraReviewers = 0) {
  const ws = await createWorkspace({
    members: [
      { role: "ml_engineer" },
      { role: "reviewer" },
      { role: "compliance_officer" },
      { role: "admin" },
      ...Array.from({ length: extraReviewers }, () => ({ role: "reviewer" as const })),
    ],
  });
  const [eng, rev, comp, admin, ...more] = ws.members;
  const push = (w: number) =>
    uploadModelVersion(
      eng!.wsActor,
      { name: "risk", filename: "risk.onnx" },
      Readable.from([Buffer.from(logisticRegressionOnnx({ weights: [w, 1], bias: 0, featureNames: ["a", "b"] }))]),
    );
  await push(1);
  await push(2);
  const wsId = ws.workspace.id;
  await applyPolicy(ws, "production", NO_CHECKS);
  const api = (u: { id: string; email: string }) => callerFor(u).reviews;
  const sign = (u: (typeof ws.members)[number], number: number, decision: "approve" | "reject" = "approve", password = u.password) =>
    api(u).sign({
      workspaceId: wsId,
      number,
      decision,
      meaning: decision === "approve" ? "Approved for production release" : "Rejected for production release",
      reason: decision === "reject" ? "AUC too low on the north slice" : undefined,
      password,
    });
  return { ...ws, eng: eng!, rev: rev!, comp: comp!, admin: admin!, more, wsId, api, sign };
}

const holder = async (wsId: string, alias = "production") => {
  const rows = await getDb().execute<{ version: number }>(
    sql`select v.version from model_aliases a join model_versions v on v.id = a.model_version_id join models m on m.id = a.model_id where m.workspace_id = ${wsId} and a.alias = ${alias}`,
  );
  return rows[0]?.version ?? null;
};

describe("review requests and e-signatures", () => {
  it("opens a review, refuses self-approval and wrong passwords, and moves the alias once the policy is satisfied", async () => {
    const s = await setup();
    const { number } = await s
      .api(s.eng)
      .open({ workspaceId: s.wsId, model: "risk", version: 2, alias: "production", summary: "Better calibrated.", assignees: [s.rev.id] });
    expect(number).toBe(1);
    await expectAudit(s.wsId, { action: "review.opened" });
    let room = await s.api(s.eng).get({ workspaceId: s.wsId, number });
    expect(room.state!.checklist.filter((c) => !c.ok).map((c) => c.text)).toEqual([
      "needs 1 reviewer approval",
      "needs 1 compliance officer approval",
      "needs 2 more distinct approvers (0 of 2)",
    ]);
    expect(room.card!.markdown).toContain("## Intended use");
    // Assigned and needed people hear about it.
    const inbox = async (u: { id: string }) => getDb().select().from(notifications).where(eq(notifications.userId, u.id));
    expect((await inbox(s.rev)).map((n) => n.kind)).toEqual(["review_assigned"]);
    expect((await inbox(s.comp)).map((n) => n.kind)).toEqual(["approval_needed"]);

    // Nobody approves their own work: the requester (an ml_engineer cannot sign at all) and an admin who opened one.
    await expectTrpcError(s.sign(s.eng, number), "FORBIDDEN");
    // A wrong password: refused, audited, nothing recorded.
    await expectTrpcError(s.sign(s.rev, number, "approve", "not-my-password"), "UNAUTHORIZED", /password is incorrect/);
    await expectAudit(s.wsId, { action: "review.signature_refused" });
    expect(await getDb().select().from(reviewSignatures).where(eq(reviewSignatures.requestId, room.id))).toEqual([]);

    expect((await s.sign(s.rev, number)).outcome).toBe("signed");
    expect(await holder(s.wsId)).toBeNull();
    expect((await s.sign(s.comp, number)).outcome).toBe("approved");
    expect(await holder(s.wsId)).toBe(2);
    room = await s.api(s.eng).get({ workspaceId: s.wsId, number });
    expect(room.status).toBe("approved");
    expect(room.state!.satisfied).toBe(true);
    const moved = await expectAudit(s.wsId, { action: "model.alias_moved" });
    expect(moved.metadata).toMatchObject({ alias: "production", review: 1 });
    await expectAudit(s.wsId, { action: "review.approved" });

    // The signature record: who, role then, meaning, UTC time, artifact and evidence hashes; bound to its request.
    const [sig] = await getDb()
      .select()
      .from(reviewSignatures)
      .where(and(eq(reviewSignatures.requestId, room.id), eq(reviewSignatures.signerId, s.comp.id)));
    expect(sig).toMatchObject({
      signerName: s.comp.name,
      role: "compliance_officer",
      decision: "approve",
      meaning: "Approved for production release",
      artifactSha256: room.version.sha256,
      method: "password",
    });
    expect(sig!.recordHash).toBe(signatureRecordHash({ ...sig!, reason: sig!.reason }));
    expect(signatureRecordHash({ ...sig!, requestId: "00000000-0000-0000-0000-000000000000" })).not.toBe(sig!.recordHash);
    const [signedEvent] = await getDb()
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.workspaceId, s.wsId), eq(auditEvents.action, "review.signed"), sql`${auditEvents.metadata}->>'signerId' = ${s.comp.id}`));
    expect(signedEvent!.metadata).toMatchObject({ recordHash: sig!.recordHash, evidenceHash: sig!.evidenceHash });
    // Signatures cannot be edited.
    await expect(getDb().update(reviewSignatures).set({ meaning: "forged" }).where(eq(reviewSignatures.id, sig!.id))).rejects.toThrow();
    // Closed: no more signatures.
    await expectTrpcError(s.sign(s.admin, number), "PRECONDITION_FAILED", /already approved/);
    expect((await inbox(s.eng)).some((n) => n.kind === "decision" && n.title.includes("approved"))).toBe(true);
  });

  it("locks signing after five wrong passwords, even for the right one, and audits every refusal", async () => {
    const s = await setup();
    const { number } = await s.api(s.eng).open({ workspaceId: s.wsId, model: "risk", version: 2, alias: "production", summary: "x" });
    for (let i = 0; i < 5; i++) await expectTrpcError(s.sign(s.rev, number, "approve", `wrong-${i}`), "UNAUTHORIZED", /password is incorrect/);
    await expectTrpcError(s.sign(s.rev, number), "TOO_MANY_REQUESTS", /Too many wrong passwords when signing\. Try again in 15 minutes/);
    const refused = await getDb()
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.workspaceId, s.wsId), eq(auditEvents.action, "review.signature_refused")));
    expect(refused).toHaveLength(5);
    expect(await getDb().select().from(reviewSignatures).where(eq(reviewSignatures.signerId, s.rev.id))).toEqual([]);
    // Another signer is not affected.
    expect((await s.sign(s.comp, number)).outcome).toBe("signed");
  });

  it("makes earlier approvals stale when the evidence changes, and counts a re-approval", async () => {
    const s = await setup();
    const { number } = await s.api(s.eng).open({ workspaceId: s.wsId, model: "risk", version: 2, alias: "production", summary: "x" });
    await s.sign(s.rev, number);
    const room = await s.api(s.eng).get({ workspaceId: s.wsId, number });
    await s.api(s.eng).updateCard({ workspaceId: s.wsId, number, markdown: "## Intended use\n\nLoan pre-screening only.", baseRevision: room.card!.revision });
    await expectTrpcError(
      s.api(s.comp).updateCard({ workspaceId: s.wsId, number, markdown: "stale edit", baseRevision: room.card!.revision }),
      "CONFLICT",
      /reload it/,
    );
    expect((await s.sign(s.comp, number)).outcome).toBe("signed");
    const after = await s.api(s.eng).get({ workspaceId: s.wsId, number });
    expect(after.state!.checklist.filter((c) => !c.ok).map((c) => c.text)).toContain(
      `${s.rev.name}'s approval is stale: the evidence changed since they signed`,
    );
    expect(await holder(s.wsId)).toBeNull();
    expect((await s.sign(s.rev, number)).outcome).toBe("approved");
    expect(await holder(s.wsId)).toBe(2);
  });

  it("moves the alias exactly once when many approvals race", async () => {
    const s = await setup(6);
    await applyPolicy(s, "production", { ...NO_CHECKS, requiredApprovals: [{ role: "reviewer", count: 1 }], minDistinctApprovers: 1 });
    const { number } = await s.api(s.eng).open({ workspaceId: s.wsId, model: "risk", version: 2, alias: "production", summary: "race" });
    const signers = [s.rev, s.admin, ...s.more];
    const results = await Promise.allSettled(signers.map((u) => s.sign(u, number)));
    const approved = results.filter((r) => r.status === "fulfilled" && r.value.outcome === "approved");
    expect(approved).toHaveLength(1);
    for (const r of results) if (r.status === "rejected") expect(String(r.reason)).toMatch(/already approved/);
    const moves = await getDb()
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.workspaceId, s.wsId), eq(auditEvents.action, "model.alias_moved")));
    expect(moves).toHaveLength(1);
    expect(
      (
        await getDb()
          .select()
          .from(modelAliases)
          .where(and(eq(modelAliases.workspaceId, s.wsId), eq(modelAliases.alias, "production")))
      ).length,
    ).toBe(1);
  });

  it("blocks approval while a reviewer's change request is open, until that reviewer clears it; rejects with a reason", async () => {
    const s = await setup();
    const { number } = await s.api(s.eng).open({ workspaceId: s.wsId, model: "risk", version: 2, alias: "production", summary: "x" });
    await s.api(s.rev).requestChanges({ workspaceId: s.wsId, number, reason: "Fill in the limitations." });
    await s.sign(s.admin, number);
    expect((await s.sign(s.comp, number)).outcome).toBe("signed");
    const room = await s.api(s.eng).get({ workspaceId: s.wsId, number });
    expect(room.state!.checklist.filter((c) => !c.ok).map((c) => c.text)).toEqual([`${s.rev.name} requested changes: Fill in the limitations.`]);
    await expectTrpcError(s.api(s.admin).clearChanges({ workspaceId: s.wsId, number }), "PRECONDITION_FAILED", /only the reviewer who asked/);
    await s.api(s.rev).clearChanges({ workspaceId: s.wsId, number });
    expect(await holder(s.wsId)).toBe(2);

    const second = await s.api(s.eng).open({ workspaceId: s.wsId, model: "risk", version: 1, alias: "production", summary: "roll back" });
    expect((await s.sign(s.comp, second.number, "reject")).outcome).toBe("rejected");
    const closed = await s.api(s.eng).get({ workspaceId: s.wsId, number: second.number });
    expect(closed).toMatchObject({ status: "rejected", closedReason: "AUC too low on the north slice" });
    expect(await holder(s.wsId)).toBe(2);
  });

  it("versions and audits policies; refuses bad rules; an alias without a policy moves directly", async () => {
    const s = await setup();
    await expectTrpcError(
      callerFor(s.owner).policies.save({ workspaceId: s.wsId, alias: "production", rules: { ...NO_CHECKS, minDistinctApprovers: 0 } }),
      "BAD_REQUEST",
      /somebody must approve/,
    );
    await expectTrpcError(callerFor(s.rev).policies.save({ workspaceId: s.wsId, alias: "production", rules: NO_CHECKS }), "FORBIDDEN");
    await expectTrpcError(
      callerFor(s.owner).policies.save({ workspaceId: s.wsId, alias: "production", rules: NO_CHECKS }),
      "PRECONDITION_FAILED",
      /Nothing changed/,
    );
    await applyPolicy(s, "staging", NO_CHECKS, { active: false });
    const list = await callerFor(s.eng).policies.list({ workspaceId: s.wsId });
    expect(list.map((p) => [p.alias, p.version, p.active, p.source])).toEqual([
      ["production", 1, true, "workspace"],
      ["staging", 1, false, "workspace"],
    ]);
    const ev = await expectAudit(s.wsId, { action: "policy.change_approved" });
    expect(ev.changes).toMatchObject({
      rules: [expect.objectContaining({ minDistinctApprovers: 2, requiredChecks: ["*"] }), expect.objectContaining({ requiredChecks: [] })],
    });
    // staging is no longer protected: it moves directly; a review for it is refused.
    await callerFor(s.eng).models.setAlias({ workspaceId: s.wsId, name: "risk", alias: "staging", version: 1 });
    await expectTrpcError(
      s.api(s.eng).open({ workspaceId: s.wsId, model: "risk", version: 2, alias: "staging", summary: "x" }),
      "PRECONDITION_FAILED",
      /not protected/,
    );
  });
});

describe("review comments and notifications", () => {
  it("notifies a mention by handle (the e-mail's local part, unique in the workspace) as the room's autocomplete writes it; an unknown handle notifies nobody", async () => {
    const s = await setup();
    const { number } = await s.api(s.eng).open({ workspaceId: s.wsId, model: "risk", version: 2, alias: "production", summary: "x" });
    await s
      .api(s.eng)
      .comment({ workspaceId: s.wsId, number, body: `@${s.rev.email.split("@")[0]!.toUpperCase()}, the north slice? cc @nobody-here.`, anchor: "card" });
    const mentions = await getDb()
      .select({ userId: notifications.userId })
      .from(notifications)
      .where(and(eq(notifications.workspaceId, s.wsId), eq(notifications.kind, "mention")));
    expect(mentions).toEqual([{ userId: s.rev.id }]);
  });

  it("threads comments, notifies mentions, keeps edit history, resolves and reopens; e-mails through SMTP", async () => {
    const s = await setup();
    const { number } = await s.api(s.eng).open({ workspaceId: s.wsId, model: "risk", version: 2, alias: "production", summary: "x" });
    const { threadId } = await s.api(s.eng).comment({ workspaceId: s.wsId, number, body: `What do you think, @${s.comp.email}?`, anchor: "card" });
    const mention = (
      await getDb()
        .select()
        .from(notifications)
        .where(and(eq(notifications.userId, s.comp.id), eq(notifications.kind, "mention")))
    )[0];
    expect(mention).toMatchObject({ title: `${s.eng.name} mentioned you in review #1`, actorLabel: s.eng.name, link: expect.stringMatching(/\/reviews\/1$/) });
    const reply = await s.api(s.comp).comment({ workspaceId: s.wsId, number, body: "Add the **limitations**.", threadId });
    await expectTrpcError(s.api(s.rev).editComment({ workspaceId: s.wsId, number, commentId: reply.id, body: "hijack" }), "FORBIDDEN");
    await s.api(s.comp).editComment({ workspaceId: s.wsId, number, commentId: reply.id, body: "Add the **limitations** section." });
    const history = await s.api(s.eng).commentHistory({ workspaceId: s.wsId, number, commentId: reply.id });
    expect(history).toMatchObject({ current: "Add the **limitations** section.", earlier: [{ body: "Add the **limitations**." }] });
    await s.api(s.eng).resolveThread({ workspaceId: s.wsId, number, threadId, resolved: true });
    let room = await s.api(s.rev).get({ workspaceId: s.wsId, number });
    expect(room.threads).toHaveLength(1);
    expect(room.threads[0]).toMatchObject({ anchor: "card", resolvedAt: expect.any(Date) });
    expect(room.threads[0]!.comments.map((c) => [c.author, c.edits])).toEqual([
      [s.eng.name, 0],
      [s.comp.name, 1],
    ]);
    await s.api(s.rev).comment({ workspaceId: s.wsId, number, body: "Reopening: the north slice.", threadId });
    room = await s.api(s.rev).get({ workspaceId: s.wsId, number });
    expect(room.threads[0]!.resolvedAt).toBeNull();
    await expectTrpcError(s.api(s.eng).comment({ workspaceId: s.wsId, number, body: "x", anchor: "<script>" }), "BAD_REQUEST", /anchor must be/);
    expect(await callerFor(s.comp).notifications.unreadCount()).toBeGreaterThanOrEqual(2);
    await callerFor(s.comp).notifications.markRead({ ids: "all" });
    expect(await callerFor(s.comp).notifications.unreadCount()).toBe(0);

    // E-mail through a real SMTP server on loopback.
    const received: string[] = [];
    const port = await freePort();
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      onData(stream, _session, done) {
        let text = "";
        stream.on("data", (c: Buffer) => (text += c.toString()));
        stream.on("end", () => (received.push(text), done()));
      },
    });
    await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
    try {
      await sendEmails([mention!.id], `smtp://127.0.0.1:${port}`);
      expect(received).toHaveLength(1);
      const mail = received[0]!.replace(/\r\n[ \t]+/g, " ");
      expect(mail).toContain(`To: ${s.comp.name} <${s.comp.email}>`);
      expect(mail).toContain(`Subject: [Steward] ${s.eng.name} mentioned you in review #1`);
      expect(mail).toMatch(/Open it: http:\/\/\S+\/w\/ws-[\w-]+\/reviews\/1/);
      const [again] = await getDb().select().from(notifications).where(eq(notifications.id, mention!.id));
      expect(again!.emailedAt).not.toBeNull();
      await sendEmails([mention!.id], `smtp://127.0.0.1:${port}`);
      expect(received).toHaveLength(1);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

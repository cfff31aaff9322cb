import { Readable } from "node:stream";
import { and, eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "~/db/client";
import { modelAliases, models, modelVersions, notifications, reviewRequests, reviewSignatures } from "~/db/schema";
import type { PolicyRules } from "~/db/schema/reviews";
import { createWorkspace } from "~/db/seed/factories";
import { logisticRegressionOnnx } from "~/db/seed/onnx-builder";
import { mutate } from "~/server/audit/mutate";
import { lockAlias, moveAliasTx } from "~/server/registry/aliases.service";
import { seedAlias, uploadModelVersion } from "~/server/registry/models.service";
import { auditFor, callerFor, expectAudit, expectTrpcError } from "~/test/helpers";
import { applyPolicy } from "~/test/reviews";
import { signatureRecordHash, verifySignatureRecord } from "./signature-record";

const TWO: PolicyRules = {
  requiredApprovals: [
    { role: "reviewer", count: 1 },
    { role: "compliance_officer", count: 1 },
  ],
  minDistinctApprovers: 2,
  requiredChecks: [],
  allowRequesterApproval: false,
  approvalValidDays: 30,
};
const ONE: PolicyRules = { ...TWO, requiredApprovals: [{ role: "reviewer", count: 1 }], minDistinctApprovers: 1 };

async function setup(rules: PolicyRules, versions = 3, modelNames = ["risk"]) {
  const ws = await createWorkspace({
    members: [{ role: "ml_engineer" }, { role: "reviewer" }, { role: "compliance_officer" }, { role: "admin" }, { role: "reviewer" }],
  });
  const [eng, rev, comp, admin, rev2] = ws.members;
  for (const name of modelNames) {
    for (let w = 1; w <= versions; w++)
      await uploadModelVersion(
        eng!.wsActor,
        { name, filename: `${name}.onnx` },
        Readable.from([Buffer.from(logisticRegressionOnnx({ weights: [w, 1], bias: 0, featureNames: ["a", "b"] }))]),
      );
  }
  const wsId = ws.workspace.id;
  await applyPolicy(ws, "production", rules);
  const api = (u: { id: string; email: string }) => callerFor(u).reviews;
  const open = (version: number, model = "risk") =>
    api(eng!)
      .open({ workspaceId: wsId, model, version, alias: "production", summary: `v${version} for production` })
      .then((r) => r.number);
  const sign = (u: (typeof ws.members)[number], number: number) =>
    api(u).sign({ workspaceId: wsId, number, decision: "approve", meaning: "Approved for production release", password: u.password });
  const room = (number: number) => api(eng!).get({ workspaceId: wsId, number });
  const holder = async (model = "risk") => {
    const rows = await getDb().execute<{ version: number }>(
      sql`select v.version from model_aliases a join model_versions v on v.id = a.model_version_id join models m on m.id = a.model_id where m.workspace_id = ${wsId} and m.name = ${model} and a.alias = 'production'`,
    );
    return rows[0]?.version ?? null;
  };
  const sigsOf = async (number: number) => {
    const [r] = await getDb()
      .select({ id: reviewRequests.id })
      .from(reviewRequests)
      .where(and(eq(reviewRequests.workspaceId, wsId), eq(reviewRequests.number, number)));
    return getDb().select().from(reviewSignatures).where(eq(reviewSignatures.requestId, r!.id));
  };
  return { ...ws, eng: eng!, rev: rev!, comp: comp!, admin: admin!, rev2: rev2!, wsId, api, open, sign, room, holder, sigsOf };
}

const missing = (r: { state: { checklist: { ok: boolean; text: string }[] } | null }) => r.state!.checklist.filter((c) => !c.ok).map((c) => c.text);

describe("reviews cannot go stale", () => {
  it("supersedes the other open reviews when the alias moves, refuses to sign them, and re-bases them into a new round that needs fresh signatures", async () => {
    const s = await setup(TWO);
    const first = await s.open(2);
    const second = await s.open(3);
    expect((await s.sign(s.rev, second)).outcome).toBe("signed"); // given while nobody held production
    await s.sign(s.rev, first);
    expect((await s.sign(s.comp, first)).outcome).toBe("approved");
    expect(await s.holder()).toBe(2);

    // #2 is superseded: it names the holder, its approval no longer counts, and it cannot be signed.
    let room = await s.room(second);
    expect(room.superseded).toMatchObject({ holderVersion: 2, alreadyHolds: false, at: expect.any(Date) });
    expect(missing(room)).toEqual([
      "superseded: v2 holds production now — re-base to continue",
      "needs 1 reviewer approval",
      "needs 1 compliance officer approval",
      "needs 2 more distinct approvers (0 of 2)",
    ]);
    expect(room.signatures.map((x) => [x.signerName, x.holderVersion, x.counts, x.previousRound])).toEqual([[s.rev.name, null, false, false]]);
    await expectTrpcError(
      s.sign(s.comp, second),
      "PRECONDITION_FAILED",
      /Review #2 is superseded: v2 holds "production" now .* the requester must re-base it/i,
    );
    expect((await s.sigsOf(second)).map((x) => x.signerId)).toEqual([s.rev.id]);
    const ev = await expectAudit(s.wsId, { action: "review.superseded", targetId: room.id });
    expect(ev.metadata).toMatchObject({ number: 2, alias: "production", holder: 2 });
    const list = await s.api(s.eng).list({ workspaceId: s.wsId, status: "open" });
    expect(list.find((x) => x.number === second)).toMatchObject({ superseded: { holderVersion: 2 }, round: 0 });
    const inbox = await getDb().select().from(notifications).where(eq(notifications.userId, s.eng.id));
    expect(inbox.map((n) => n.title)).toContain("#2 is superseded: risk v2 now holds production");

    // Only the requester (or an admin) re-bases.
    await expectTrpcError(s.api(s.rev).rebase({ workspaceId: s.wsId, number: second }), "FORBIDDEN", /Only the person who opened the request, or an admin/);
    expect(await s.api(s.eng).rebase({ workspaceId: s.wsId, number: second })).toEqual({ number: second, round: 1, baselineVersion: 2 });
    const rebased = await expectAudit(s.wsId, { action: "review.rebased", targetId: room.id });
    expect(rebased.changes).toEqual({ baseline: [null, 2], round: [0, 1] });
    const asked = await getDb()
      .select()
      .from(notifications)
      .where(and(eq(notifications.workspaceId, s.wsId), eq(notifications.kind, "approval_needed"), sql`${notifications.title} like '#2 re-based on v2%'`));
    expect(new Set(asked.map((n) => n.userId))).toEqual(new Set([s.rev.id, s.comp.id, s.rev2.id]));
    await expectTrpcError(s.api(s.eng).rebase({ workspaceId: s.wsId, number: second }), "PRECONDITION_FAILED", /not superseded: v2 still holds "production"/);

    // The earlier round's approval is kept on the record but no longer counts.
    room = await s.room(second);
    expect(room.superseded).toBeNull();
    expect(room.round).toBe(1);
    expect(room.signatures.map((x) => [x.signerName, x.previousRound, x.counts])).toEqual([[s.rev.name, true, false]]);
    expect(missing(room)).toEqual(["needs 1 reviewer approval", "needs 1 compliance officer approval", "needs 2 more distinct approvers (0 of 2)"]);
    expect((await s.sign(s.comp, second)).outcome).toBe("signed");
    expect(await s.holder()).toBe(2);

    // A new signature records the holder at signing time and the round, and its record hash binds both.
    const v2 = (
      await getDb()
        .select({ id: modelVersions.id })
        .from(modelVersions)
        .innerJoin(models, eq(models.id, modelVersions.modelId))
        .where(and(eq(models.workspaceId, s.wsId), eq(modelVersions.version, 2)))
    )[0]!;
    const compSig = (await s.sigsOf(second)).find((x) => x.signerId === s.comp.id)!;
    expect(compSig).toMatchObject({ aliasHolderVersionId: v2.id, round: 1 });
    expect(verifySignatureRecord(compSig)).toBe(2);
    expect(verifySignatureRecord({ ...compSig, aliasHolderVersionId: null })).toBeNull();
    expect(verifySignatureRecord({ ...compSig, round: 0 })).toBeNull();
    // A record in the earlier format (no holder, no round) still verifies as format 1; a format-2 hash never passes as format 1.
    const legacy = { ...compSig, aliasHolderVersionId: null, round: 0, recordHash: "" };
    expect(verifySignatureRecord({ ...legacy, recordHash: signatureRecordHash(legacy, 1) })).toBe(1);
    expect(verifySignatureRecord({ ...compSig, recordHash: signatureRecordHash(compSig, 1) })).toBeNull();
    room = await s.room(second);
    expect(room.signatures.find((x) => x.signerId === s.comp.id)).toMatchObject({ holderVersion: 2, recordFormat: 2, counts: true });

    expect((await s.sign(s.rev, second)).outcome).toBe("approved");
    expect(await s.holder()).toBe(3);
    expect(await s.api(s.eng).get({ workspaceId: s.wsId, number: second })).toMatchObject({ status: "approved", superseded: null });
  });

  it("marks a request whose version already holds the alias (nothing left to approve) and one whose baseline moved without being marked", async () => {
    const s = await setup(ONE);
    const n = await s.open(2);
    await seedAlias(s.owner.wsActor, { workspaceId: s.wsId, name: "risk", alias: "production", version: 2 }); // e.g. an emergency rollback to a former holder
    const room = await s.room(n);
    expect(room.superseded).toMatchObject({ holderVersion: 2, alreadyHolds: true });
    expect(missing(room)[0]).toBe("v2 already holds production — nothing left to approve; withdraw this request");
    await expectTrpcError(s.sign(s.rev, n), "PRECONDITION_FAILED", /v2 already holds "production": review #1 has nothing left to approve/);
    await expectTrpcError(s.api(s.eng).rebase({ workspaceId: s.wsId, number: n }), "PRECONDITION_FAILED", /nothing left to approve/);
    await s.api(s.eng).withdraw({ workspaceId: s.wsId, number: n });

    // A request opened against v2 whose alias was moved to v1 by a path that did not mark it (or before superseding existed).
    const m = await s.open(3);
    await getDb().execute(
      sql`update model_aliases set model_version_id = (select v.id from model_versions v join models mm on mm.id = v.model_id where mm.workspace_id = ${s.wsId} and v.version = 1) where workspace_id = ${s.wsId} and alias = 'production'`,
    );
    expect((await s.room(m)).superseded).toMatchObject({ holderVersion: 1, alreadyHolds: false });
    await expectTrpcError(s.sign(s.rev, m), "PRECONDITION_FAILED", /v1 holds "production" now/);
    expect(await s.api(s.eng).rebase({ workspaceId: s.wsId, number: m })).toMatchObject({ round: 1, baselineVersion: 1 });
    expect((await s.sign(s.rev, m)).outcome).toBe("approved");
    expect(await s.holder()).toBe(3);
  });

  it("two reviews for the same alias approved at the same moment: exactly one moves the alias, the other is refused as superseded and writes nothing", async () => {
    const names = ["risk-a", "risk-b", "risk-c"];
    const s = await setup(ONE, 3, names);
    for (const name of names) {
      const a = await s.open(2, name);
      const b = await s.open(3, name);
      const results = await Promise.allSettled([s.sign(s.rev, a), s.sign(s.rev2, b)]);
      const won = results.flatMap((r, i) => (r.status === "fulfilled" ? [i] : []));
      expect(won, `${name}: exactly one approval`).toHaveLength(1);
      const winner = won[0]!;
      expect(results[winner]).toMatchObject({ status: "fulfilled", value: { outcome: "approved" } });
      const lost = results[1 - winner] as PromiseRejectedResult;
      expect(String(lost.reason)).toMatch(new RegExp(`Review #${[a, b][1 - winner]} is superseded: v${winner + 2} holds "production" now`));
      expect(await s.holder(name)).toBe(winner + 2);
      expect(await s.sigsOf([a, b][1 - winner]!)).toEqual([]);
      const loser = await s.room([a, b][1 - winner]!);
      expect(loser).toMatchObject({ status: "open", superseded: { holderVersion: winner + 2 } });
    }
    const events = await auditFor(s.wsId);
    expect(events.filter((e) => e.action === "model.alias_moved")).toHaveLength(names.length);
    expect(events.filter((e) => e.action === "review.signed")).toHaveLength(names.length);
    expect(events.filter((e) => e.action === "review.approved")).toHaveLength(names.length);
  });

  it("a signature racing an alias move waits for the alias lock, then is refused as superseded", async () => {
    const s = await setup(ONE);
    const n = await s.open(3);
    const [m] = await getDb()
      .select()
      .from(models)
      .where(and(eq(models.workspaceId, s.wsId), eq(models.name, "risk")));
    const [v2] = await getDb()
      .select()
      .from(modelVersions)
      .where(and(eq(modelVersions.modelId, m!.id), eq(modelVersions.version, 2)));
    // A move (what an emergency rollback or the seed does) holds the alias lock, uncommitted.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const move = mutate(s.owner.wsActor, async (tx, audit) => {
      await lockAlias(tx, m!.id, "production");
      await moveAliasTx(tx, audit, s.owner.wsActor, {
        modelId: m!.id,
        modelName: m!.name,
        alias: "production",
        versionId: v2!.id,
        version: 2,
        via: { seed: true },
        approvedBy: "seed",
      });
      locked();
      await held;
    });
    await isLocked;
    const signing = s.sign(s.rev, n).then(
      () => null,
      (e: unknown) => e,
    );
    // Wait (on the database's own lock table, not a timer) until the signature is queued behind the alias lock.
    const key = `alias:${m!.id}:production`;
    for (;;) {
      const [w] = await getDb().execute<{ n: number }>(
        sql`select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted and (classid::bigint << 32 | objid::bigint) = hashtextextended(${key}, 0)`,
      );
      if (w!.n > 0) break;
      await new Promise((r) => setImmediate(r));
    }
    release();
    await move;
    const err = await signing;
    expect(String(err)).toMatch(/Review #1 is superseded: v2 holds "production" now/);
    expect(await s.sigsOf(n)).toEqual([]);
    expect(await s.holder()).toBe(2);
    const rows = await getDb()
      .select()
      .from(modelAliases)
      .where(and(eq(modelAliases.modelId, m!.id), eq(modelAliases.alias, "production")));
    expect(rows).toHaveLength(1);
    expect((await auditFor(s.wsId, "review.signed")).length).toBe(0);
  });
});

import { and, desc, eq, gt, sql } from "drizzle-orm";
import { describe, expect, it, vi } from "vitest";
import { getDb } from "~/db/client";
import { randomUUID } from "node:crypto";
import { auditEvents, webhooks } from "~/db/schema";
import { createWebhook } from "~/server/monitoring/webhooks.service";
import { signEventHash } from "./signing";
import { createWorkspace } from "~/db/seed/factories";
import { auditFor, callerFor } from "~/test/helpers";
import { listAuditEvents, timeProbe, verifyChain } from "./audit.service";
import { hashEvent } from "./chain";
import { mutate } from "./mutate";
import { signCheckpoint } from "./checkpoints.service";

/** Runs `fn` as a DBA would: in one transaction with user triggers off for this session only. */
async function asDba(fn: (tx: Parameters<Parameters<ReturnType<typeof getDb>["transaction"]>[0]>[0]) => Promise<void>) {
  await getDb().transaction(async (tx) => {
    await tx.execute(sql`set local session_replication_role = replica`);
    await fn(tx);
  });
}

describe("audit chain", () => {
  it("gives one gap-free chain for 50 concurrent mutations in one workspace", async () => {
    const { workspace, owner } = await createWorkspace();
    const before = (await auditFor(workspace.id)).length;
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        mutate(owner.wsActor, async (_tx, audit) => audit({ action: "workspace.renamed", target: { type: "workspace", id: workspace.id }, metadata: { i } })),
      ),
    );
    const rows = await auditFor(workspace.id);
    expect(rows).toHaveLength(before + 50);
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: rows.length }, (_, i) => i + 1));
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.prevHash).toBe(rows[i - 1]!.hash);
    expect(new Set(rows.map((r) => (r.metadata as { i?: number } | null)?.i).filter((i) => i !== undefined)).size).toBe(50);
    const result = await verifyChain(workspace.id);
    expect(result).toMatchObject({ intact: true, checked: rows.length, headSeq: rows.length });
  });

  it("signs a checkpoint while 30 appends to the same and to another chain run: no deadlock, the checkpoint's own record follows its head, both chains verify", async () => {
    const { workspace, owner } = await createWorkspace();
    const other = await createWorkspace();
    const rename = (actor: typeof owner.wsActor, i: number) =>
      mutate(actor, async (_tx, audit) => audit({ action: "workspace.renamed", target: { type: "workspace" }, metadata: { i } }));
    const [, , cp] = await Promise.all([
      Promise.all(Array.from({ length: 20 }, (_, i) => rename(owner.wsActor, i))),
      Promise.all(Array.from({ length: 10 }, (_, i) => rename(other.owner.wsActor, i))),
      signCheckpoint(owner.wsActor, workspace.id),
    ]);
    const rows = await auditFor(workspace.id);
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: rows.length }, (_, i) => i + 1));
    expect(rows.find((r) => r.seq === cp!.seq + 1)).toMatchObject({ action: "audit.checkpoint_signed", targetId: cp!.id });
    expect(await verifyChain(workspace.id)).toMatchObject({ intact: true, headSeq: rows.length, checkpoints: 1 });
    expect(await verifyChain(other.workspace.id)).toMatchObject({ intact: true });
  });

  it("breaks a lock cycle between a waiting appender and the turn's holder instead of hanging (the holder's webhook row is locked by the waiter)", async () => {
    const { workspace, owner } = await createWorkspace();
    const hook = await createWebhook(owner.wsActor, { name: "siem", url: "http://127.0.0.1:9/hook", events: ["workspace.renamed"] });
    let dLocked!: () => void;
    const locked = new Promise<void>((r) => (dLocked = r));
    let openGate!: () => void;
    const gate = new Promise<void>((r) => (openGate = r));
    // D locks the webhook row (as editing a webhook does) and records its event only after E has taken the chain's turn.
    const d = mutate(owner.wsActor, async (tx, audit) => {
      await tx.select().from(webhooks).where(eq(webhooks.id, hook.id)).for("update");
      dLocked();
      await gate;
      audit({ action: "webhook.updated", target: { type: "webhook", id: hook.id } });
    });
    // E appends first; its outbox row for the webhook waits for D's row lock.
    await locked;
    const e = mutate(owner.wsActor, async (_tx, audit) => audit({ action: "workspace.renamed", target: { type: "workspace" } }));
    // Once E is waiting on the lock in the database, D goes on to append: it waits for E's turn, then for E's head row, and Postgres sees the cycle.
    let eSettled = false;
    void e.then(
      () => (eSettled = true),
      () => (eSettled = true),
    );
    for (;;) {
      expect(eSettled, "E finished without waiting for D's lock").toBe(false);
      const [w] = await getDb().execute<{ n: number }>(
        sql`select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and query like '%webhook_outbox%' and datname = current_database()`,
      );
      if (w!.n > 0) break;
      await new Promise((r) => setImmediate(r));
    }
    openGate();
    const results = await Promise.allSettled([d, e]);
    const failed = results.filter((r) => r.status === "rejected");
    expect(failed).toHaveLength(1);
    const reason = (failed[0] as PromiseRejectedResult).reason as { code?: string; cause?: { code?: string } };
    expect(reason.cause?.code ?? reason.code).toBe("40P01"); // deadlock detected
    const rows = await auditFor(workspace.id);
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: rows.length }, (_, i) => i + 1));
    expect(await verifyChain(workspace.id)).toMatchObject({ intact: true });
  });

  it("catches up a head row that lags the chain (events from a process older than the head row): one append refused, the next repairs it", async () => {
    const { workspace, owner } = await createWorkspace();
    const rename = () => mutate(owner.wsActor, async (_tx, audit) => audit({ action: "workspace.renamed", target: { type: "workspace" } }));
    await rename();
    // An old process appends #n+1 correctly linked and signed, without knowing the head row.
    const [last] = await getDb().select().from(auditEvents).where(eq(auditEvents.workspaceId, workspace.id)).orderBy(desc(auditEvents.seq)).limit(1);
    const fields = { ...last!, seq: last!.seq + 1, prevHash: last!.hash, occurredAt: new Date(), metadata: { by: "old process" } };
    const hash = hashEvent(fields);
    await asDba(async (tx) => {
      await tx.insert(auditEvents).values({ ...fields, id: randomUUID(), hash, ...signEventHash(hash) });
    });
    await expect(rename()).rejects.toThrow(/exists although the chain's head row records/);
    await rename();
    const rows = await auditFor(workspace.id);
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: rows.length }, (_, i) => i + 1));
    expect(rows.at(-2)!.metadata).toEqual({ by: "old process" });
    expect(await verifyChain(workspace.id)).toMatchObject({ intact: true, headSeq: rows.length });
  });

  it("never records an event earlier than the one before it, even when the clock steps back, so a time filter finds it", async () => {
    const { workspace, owner } = await createWorkspace();
    const rename = (i: number) =>
      mutate(owner.wsActor, async (_tx, audit) => audit({ action: "workspace.renamed", target: { type: "workspace" }, metadata: { i } }));
    await rename(1);
    const [first] = (await auditFor(workspace.id, "workspace.renamed")).slice(-1);
    // The host's clock steps back an hour (only Date is faked: timers and the database as ever).
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(first!.occurredAt.getTime() - 3600_000);
    try {
      await rename(2);
    } finally {
      vi.useRealTimers();
    }
    const rows = await auditFor(workspace.id, "workspace.renamed");
    expect(rows.at(-1)!.occurredAt.getTime()).toBe(first!.occurredAt.getTime());
    expect(await verifyChain(workspace.id)).toMatchObject({ intact: true });
    // A range around that moment lists both, newest first.
    const page = await listAuditEvents(owner.wsActor, {
      workspaceId: workspace.id,
      action: "workspace.renamed",
      from: new Date(first!.occurredAt.getTime() - 1),
      to: new Date(first!.occurredAt.getTime() + 1),
    });
    expect(page.items.map((e) => (e.metadata as { i: number }).i)).toEqual([2, 1]);
  });

  it("finds each end of a time range with one step of an index-only scan of the time index, no sort of the range", async () => {
    const { workspace } = await createWorkspace();
    const plans = await getDb().transaction(async (tx) => {
      await tx.execute(sql`set local enable_seqscan = off`);
      const out: string[] = [];
      for (const edge of ["first", "last"] as const) {
        const q = timeProbe(workspace.id, edge, new Date()).toSQL();
        const rows = await tx.execute<{ "QUERY PLAN": string }>(
          sql.raw(
            `explain ${q.sql.replace(/\$(\d+)/g, (_, i: string) => `'${String(q.params[Number(i) - 1] instanceof Date ? (q.params[Number(i) - 1] as Date).toISOString() : q.params[Number(i) - 1])}'`)}`,
          ),
        );
        out.push(rows.map((r) => r["QUERY PLAN"]).join("\n"));
      }
      return out;
    });
    for (const plan of plans) {
      expect(plan).toContain("audit_events_workspace_time_idx");
      expect(plan).not.toMatch(/Sort/);
    }
  });

  it("verifies across batch boundaries", async () => {
    const { workspace, owner } = await createWorkspace();
    for (let i = 0; i < 7; i++) {
      await mutate(owner.wsActor, async (_tx, audit) => audit({ action: "workspace.renamed", target: { type: "workspace" } }));
    }
    const n = (await auditFor(workspace.id)).length;
    expect(await verifyChain(workspace.id, 3)).toMatchObject({ intact: true, checked: n });
  });

  it("refuses UPDATE, DELETE and TRUNCATE on audit_events", async () => {
    const { workspace } = await createWorkspace();
    const db = getDb();
    await expect(db.update(auditEvents).set({ action: "workspace.renamed" }).where(eq(auditEvents.workspaceId, workspace.id))).rejects.toMatchObject({
      cause: expect.objectContaining({ message: expect.stringMatching(/append-only: UPDATE/) }),
    });
    await expect(db.delete(auditEvents).where(eq(auditEvents.workspaceId, workspace.id))).rejects.toMatchObject({
      cause: expect.objectContaining({ message: expect.stringMatching(/append-only: DELETE/) }),
    });
    await expect(db.execute(sql`truncate audit_events`)).rejects.toMatchObject({
      cause: expect.objectContaining({ message: expect.stringMatching(/append-only: TRUNCATE/) }),
    });
    expect((await auditFor(workspace.id)).length).toBeGreaterThan(0);
  });

  it("rolls the audit event back with the change, and refuses a mutation that records none", async () => {
    const { workspace, owner } = await createWorkspace();
    const before = await auditFor(workspace.id);
    await expect(
      mutate(owner.wsActor, async (_tx, audit) => {
        audit({ action: "workspace.renamed", target: { type: "workspace", id: workspace.id } });
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    await expect(mutate(owner.wsActor, async () => "no event")).rejects.toThrow(/recorded no audit event/);
    expect(await auditFor(workspace.id)).toHaveLength(before.length);
  });

  async function chainOfFive() {
    const { workspace, owner } = await createWorkspace();
    for (let i = 0; i < 3; i++) {
      await mutate(owner.wsActor, async (_tx, audit) =>
        audit({ action: "workspace.renamed", target: { type: "workspace", id: workspace.id }, changes: { name: [`n${i}`, `n${i + 1}`] } }),
      );
    }
    const rows = await auditFor(workspace.id);
    expect(rows).toHaveLength(5); // workspace.created, member.joined, 3 renames
    return { workspace, owner, rows };
  }

  it("detects a row altered with triggers disabled and names its sequence number", async () => {
    const { workspace } = await chainOfFive();
    await asDba(async (tx) => {
      await tx
        .update(auditEvents)
        .set({ changes: { name: ["n1", "forged"] } })
        .where(and(eq(auditEvents.workspaceId, workspace.id), eq(auditEvents.seq, 4)));
    });
    const result = await verifyChain(workspace.id);
    expect(result).toMatchObject({ intact: false, firstBadSeq: 4 });
    if (!result.intact) expect(result.reason).toMatch(/altered/);
  });

  it("detects a removed row", async () => {
    const { workspace } = await chainOfFive();
    await asDba(async (tx) => {
      await tx.delete(auditEvents).where(and(eq(auditEvents.workspaceId, workspace.id), eq(auditEvents.seq, 3)));
    });
    const result = await verifyChain(workspace.id);
    expect(result).toMatchObject({ intact: false, firstBadSeq: 3 });
    if (!result.intact) expect(result.reason).toMatch(/missing/);
  });

  it("detects a tail cut without any checkpoint, from the chain's head row; the next append does not paper over it", async () => {
    const { workspace, owner } = await chainOfFive();
    const n = (await getDb().execute<{ n: number }>(sql`select count(*)::int as n from audit_events where workspace_id = ${workspace.id}`))[0]!.n;
    await asDba(async (tx) => {
      await tx.delete(auditEvents).where(and(eq(auditEvents.workspaceId, workspace.id), gt(auditEvents.seq, n - 2)));
    });
    const result = await verifyChain(workspace.id);
    expect(result).toMatchObject({ intact: false, firstBadSeq: n - 1 });
    if (!result.intact) expect(result.reason).toBe(`events #${n - 1}–#${n} were removed from the end (the chain's head records #${n})`);
    // Signing refuses, and an append continues from the head row: the cut stays a visible gap, not renumbered history.
    await expect(signCheckpoint(owner.wsActor, workspace.id)).rejects.toThrow(/removed from the end/);
    await mutate(owner.wsActor, async (_tx, audit) => audit({ action: "workspace.renamed", target: { type: "workspace" } }));
    const seqs = (await auditFor(workspace.id)).map((r) => r.seq);
    expect(seqs.slice(-2)).toEqual([n - 2, n + 1]);
    expect(await verifyChain(workspace.id)).toMatchObject({ intact: false, firstBadSeq: n - 1 });
  });

  it("detects a last event rewritten and re-hashed when the head row still records the original", async () => {
    const { workspace } = await chainOfFive();
    const [last] = await getDb().select().from(auditEvents).where(eq(auditEvents.workspaceId, workspace.id)).orderBy(desc(auditEvents.seq)).limit(1);
    await asDba(async (tx) => {
      const forged = { ...last!, actorLabel: "someone else" };
      await tx
        .update(auditEvents)
        // Without a checkpoint an unsigned event is not by itself a forgery: only the head row gives it away.
        .set({ actorLabel: forged.actorLabel, hash: hashEvent(forged), signature: null, keyId: null })
        .where(eq(auditEvents.id, last!.id));
    });
    const result = await verifyChain(workspace.id);
    expect(result).toMatchObject({ intact: false, firstBadSeq: last!.seq });
    if (!result.intact) expect(result.reason).toMatch(/not the one the chain's head records/);
  });

  it("detects a row inserted in the middle, even one with a valid hash of its own", async () => {
    const { workspace, rows } = await chainOfFive();
    const prev = rows[2]!; // seq 3
    await asDba(async (tx) => {
      // Make room: shift seq 4..5 up by one (highest first to keep the unique key happy).
      for (const seq of [5, 4]) {
        await tx
          .update(auditEvents)
          .set({ seq: seq + 1 })
          .where(and(eq(auditEvents.workspaceId, workspace.id), eq(auditEvents.seq, seq)));
      }
      const forged = {
        workspaceId: workspace.id,
        seq: 4,
        prevHash: prev.hash,
        occurredAt: new Date(prev.occurredAt.getTime() + 1),
        actorType: "user" as const,
        actorId: prev.actorId,
        actorLabel: prev.actorLabel,
        action: "member.role_changed",
        targetType: "user",
        targetId: prev.actorId,
        changes: { role: ["viewer", "owner"] as [unknown, unknown] },
        metadata: null,
        requestId: null,
      };
      await tx.insert(auditEvents).values({ ...forged, hash: hashEvent(forged) });
    });
    const result = await verifyChain(workspace.id);
    // The forged row links correctly; the next one (formerly #4, now #5) no longer does.
    // (Without a checkpoint yet, an unsigned event is not by itself a forgery: see verify.ts.)
    expect(result).toMatchObject({ intact: false, firstBadSeq: 5 });
  });

  it("records who verified, through the tRPC procedure", async () => {
    const { workspace, owner } = await createWorkspace();
    const res = await callerFor(owner).audit.verify({ workspaceId: workspace.id });
    expect(res.intact).toBe(true);
    const [ev] = await auditFor(workspace.id, "audit.verified");
    expect(ev).toMatchObject({ actorId: owner.id, metadata: { intact: true } });
  });

  it("lists newest first with keyset pages and filters by actor, action and time", async () => {
    const { workspace, owner, members } = await createWorkspace({ members: [{ role: "admin" }] });
    const admin = members[0]!;
    for (let i = 0; i < 3; i++) {
      await callerFor(admin).workspaces.rename({ workspaceId: workspace.id, name: `Name ${i}` });
    }
    const all = await auditFor(workspace.id);
    const caller = callerFor(owner);
    const page1 = await caller.audit.list({ workspaceId: workspace.id, limit: 4 });
    expect(page1.items.map((e) => e.seq)).toEqual([all.length, all.length - 1, all.length - 2, all.length - 3]);
    const page2 = await caller.audit.list({ workspaceId: workspace.id, limit: 4, cursor: page1.nextCursor });
    expect(page2.items[0]!.seq).toBe(all.length - 4);
    const everything = [...page1.items, ...page2.items];
    expect(new Set(everything.map((e) => e.seq)).size).toBe(everything.length);

    const renames = await caller.audit.list({ workspaceId: workspace.id, action: "workspace.renamed" });
    expect(renames.items).toHaveLength(3);
    const byAdmin = await caller.audit.list({ workspaceId: workspace.id, actor: admin.email.toUpperCase() });
    expect(byAdmin.items.every((e) => e.actorId === admin.id)).toBe(true);
    expect(byAdmin.items.map((e) => e.action)).toContain("workspace.renamed");
    const future = await caller.audit.list({ workspaceId: workspace.id, from: new Date(Date.now() + 60_000) });
    expect(future.items).toEqual([]);
    const past = await caller.audit.list({ workspaceId: workspace.id, to: all[0]!.occurredAt });
    expect(past.items.map((e) => e.seq)).toContain(1);
    expect(past.items.length).toBeLessThan(all.length);
    await expect(caller.audit.list({ workspaceId: workspace.id, action: "nope" as "workspace.renamed" })).rejects.toThrow(
      /action: Action must be one of the audit actions/,
    );
  });

  it("shows the activity feed without sign-ins and verifications", async () => {
    const { workspace, owner } = await createWorkspace();
    await callerFor(owner).audit.verify({ workspaceId: workspace.id });
    const feed = await callerFor(owner).home.activity({ workspaceId: workspace.id });
    expect(feed.map((e) => e.action)).toEqual(["member.joined", "workspace.created"]);
  });
});

describe("audit explorer: free text", () => {
  it("finds text in the action, actor, target, metadata and changes, treats % and _ literally, and can be answered by the trigram index", async () => {
    const { workspace, owner } = await createWorkspace();
    const api = callerFor(owner).audit;
    await mutate(owner.wsActor, async (_tx, audit) =>
      audit({ action: "workspace.renamed", target: { type: "workspace", id: workspace.id }, metadata: { note: "Quarterly re-approval of credit-risk" } }),
    );
    await mutate(owner.wsActor, async (_tx, audit) =>
      audit({ action: "workspace.renamed", target: { type: "workspace", id: workspace.id }, changes: { name: ["Lending", "Lending 100%"] } }),
    );
    const find = async (q: string) => (await api.list({ workspaceId: workspace.id, q, limit: 50 })).items.map((e) => e.seq);
    const all = (await api.list({ workspaceId: workspace.id, limit: 50 })).items;
    const [changed, noted] = all;
    // Each event names its actor as a person (the recorded label stays the e-mail).
    expect([changed!.actorName, changed!.actorLabel]).toEqual([owner.name, owner.email]);
    expect(await find("re-approval OF CREDIT")).toEqual([noted!.seq]);
    expect(await find("lending 100%")).toEqual([changed!.seq]);
    expect(await find("0%")).toEqual([changed!.seq]);
    expect(await find("100_")).toEqual([]);
    expect(await find(owner.email)).toEqual(all.map((e) => e.seq));
    expect(await find("workspace.renamed")).toEqual([changed!.seq, noted!.seq]);
    expect(await find(workspace.id.slice(0, 13))).toEqual(all.filter((e) => e.targetId === workspace.id).map((e) => e.seq));

    // The filter's expression is the index's: with sequential scans off, the plan reads audit_events_search_trgm_idx.
    const plan = await getDb().transaction(async (tx) => {
      await tx.execute(sql`set local enable_seqscan = off`);
      const { auditFilters } = await import("./audit.service");
      const rows = await tx.execute<{ "QUERY PLAN": string }>(
        // The text clause alone (the workspace's own index would otherwise do on a table this small).
        sql`explain select seq from ${auditEvents} where ${auditFilters(workspace.id, { q: "quarterly" }).at(-1)!}`,
      );
      return rows.map((r) => r["QUERY PLAN"]).join("\n");
    });
    expect(plan).toContain("audit_events_search_trgm_idx");
  });
});

import { spawn, spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { and, asc, eq, gt, gte, isNull, sql } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { getDb } from "~/db/client";
import { auditChainHeads, auditCheckpoints, auditEvents, notifications, users, webhookOutbox } from "~/db/schema";
import { createUser, createWorkspace } from "~/db/seed/factories";
import { blobs } from "~/server/artifacts/store";
import { createWebhook } from "~/server/monitoring/webhooks.service";
import { createToken } from "~/server/tokens/tokens.service";
import { callerFor, expectTrpcError } from "~/test/helpers";
import { rest } from "~/test/rest-client";
import { verifyChain } from "./audit.service";
import { hashEvent, verifyCheckpointSignature } from "./chain";
import { signCheckpoint } from "./checkpoints.service";
import { mutate } from "./mutate";
import { publishCheckpoint, publishedKey } from "./publish";
import { signingKeys, useKeysForTests } from "./signing";
import { keyRing, loadPublicKey, parseExport, verifyExport } from "./verify";

type Tx = Parameters<Parameters<ReturnType<typeof getDb>["transaction"]>[0]>[0];

/** What a database superuser can do: switch the append-only triggers off for a transaction. */
async function asSuperuser(fn: (tx: Tx) => Promise<void>) {
  await getDb().transaction(async (tx) => {
    await tx.execute(sql`set local session_replication_role = replica`);
    await fn(tx);
  });
}

/**
 * The forgery from the security review: rewrite one event after the last checkpoint and
 * recompute the hashes of the tail so every link and hash is correct again. The events'
 * signatures are kept as they were or removed (the forger cannot make new ones).
 */
async function forgeAfterCheckpoint(workspaceId: string, seq: number, opts: { stripSignatures: boolean }) {
  await asSuperuser(async (tx) => {
    const tail = await tx
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.workspaceId, workspaceId), gte(auditEvents.seq, seq - 1)))
      .orderBy(asc(auditEvents.seq));
    let prevHash = tail[0]!.hash;
    for (const e of tail.slice(1)) {
      const fields = {
        ...e,
        prevHash,
        ...(e.seq === seq ? { changes: { role: ["viewer", "owner"] as [unknown, unknown] }, action: "member.role_changed" } : {}),
      };
      const hash = hashEvent(fields);
      await tx
        .update(auditEvents)
        .set({ prevHash, hash, changes: fields.changes, action: fields.action, ...(opts.stripSignatures ? { signature: null, keyId: null } : {}) })
        .where(eq(auditEvents.id, e.id));
      prevHash = hash;
    }
    // A careful forger moves the chain's head row to the forged head too (else the next append would not link).
    await tx.update(auditChainHeads).set({ hash: prevHash }).where(eq(auditChainHeads.chain, workspaceId));
  });
}

async function workspaceWithHistory(n = 3) {
  const ws = await createWorkspace({ members: [{ role: "admin" }, { role: "viewer" }] });
  for (let i = 0; i < n; i++) {
    await mutate(ws.owner.wsActor, async (_tx, audit) =>
      audit({ action: "workspace.renamed", target: { type: "workspace", id: ws.workspace.id }, changes: { name: [`n${i}`, `n${i + 1}`] } }),
    );
  }
  return ws;
}

const checkpointsOf = (workspaceId: string) => getDb().select().from(auditCheckpoints).where(eq(auditCheckpoints.workspaceId, workspaceId));
const jobs = (prefix: string) =>
  getDb().execute<{ data: { event: string; payload: Record<string, unknown> } }>(
    sql`select data from pgboss.job where name = 'webhook.deliver' and data->>'event' like ${prefix + "%"}`,
  );

async function exportText(slug: string, token: string) {
  const res = await rest("GET", `/workspaces/${slug}/audit/export?format=ndjson`, { token, raw: true });
  return res.text!;
}

/** Signs now (never skipped, unlike the job's onlyIfChanged). */
async function sign(actor: Parameters<typeof signCheckpoint>[0], workspaceId: string) {
  const cp = await signCheckpoint(actor, workspaceId);
  if (!cp) throw new Error("signCheckpoint skipped a chain it was asked to sign");
  return cp;
}

afterEach(() => useKeysForTests());

describe("checkpoint signing verifies the chain since the previous checkpoint", () => {
  it.each([
    ["signatures kept", false, /event #\d+ was altered \(its signature does not match/],
    ["signatures removed", true, /event #\d+ is not signed/],
  ])("refuses to sign a tail a superuser rewrote and re-hashed (%s): recorded, alerted, nothing signed", async (_label, stripSignatures, reason) => {
    const { workspace, owner, members } = await workspaceWithHistory(2);
    const operator = await createUser(); // an instance administrator, not a member
    await getDb().update(users).set({ instanceAdmin: true }).where(eq(users.id, operator.id));
    await createWebhook(owner.wsActor, { name: "siem", url: "http://127.0.0.1:9/hook" });
    const first = (await callerFor(owner).audit.signCheckpoint({ workspaceId: workspace.id }))!;
    await mutate(owner.wsActor, async (_tx, audit) => audit({ action: "workspace.renamed", target: { type: "workspace" } }));
    await mutate(owner.wsActor, async (_tx, audit) => audit({ action: "workspace.renamed", target: { type: "workspace" } }));
    const forgedSeq = first.seq + 2; // after the checkpoint and its own record
    await forgeAfterCheckpoint(workspace.id, forgedSeq, { stripSignatures });

    // The "Sign checkpoint now" button: refused with the reason.
    await expectTrpcError(callerFor(owner).audit.signCheckpoint({ workspaceId: workspace.id }), "PRECONDITION_FAILED", reason);
    expect((await checkpointsOf(workspace.id)).map((c) => c.seq)).toEqual([first.seq]);

    // Recorded on the instance chain, which is then checkpointed (and published) at once.
    const [record] = await getDb()
      .select()
      .from(auditEvents)
      .where(and(isNull(auditEvents.workspaceId), eq(auditEvents.action, "audit.verification_failed"), eq(auditEvents.targetId, workspace.id)));
    expect(record!.metadata).toMatchObject({ workspaceId: workspace.id, firstBadSeq: forgedSeq, lastCheckpointSeq: first.seq });
    const [instanceCp] = await getDb()
      .select()
      .from(auditCheckpoints)
      .where(and(isNull(auditCheckpoints.workspaceId), gte(auditCheckpoints.seq, record!.seq)));
    expect(instanceCp).toBeDefined();
    expect(await (await blobs()).get(publishedKey(null, instanceCp!.seq))).not.toBeNull();

    // Admins and owners (and instance administrators) are told in their inbox, the viewer is not; webhooks get the event.
    const told = await getDb()
      .select({ userId: notifications.userId, title: notifications.title })
      .from(notifications)
      .where(and(eq(notifications.workspaceId, workspace.id), eq(notifications.kind, "alert")));
    const admin = members.find((m) => m.role === "admin")!;
    const viewer = members.find((m) => m.role === "viewer")!;
    const instanceAdmins = new Set((await getDb().select({ id: users.id }).from(users).where(eq(users.instanceAdmin, true))).map((u) => u.id));
    expect(told.map((t) => t.userId)).toEqual(expect.arrayContaining([owner.id, admin.id, operator.id]));
    expect(told.filter((t) => t.userId !== owner.id && t.userId !== admin.id).every((t) => instanceAdmins.has(t.userId))).toBe(true);
    expect(told[0]!.title).toMatch(new RegExp(`verification failed at event #${forgedSeq}`));
    expect(told.map((t) => t.userId)).not.toContain(viewer.id);
    const hooks = (await jobs("audit.verification_failed:")).filter((j) => j.data.payload.workspaceId === workspace.id);
    expect(hooks).toHaveLength(1);
    expect(hooks[0]!.data.payload).toMatchObject({ firstBadSeq: forgedSeq });

    // The scheduled job (signAllChangedChains does this for each chain) refuses too, without alerting twice.
    await expect(signCheckpoint({ type: "system", job: "audit.checkpoint" }, workspace.id, { onlyIfChanged: true })).rejects.toThrow(reason);
    expect((await checkpointsOf(workspace.id)).map((c) => c.seq)).toEqual([first.seq]);
    const records = await getDb()
      .select()
      .from(auditEvents)
      .where(and(isNull(auditEvents.workspaceId), eq(auditEvents.action, "audit.verification_failed"), eq(auditEvents.targetId, workspace.id)));
    expect(records).toHaveLength(1);

    // Offline, an export shows the same event: the chain is consistent, the signature is not.
    const { token } = await createToken(owner.wsActor, { workspaceId: workspace.id, name: "x", role: "owner" });
    const { events, checkpoints } = parseExport(await exportText(workspace.slug, token));
    const report = verifyExport(events, checkpoints, keyRing([loadPublicKey(signingKeys().publicKeyPem)]));
    expect(report.problem).toMatchObject({ seq: forgedSeq });
    expect(report.problem!.reason).toMatch(reason);
  });

  it("refuses when the checkpointed event itself was rewritten with the rest of the tail", async () => {
    const { workspace, owner } = await workspaceWithHistory(3);
    const cp = await sign(owner.wsActor, workspace.id);
    await forgeAfterCheckpoint(workspace.id, cp.seq, { stripSignatures: true });
    await expect(signCheckpoint(owner.wsActor, workspace.id)).rejects.toThrow(/nothing was signed/);
    expect(await checkpointsOf(workspace.id)).toHaveLength(1);
  });

  it("signs an untouched chain, verifying only the segment since the last checkpoint", async () => {
    const { workspace, owner } = await workspaceWithHistory(2);
    const a = await sign(owner.wsActor, workspace.id);
    await mutate(owner.wsActor, async (_tx, audit) => audit({ action: "workspace.renamed", target: { type: "workspace" } }));
    const b = await sign(owner.wsActor, workspace.id);
    const [record] = await getDb()
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.workspaceId, workspace.id), eq(auditEvents.seq, b.seq + 1)));
    expect(record!.metadata).toMatchObject({ verifiedFrom: a.seq, verifiedEvents: b.seq - a.seq });
  });
});

describe("checkpoints published outside the database", () => {
  it("publishes each checkpoint once to the artifact store and to webhooks subscribed to audit.checkpoint_signed, and never overwrites one", async () => {
    const { workspace, owner } = await workspaceWithHistory(2);
    const anchor = await createWebhook(owner.wsActor, { name: "anchor", url: "http://127.0.0.1:9/hook", events: ["audit.checkpoint_signed"] });
    // A webhook for alerts only hears nothing of checkpoints.
    const alerts = await createWebhook(owner.wsActor, { name: "pager", url: "http://127.0.0.1:9/pager" });
    const cp = await sign(owner.wsActor, workspace.id);
    const stored = JSON.parse((await (await blobs()).get(publishedKey(workspace.id, cp.seq)))!.toString("utf8")) as Record<string, unknown>;
    expect(stored).toMatchObject({
      format: "steward-audit-checkpoint",
      workspaceId: workspace.id,
      seq: cp.seq,
      headHash: cp.headHash,
      keyId: cp.keyId,
      signature: cp.signature,
    });
    expect(verifyCheckpointSignature(stored as never, loadPublicKey(signingKeys().publicKeyPem))).toBe(true);
    const owed = await getDb().select().from(webhookOutbox).where(eq(webhookOutbox.workspaceId, workspace.id));
    expect(owed.map((o) => [o.webhookId, o.action])).toEqual([[anchor.id, "audit.checkpoint_signed"]]);
    expect(owed.some((o) => o.webhookId === alerts.id)).toBe(false);
    expect((owed[0]!.payload as { metadata: unknown }).metadata).toMatchObject({
      seq: cp.seq,
      headHash: cp.headHash,
      keyId: cp.keyId,
      signature: cp.signature,
      signedAt: cp.signedAt.toISOString(),
    });
    // Idempotent for the same checkpoint; a different one under the same key is refused.
    expect(await publishCheckpoint(cp)).toMatchObject({ created: false });
    await expect(publishCheckpoint({ ...cp, headHash: "f".repeat(64) })).rejects.toThrow(/already published/);
    expect(JSON.parse((await (await blobs()).get(publishedKey(workspace.id, cp.seq)))!.toString("utf8"))).toMatchObject({ headHash: cp.headHash });
    // The REST route lists what the store holds.
    const { token } = await createToken(owner.wsActor, { workspaceId: workspace.id, name: "x", role: "owner" });
    const listed = await rest("GET", `/workspaces/${workspace.slug}/audit/checkpoints`, { token });
    expect(listed.status).toBe(200);
    expect((listed.data.checkpoints as { seq: number }[]).map((c) => c.seq)).toEqual([cp.seq]);
  });

  it("a superuser who cuts the tail and deletes the checkpoints is caught by the published heads (in the database and by steward audit verify --published)", async () => {
    const { workspace, owner } = await workspaceWithHistory(3);
    const cp = await sign(owner.wsActor, workspace.id);
    const keep = cp.seq - 2;
    await asSuperuser(async (tx) => {
      await tx.delete(auditCheckpoints).where(eq(auditCheckpoints.workspaceId, workspace.id));
      await tx.delete(auditEvents).where(and(eq(auditEvents.workspaceId, workspace.id), gt(auditEvents.seq, keep)));
      // …and rewinds the chain's head row, so new events take the removed numbers.
      const [last] = await tx
        .select()
        .from(auditEvents)
        .where(and(eq(auditEvents.workspaceId, workspace.id), eq(auditEvents.seq, keep)));
      await tx.update(auditChainHeads).set({ seq: keep, hash: last!.hash }).where(eq(auditChainHeads.chain, workspace.id));
    });
    expect(await verifyChain(workspace.id)).toMatchObject({ intact: false, firstBadSeq: keep + 1 });
    // Signing refuses too: a published checkpoint is missing from the database.
    await expect(signCheckpoint(owner.wsActor, workspace.id)).rejects.toThrow(/missing from the database/);

    const { token } = await createToken(owner.wsActor, { workspaceId: workspace.id, name: "x", role: "owner" });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "steward-published-"));
    const file = path.join(dir, "export.ndjson");
    fs.writeFileSync(file, await exportText(workspace.slug, token));
    // The copy a verifier keeps of the store's checkpoints/ folder.
    const chainDir = path.join(dir, "published", "checkpoints", workspace.id);
    fs.mkdirSync(chainDir, { recursive: true });
    const key = publishedKey(workspace.id, cp.seq);
    fs.writeFileSync(path.join(chainDir, path.basename(key)), (await (await blobs()).get(key))!);
    const keyFile = path.join(dir, "key.pem");
    fs.writeFileSync(keyFile, signingKeys().publicKeyPem);

    // The export alone looks intact: what remains is consistent and no checkpoint in it contradicts it.
    const { events, checkpoints } = parseExport(fs.readFileSync(file, "utf8"));
    expect(verifyExport(events, checkpoints, keyRing([loadPublicKey(signingKeys().publicKeyPem)]))).toMatchObject({ intact: true });
    const cli = (args: string[]) =>
      spawnSync(process.execPath, [path.resolve("bin/steward.mjs"), ...args], {
        encoding: "utf8",
        env: { PATH: process.env.PATH, NODE_ENV: "production", HOME: dir },
      });
    const r = cli(["audit", "verify", file, "--public-key", keyFile, "--published", path.join(dir, "published")]);
    expect(r.status, r.stderr).toBe(4);
    // New events (the token, the export) took the numbers of the removed ones: #cp.seq is another event now.
    expect(r.stdout).toMatch(
      new RegExp(
        `BROKEN at event #${cp.seq}: event #${cp.seq} does not match the checkpoint published at .*: the chain was rewritten between #1 and #${cp.seq}`,
      ),
    );
    const without = cli(["audit", "verify", file, "--public-key", keyFile]);
    expect(without.status, without.stdout).toBe(0);

    // The same against a URL answering what GET /workspaces/{workspace}/audit/checkpoints answers.
    const listing = await rest("GET", `/workspaces/${workspace.slug}/audit/checkpoints`, { token });
    const server = http.createServer((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(listing.data)));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/checkpoints`;
    const child = spawn(process.execPath, [path.resolve("bin/steward.mjs"), "audit", "verify", file, "--public-key", keyFile, "--published", url], {
      env: { PATH: process.env.PATH, NODE_ENV: "production", HOME: dir },
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    server.close();
    expect(code, out).toBe(4);
    expect(out).toMatch(new RegExp(`BROKEN at event #${cp.seq}: event #${cp.seq} does not match the checkpoint published at`));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("steward audit verify --published names the first published head a rewritten chain no longer matches", async () => {
    const { workspace, owner } = await workspaceWithHistory(2);
    const cp = await sign(owner.wsActor, workspace.id);
    await mutate(owner.wsActor, async (_tx, audit) => audit({ action: "workspace.renamed", target: { type: "workspace" } }));
    const { token } = await createToken(owner.wsActor, { workspaceId: workspace.id, name: "x", role: "owner" });
    const { events, checkpoints } = parseExport(await exportText(workspace.slug, token));
    const published = [{ ...checkpoints[0]!, format: "steward-audit-checkpoint" }];
    const keys = keyRing([loadPublicKey(signingKeys().publicKeyPem)]);
    expect(verifyExport(events, checkpoints, keys, published)).toMatchObject({ intact: true, publishedVerified: 1 });
    // A chain rebuilt from #2 on, unsigned, without its checkpoints: only the published head contradicts it.
    let prev = events[0]!.hash;
    const rebuilt = events.map((e) => {
      if (e.seq === 1) return { ...e, signature: null, keyId: null };
      const f = { ...e, prevHash: prev, occurredAt: new Date(e.occurredAt), ...(e.seq === 2 ? { actorLabel: "someone else" } : {}) };
      prev = hashEvent(f);
      return { ...e, ...f, occurredAt: e.occurredAt, hash: prev, signature: null, keyId: null };
    });
    expect(verifyExport(rebuilt, [], keys)).toMatchObject({ intact: true });
    const r = verifyExport(rebuilt, [], keys, published);
    expect(r.problem).toMatchObject({ seq: cp.seq });
    expect(r.problem!.reason).toMatch(new RegExp(`event #${cp.seq} does not match the checkpoint published at .*rewritten between #1 and #${cp.seq}`));
  });
});

describe("rotating the audit signing key", () => {
  it("checkpoints signed with the retired key still verify (in the database and offline); without it they do not", async () => {
    const oldPem = signingKeys().privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const oldPublic = signingKeys().publicKeyPem;
    const { workspace, owner } = await workspaceWithHistory(2);
    const before = await sign(owner.wsActor, workspace.id);

    const next = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    useKeysForTests(next, [oldPublic]); // AUDIT_SIGNING_KEY = new, AUDIT_VERIFY_KEYS = old public key
    await mutate(owner.wsActor, async (_tx, audit) => audit({ action: "workspace.renamed", target: { type: "workspace" } }));
    const after = await sign(owner.wsActor, workspace.id); // verifies the old checkpoint and old-key events first
    expect(after.keyId).not.toBe(before.keyId);
    expect(await verifyChain(workspace.id)).toMatchObject({ intact: true, checkpoints: 2 });

    const { token } = await createToken(owner.wsActor, { workspaceId: workspace.id, name: "x", role: "owner" });
    const text = await exportText(workspace.slug, token);
    const { header, events, checkpoints } = parseExport(text);
    expect((header.keys as { keyId: string }[]).map((k) => k.keyId).sort()).toEqual([before.keyId, after.keyId].sort());
    expect(new Set(checkpoints.map((c) => c.keyId))).toEqual(new Set([before.keyId, after.keyId]));
    const both = keyRing([loadPublicKey(oldPublic), loadPublicKey(signingKeys().publicKeyPem)]);
    expect(verifyExport(events, checkpoints, both)).toMatchObject({ intact: true, checkpointsVerified: 2 });
    // Offline, with a key bundle file holding both public keys.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "steward-rotate-"));
    fs.writeFileSync(path.join(dir, "export.ndjson"), text);
    fs.writeFileSync(path.join(dir, "keys.pem"), `${oldPublic}${signingKeys().publicKeyPem}`);
    const ok = spawnSync(
      process.execPath,
      [path.resolve("bin/steward.mjs"), "audit", "verify", path.join(dir, "export.ndjson"), "--public-key", path.join(dir, "keys.pem")],
      { encoding: "utf8", env: { PATH: process.env.PATH, NODE_ENV: "production", HOME: dir } },
    );
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/2 signed checkpoint\(s\) verified/);
    fs.rmSync(dir, { recursive: true, force: true });

    // Only the new key trusted: the old checkpoint is named, not silently accepted.
    expect(verifyExport(events, checkpoints, keyRing([loadPublicKey(signingKeys().publicKeyPem)])).problem?.reason).toMatch(
      new RegExp(`does not trust \\(${before.keyId}\\)`),
    );
    useKeysForTests(next); // the old public key dropped as well: nothing signed with it verifies any more
    expect(await verifyChain(workspace.id)).toMatchObject({ intact: false });
    useKeysForTests(oldPem);
  });
});

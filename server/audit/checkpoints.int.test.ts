import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { and, eq, gt, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "~/db/client";
import { auditEvents } from "~/db/schema";
import { createWorkspace } from "~/db/seed/factories";
import { createToken } from "~/server/tokens/tokens.service";
import { callerFor } from "~/test/helpers";
import { rest } from "~/test/rest-client";
import { verifyChain } from "./audit.service";
import { signAllChangedChains, signCheckpoint } from "./checkpoints.service";
import { mutate } from "./mutate";
import { signingKeys } from "./signing";
import { loadPublicKey, parseExport, verifyExport } from "./verify";

async function workspaceWithHistory(n = 5) {
  const ws = await createWorkspace();
  for (let i = 0; i < n; i++) {
    await mutate(ws.owner.wsActor, async (_tx, audit) =>
      audit({ action: "workspace.renamed", target: { type: "workspace", id: ws.workspace.id }, changes: { name: [`n${i}`, `n${i + 1}`] } }),
    );
  }
  return ws;
}

async function exportText(slug: string, token: string, query = "") {
  const res = await rest("GET", `/workspaces/${slug}/audit/export?format=ndjson${query}`, { token, raw: true });
  return res.text!;
}

const pub = () => loadPublicKey(signingKeys().publicKeyPem);

describe("signed checkpoints and offline verification", () => {
  it("signs the head, skips unchanged chains, and the scheduled job signs only what moved", async () => {
    const { workspace, owner } = await workspaceWithHistory(2);
    const cp = await callerFor(owner).audit.signCheckpoint({ workspaceId: workspace.id });
    expect(cp?.seq).toBe(4);
    expect(await signCheckpoint({ type: "system", job: "t" }, workspace.id, { onlyIfChanged: true })).toBeNull();
    await mutate(owner.wsActor, async (_tx, audit) => audit({ action: "workspace.renamed", target: { type: "workspace" } }));
    const r = await signAllChangedChains({ type: "system", job: "audit.checkpoint" });
    expect(r.signed).toBeGreaterThanOrEqual(1);
    const list = await callerFor(owner).audit.checkpoints({ workspaceId: workspace.id });
    expect(list.checkpoints.map((c) => c.seq)).toEqual([6, 4]); // #5 is the first checkpoint's own event
    expect(list.key.publicKeyPem).toMatch(/BEGIN PUBLIC KEY/);
    expect(await verifyChain(workspace.id)).toMatchObject({ intact: true, checkpoints: 2 });
  });

  it("exports NDJSON that verifies offline, and catches altered, removed, reordered and inserted events", async () => {
    const { workspace, owner } = await workspaceWithHistory(4);
    await signCheckpoint(owner.wsActor, workspace.id);
    await mutate(owner.wsActor, async (_tx, audit) => audit({ action: "workspace.renamed", target: { type: "workspace" } }));
    const { token } = await createToken(owner.wsActor, { workspaceId: workspace.id, name: "x", role: "owner" });
    const text = await exportText(workspace.slug, token);
    const { header, events, checkpoints } = parseExport(text);
    expect(header).toMatchObject({ format: "steward-audit-export", workspaceId: workspace.id });
    expect(checkpoints).toHaveLength(1);
    const ok = verifyExport(events, checkpoints, pub());
    expect(ok).toMatchObject({ intact: true, complete: true, checkpointsVerified: 1 });
    expect(events.at(-1)!.action).toBe("audit.exported"); // the export records itself

    const altered = events.map((e) => (e.seq === 3 ? { ...e, changes: { name: ["n0", "forged"] } } : e));
    expect(verifyExport(altered, checkpoints, pub()).problem).toMatchObject({ seq: 3 });
    const removed = events.filter((e) => e.seq !== 4);
    expect(verifyExport(removed, checkpoints, pub()).problem).toMatchObject({ seq: 4 });
    const reordered = [...events];
    [reordered[2], reordered[3]] = [reordered[3]!, reordered[2]!];
    expect(verifyExport(reordered, checkpoints, pub()).problem?.reason).toMatch(/out of order/);
    const forged = { ...events[2]!, seq: 4, prevHash: events[2]!.hash, action: "member.role_changed" };
    const inserted = [...events.slice(0, 3), forged, ...events.slice(3).map((e) => ({ ...e, seq: e.seq + 1 }))];
    expect(verifyExport(inserted, checkpoints, pub()).intact).toBe(false);
    // The tail cut after a checkpoint: the checkpoint proves it.
    const cut = events.filter((e) => e.seq <= 3);
    expect(verifyExport(cut, checkpoints, pub()).problem?.reason).toMatch(/removed from the end/);
    const badSig = checkpoints.map((c) => ({ ...c, signature: Buffer.from("x".repeat(64)).toString("base64") }));
    expect(verifyExport(events, badSig, pub()).problem?.reason).toMatch(/invalid signature/);
  });

  it("verifies a filtered export event by event", async () => {
    const { workspace, owner } = await workspaceWithHistory(3);
    const { token } = await createToken(owner.wsActor, { workspaceId: workspace.id, name: "x", role: "owner" });
    const { events, checkpoints } = parseExport(await exportText(workspace.slug, token, "&action=workspace.renamed"));
    expect(events.map((e) => e.action)).toEqual(["workspace.renamed", "workspace.renamed", "workspace.renamed"]);
    expect(verifyExport(events, checkpoints, pub())).toMatchObject({ intact: true, complete: false });
    const tampered = events.map((e, i) => (i === 1 ? { ...e, actorLabel: "someone else" } : e));
    expect(verifyExport(tampered, checkpoints, pub()).problem).toMatchObject({ seq: events[1]!.seq });
  });

  it("detects in the database a tail removed after a checkpoint, which the bare chain cannot", async () => {
    const { workspace, owner } = await workspaceWithHistory(3);
    await signCheckpoint(owner.wsActor, workspace.id);
    const cpSeq = 5;
    await getDb().transaction(async (tx) => {
      await tx.execute(sql`set local session_replication_role = replica`);
      await tx.delete(auditEvents).where(and(eq(auditEvents.workspaceId, workspace.id), gt(auditEvents.seq, cpSeq - 2)));
    });
    const r = await verifyChain(workspace.id);
    expect(r).toMatchObject({ intact: false, firstBadSeq: cpSeq - 1 });
    if (!r.intact) expect(r.reason).toMatch(/removed from the end/);
  });

  it("the steward CLI verifies an export offline and names the first broken event", async () => {
    const { workspace, owner } = await workspaceWithHistory(3);
    await signCheckpoint(owner.wsActor, workspace.id);
    const { token } = await createToken(owner.wsActor, { workspaceId: workspace.id, name: "x", role: "owner" });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "steward-verify-"));
    const file = path.join(dir, "export.ndjson");
    const keyFile = path.join(dir, "key.pem");
    fs.writeFileSync(file, await exportText(workspace.slug, token));
    fs.writeFileSync(keyFile, signingKeys().publicKeyPem);
    const cli = (args: string[]) =>
      spawnSync(process.execPath, [path.resolve("bin/steward.mjs"), ...args], {
        encoding: "utf8",
        env: { PATH: process.env.PATH, NODE_ENV: "production", HOME: dir },
      });
    const ok = cli(["audit", "verify", file, "--public-key", keyFile]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^Intact: \d+ events .*complete from #1.*1 signed checkpoint/);
    const lines = fs.readFileSync(file, "utf8").split("\n");
    const i = lines.findIndex((l) => l.includes('"seq":2,'));
    lines[i] = lines[i]!.replace('"action":"member.joined"', '"action":"member.removed"');
    fs.writeFileSync(file, lines.join("\n"));
    const broken = cli(["audit", "verify", file, "--public-key", keyFile]);
    expect(broken.status).toBe(4);
    expect(broken.stdout).toMatch(/BROKEN at event #2: event #2 was altered/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

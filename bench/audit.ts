/* ---------------------------------------------------------------------------
 * bench/audit: what the tamper-evident chain costs and how it scales.
 *   npm run bench:audit [-- --events 1000000 --appends 3000]
 * Prints: append rate with chaining beside plain inserts (same run, same rows), the
 * verification rate over N events, and explorer query times at N events.
 * Uses DATABASE_URL (local only) or a throwaway embedded PostgreSQL.
 * ------------------------------------------------------------------------- */
import { generateKeyPairSync, randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { startEmbeddedPostgres } from "../bin/lib/embedded-pg";
import { runMigrations } from "../db/migrate";

const { values } = parseArgs({ options: { events: { type: "string", default: "1000000" }, appends: { type: "string", default: "3000" } } });
const N = Number(values.events);
const APPENDS = Number(values.appends);

let stop: (() => Promise<void>) | undefined;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "steward-bench-"));
if (!process.env.DATABASE_URL) {
  fs.chmodSync(dir, 0o755);
  const pg = await startEmbeddedPostgres({ dir: path.join(dir, "pg"), password: "bench" });
  process.env.DATABASE_URL = pg.url;
  stop = pg.stop;
}
process.env.AUTH_SECRET ??= "bench-secret-bench-secret-bench-secret-00";
process.env.ARTIFACT_DIR ??= path.join(dir, "artifacts");
process.env.AUDIT_SIGNING_KEY ??= generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
await runMigrations(process.env.DATABASE_URL);

const { getDb, closeDb } = await import("../db/client");
const { sql } = await import("drizzle-orm");
const { auditEvents } = await import("../db/schema");
const { createWorkspace } = await import("../db/seed/factories");
const { mutate } = await import("../server/audit/mutate");
const { hashEvent, GENESIS_HASH } = await import("../server/audit/chain");
const { signEventHash } = await import("../server/audit/signing");
const { verifyChain, listAuditEvents } = await import("../server/audit/audit.service");

const fmt = (n: number) => Math.round(n).toLocaleString("en");
const time = async <T>(fn: () => Promise<T>) => {
  const t = performance.now();
  const r = await fn();
  return { ms: performance.now() - t, r };
};
const db = getDb();

// 1. Append rate: chained mutate() vs plain inserts of the same rows, one transaction each.
// "Plain" is the same table without the chain: its copy keeps audit_events' indexes (the unique
// (chain, seq), time, target and trigram indexes cost every insert, chained or not); a second copy
// without indexes is printed for reference.
const { owner } = await createWorkspace({ name: "Bench appends" });
// Ordinary (logged) tables: a temporary table skips the write-ahead log, which no audit trail can.
await db.execute(sql`drop table if exists plain_events, bare_events`);
await db.execute(sql`create table plain_events (like audit_events including defaults including indexes)`);
await db.execute(sql`create table bare_events (like audit_events including defaults)`);
// The same row a chained append writes (64-hex hashes, an Ed25519 signature), without the chain.
const sampleHash = hashEvent({
  workspaceId: owner.wsActor.workspaceId,
  seq: 1,
  prevHash: GENESIS_HASH,
  occurredAt: new Date(),
  actorType: "user",
  actorId: owner.id,
  actorLabel: owner.email,
  action: "workspace.renamed",
  targetType: "workspace",
  targetId: null,
  changes: null,
  metadata: { i: 0 },
  requestId: null,
});
const sampleSig = signEventHash(sampleHash)!;
let plainSeq = 0;
const plainInsert = (table: "plain_events" | "bare_events", i: number) =>
  db.transaction(async (tx) => {
    await tx.execute(sql`insert into ${sql.raw(table)} (id, workspace_id, seq, prev_hash, hash, occurred_at, actor_type, actor_id, actor_label, action, target_type, metadata, signature, key_id)
      values (${randomUUID()}, ${owner.wsActor.workspaceId}, ${++plainSeq}, ${sampleHash}, ${sampleHash}, now(), 'user', ${owner.id}, ${owner.email}, 'workspace.renamed', 'workspace', ${JSON.stringify({ i })}::jsonb, ${sampleSig.signature}, ${sampleSig.keyId})`);
  });
const chainedOnce = (i: number) =>
  mutate(owner.wsActor, async (_tx, audit) => audit({ action: "workspace.renamed", target: { type: "workspace" }, metadata: { i } }));
// Warm-up, then the two measured side by side in alternating blocks (the machine's load drifts).
for (let i = 0; i < 50; i++) await chainedOnce(i);
let chainedMs = 0;
let plainMs = 0;
let bareMs = 0;
const BLOCK = 250;
for (let done = 0; done < APPENDS; done += BLOCK) {
  const n = Math.min(BLOCK, APPENDS - done);
  chainedMs += (
    await time(async () => {
      for (let i = 0; i < n; i++) await chainedOnce(done + i);
    })
  ).ms;
  plainMs += (
    await time(async () => {
      for (let i = 0; i < n; i++) await plainInsert("plain_events", done + i);
    })
  ).ms;
  bareMs += (
    await time(async () => {
      for (let i = 0; i < n; i++) await plainInsert("bare_events", done + i);
    })
  ).ms;
}
const chainedRate = APPENDS / (chainedMs / 1000);
const plainRate = APPENDS / (plainMs / 1000);
const bareRate = APPENDS / (bareMs / 1000);
console.log(`appends (one transaction each, ${fmt(APPENDS)} events, sequential)`);
console.log(`  chained mutate():  ${fmt(chainedRate)} events/s`);
console.log(`  plain insert:      ${fmt(plainRate)} events/s (same indexes)`);
console.log(`  bare insert:       ${fmt(bareRate)} events/s (no indexes)`);
console.log(`  ratio chained/plain: ${(chainedRate / plainRate).toFixed(2)} (chained/bare ${(chainedRate / bareRate).toFixed(2)})`);

// Concurrent writers: W sessions appending at once, to one workspace's chain and to W chains.
const concurrent = async (writers: number, perWriter: number, oneChain: boolean) => {
  const actors = oneChain
    ? Array.from({ length: writers }, () => owner.wsActor)
    : await Promise.all(Array.from({ length: writers }, async (_, w) => (await createWorkspace({ name: `Bench writers ${w}` })).owner.wsActor));
  const t = await time(() =>
    Promise.all(
      actors.map(async (a, w) => {
        for (let i = 0; i < perWriter; i++)
          await mutate(a, async (_tx, audit) => audit({ action: "workspace.renamed", target: { type: "workspace" }, metadata: { w, i } }));
      }),
    ),
  );
  return (writers * perWriter) / (t.ms / 1000);
};
const plainConcurrent = async (writers: number, perWriter: number) => {
  const t = await time(() =>
    Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        for (let i = 0; i < perWriter; i++) await plainInsert("plain_events", 1_000_000 + w * perWriter + i);
      }),
    ),
  );
  return (writers * perWriter) / (t.ms / 1000);
};
console.log("");
console.log("| writers | chained, one chain (events/s) | chained, one chain each | plain insert | ratio one chain / plain | ratio chain each / plain |");
console.log("|---:|---:|---:|---:|---:|---:|");
for (const w of [1, 8, 32]) {
  const per = Math.max(20, Math.floor(APPENDS / 4 / w));
  const one = await concurrent(w, per, true);
  const each = await concurrent(w, per, false);
  const p = await plainConcurrent(w, per);
  console.log(`| ${w} | ${fmt(one)} | ${fmt(each)} | ${fmt(p)} | ${(one / p).toFixed(2)} | ${(each / p).toFixed(2)} |`);
}
console.log("");

await db.execute(sql`drop table plain_events, bare_events`);

// 2. A chain of N events, written in bulk (valid hashes, computed here).
const bulk = await createWorkspace({ name: "Bench chain" });
const ws = bulk.workspace.id;
const existing = (await db.execute<{ n: number }>(sql`select count(*)::int as n from audit_events where workspace_id = ${ws}`))[0]!.n;
let prev =
  (await db.execute<{ hash: string }>(sql`select hash from audit_events where workspace_id = ${ws} order by seq desc limit 1`))[0]?.hash ?? GENESIS_HASH;
const actions = ["workspace.renamed", "member.invited", "member.role_changed", "dataset.version_created", "model.version_registered"];
const t0 = performance.now();
let written = 0;
for (let start = existing + 1; start <= existing + N; start += 3000) {
  const rows: (typeof auditEvents.$inferInsert)[] = [];
  for (let seq = start; seq < Math.min(start + 3000, existing + N + 1); seq++) {
    const f = {
      workspaceId: ws,
      seq,
      prevHash: prev,
      occurredAt: new Date(Date.UTC(2026, 0, 1) + seq * 1000),
      actorType: "user" as const,
      actorId: bulk.owner.id,
      actorLabel: seq % 7 === 0 ? "grace@bench.local" : bulk.owner.email,
      action: actions[seq % actions.length]!,
      targetType: "workspace",
      targetId: ws,
      changes: { name: [`n${seq - 1}`, `n${seq}`] as [unknown, unknown] },
      metadata: { seq },
      requestId: null,
    };
    const hash = hashEvent(f);
    // Signed as mutate() signs them: verification checks every event's signature.
    rows.push({ id: randomUUID(), ...f, hash, ...signEventHash(hash) });
    prev = hash;
  }
  await db.insert(auditEvents).values(rows);
  written += rows.length;
  if (process.stdout.isTTY) process.stdout.write(`\r  writing the chain… ${fmt(written)} / ${fmt(N)}`);
}
if (process.stdout.isTTY) process.stdout.write("\n");
console.log(`bulk chain write: ${fmt(N)} events in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
// What autovacuum does soon after such a load (PostgreSQL 13+ vacuums after inserts too): fresh
// statistics for the planner and a visibility map, so the time filter's seq range comes from an
// index-only scan.
await db.execute(sql`vacuum (analyze) audit_events`);

// 3. Verification rate: with no checkpoint every event's own Ed25519 signature is checked;
// after one (the hourly audit.checkpoint job signs each changed chain) only hashes and links
// are, up to it: a signed head vouches for everything before it.
const { signCheckpointPayload } = await import("../server/audit/signing");
const { auditCheckpoints, auditChainHeads } = await import("../db/schema");
const { parseExport, verifyExport, keyRing, loadPublicKey } = await import("../server/audit/verify");
const { exportEventLine, verifyExportBytes } = await import("../server/audit/verify-bytes");
const { verifyExportFile } = await import("../server/audit/verify-parallel");
const { signingKeys } = await import("../server/audit/signing");
const head = (
  await db.execute<{ seq: number; hash: string }>(sql`select seq::int as seq, hash from audit_events where workspace_id = ${ws} order by seq desc limit 1`)
)[0]!;
// The bulk rows bypassed mutate(): move the chain's head row to them, as an append would have.
await db
  .update(auditChainHeads)
  .set({ seq: head.seq, hash: head.hash, occurredAt: new Date(Date.UTC(2026, 0, 1) + head.seq * 1000) })
  .where(sql`${auditChainHeads.chain} = ${ws}`);
const unsigned = await time(() => verifyChain(ws));
if (!unsigned.r.intact) throw new Error(`bench chain did not verify: ${JSON.stringify(unsigned.r)}`);
const cp = signCheckpointPayload({ workspaceId: ws, seq: head.seq, headHash: head.hash, signedAt: new Date() });
await db.insert(auditCheckpoints).values({ ...cp, signedAt: new Date(cp.signedAt) });
const v = await time(() => verifyChain(ws));
if (!v.r.intact) throw new Error(`bench chain did not verify: ${JSON.stringify(v.r)}`);
// Offline: the NDJSON export `steward audit verify` reads, parsed and verified in this process.
const rowsForExport = await db
  .select()
  .from(auditEvents)
  .where(sql`${auditEvents.workspaceId} = ${ws}`)
  .orderBy(auditEvents.seq);
// Format 2 (what the export writes): each event line carries the bytes its hash covers.
const ndjson = [
  JSON.stringify({ type: "header", format: "steward-audit-export", version: 2, workspaceId: ws }),
  ...rowsForExport.map((e) => exportEventLine(e)),
  JSON.stringify({ type: "checkpoint", ...cp }),
].join("\n");
const ndjsonBytes = Buffer.from(ndjson);
const trusted = keyRing([loadPublicKey(signingKeys().publicKeyPem)]);
// The decoding verifier (every event parsed and re-encoded) and the fast path (`steward audit verify`): one sha256 over each line's slice.
const offlineDecoding = await time(async () => {
  const parsed = parseExport(ndjson);
  return verifyExport(parsed.events, parsed.checkpoints, trusted);
});
if (!offlineDecoding.r.intact) throw new Error(`bench export did not verify: ${JSON.stringify(offlineDecoding.r.problem)}`);
const offline = await time(async () => verifyExportBytes(ndjsonBytes, trusted).report);
if (!offline.r.intact) throw new Error(`bench export did not verify on the fast path: ${JSON.stringify(offline.r.problem)}`);
// What `steward audit verify` does with the file: read into shared memory, one block per core.
const exportFile = path.join(os.tmpdir(), `steward-bench-export-${process.pid}.ndjson`);
fs.writeFileSync(exportFile, ndjsonBytes);
const parallel = await time(async () => verifyExportFile(exportFile, trusted));
fs.rmSync(exportFile, { force: true });
if (!parallel.r.report.intact) throw new Error(`bench export did not verify on threads: ${JSON.stringify(parallel.r.report.problem)}`);
const rate = (n: number, ms: number) => fmt(n / (ms / 1000));
console.log("");
console.log(`| verification of ${fmt(v.r.checked)} events | seconds | events/s |`);
console.log("|---|---:|---:|");
console.log(
  `| in the database, no checkpoint (every event's signature checked) | ${(unsigned.ms / 1000).toFixed(2)} | ${rate(unsigned.r.checked, unsigned.ms)} |`,
);
console.log(`| in the database, after a checkpoint (hashes and links) | ${(v.ms / 1000).toFixed(2)} | ${rate(v.r.checked, v.ms)} |`);
console.log(
  `| offline, NDJSON export (${(ndjson.length / 1e6).toFixed(0)} MB), after a checkpoint, every event decoded | ${(offlineDecoding.ms / 1000).toFixed(2)} | ${rate(offlineDecoding.r.events, offlineDecoding.ms)} |`,
);
console.log(
  `| offline, same export, one thread (hash over each line's bytes, no decoding) | ${(offline.ms / 1000).toFixed(2)} | ${rate(offline.r.events, offline.ms)} |`,
);
console.log(
  `| offline, same file, \`steward audit verify\` (${parallel.r.threads} threads, file read included) | ${(parallel.ms / 1000).toFixed(2)} | ${rate(parallel.r.report.events, parallel.ms)} |`,
);
console.log("");

// 4. Explorer queries at N events (median of 5).
const actor = bulk.owner.wsActor;
const median = async (fn: () => Promise<unknown>) => {
  const ms = [];
  for (let i = 0; i < 5; i++) ms.push((await time(fn)).ms);
  return ms.sort((a, b) => a - b)[2]!;
};
const page1 = await listAuditEvents(actor, { workspaceId: ws, limit: 100 });
const deep = existing + Math.floor(N / 2);
const queries: [string, () => Promise<unknown>][] = [
  ["newest 100", () => listAuditEvents(actor, { workspaceId: ws, limit: 100 })],
  ["next page (keyset)", () => listAuditEvents(actor, { workspaceId: ws, limit: 100, cursor: page1.nextCursor })],
  ["page in the middle (keyset)", () => listAuditEvents(actor, { workspaceId: ws, limit: 100, cursor: deep })],
  ["filter: action", () => listAuditEvents(actor, { workspaceId: ws, limit: 100, action: "member.role_changed" })],
  ["filter: actor", () => listAuditEvents(actor, { workspaceId: ws, limit: 100, actor: "grace@bench" })],
  ["filter: one day", () => listAuditEvents(actor, { workspaceId: ws, limit: 100, from: new Date(Date.UTC(2026, 0, 3)), to: new Date(Date.UTC(2026, 0, 4)) })],
  ["filter: text in metadata", () => listAuditEvents(actor, { workspaceId: ws, limit: 100, q: `"seq": ${existing + 17}` })],
];
console.log(`explorer queries at ${fmt(N)} events (median of 5)`);
for (const [name, fn] of queries) console.log(`  ${name.padEnd(30)} ${(await median(fn)).toFixed(1)} ms`);

await closeDb();
await stop?.();
fs.rmSync(dir, { recursive: true, force: true });

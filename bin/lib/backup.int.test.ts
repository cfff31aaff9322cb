import { execFile } from "node:child_process";
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it, inject } from "vitest";
import { findPgTool, type Manifest, type RestoreReport } from "./backup";

/*
 * The restore drill, as an operator runs it: a demo instance in a database of its own
 * (seeded by a child process, checkpoints signed and published), `steward admin backup`,
 * then `steward admin restore` into a second, freshly created database with an empty
 * artifact folder and an empty data folder. Checked here without trusting the restore's
 * own report: the chains are row for row the same and `steward audit verify` passes on an
 * export against the restored signed and published checkpoints; every blob hashes to its
 * name; the deployments serve the same versions; the keys came back.
 * Both databases live on the server DATABASE_URL points at, and are dropped afterwards.
 */
const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, "..", "..");
const shared = inject("databaseUrl");
const admin = postgres(shared, { max: 1, onnotice: () => undefined });
const [{ num }] = (await admin`select current_setting('server_version_num') as num`) as unknown as [{ num: string }];
const major = Math.floor(Number(num) / 10000);
// pg_dump refuses a server newer than itself: the embedded PostgreSQL 18 of the first CI pass has no pg_dump 18 on this machine.
const pgDump = await findPgTool("pg_dump", major).catch((err: Error) => err);
const skip = pgDump instanceof Error ? pgDump.message : null;

const suffix = randomUUID().replace(/-/g, "").slice(0, 12);
const dbs = { source: `steward_bk_src_${suffix}`, target: `steward_bk_dst_${suffix}` };
const urlOf = (db: string) => Object.assign(new URL(shared), { pathname: `/${db}` }).toString();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "steward-drill-"));
const dir = (name: string) => path.join(tmp, name);

/** The environment of a process of one instance: nothing of the test's own configuration leaks in. */
function instanceEnv(instance: { db: string; data: string; artifacts: string }): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (/^(DATABASE_URL|ARTIFACT_|AUDIT_|AUTH_SECRET|STEWARD_)/.test(k)) delete env[k];
  return Object.assign(env, { DATABASE_URL: urlOf(instance.db), STEWARD_DATA_DIR: instance.data, ARTIFACT_DIR: instance.artifacts });
}
const source = { db: dbs.source, data: dir("data-a"), artifacts: dir("artifacts-a") };
const target = { db: dbs.target, data: dir("data-b"), artifacts: dir("artifacts-b") };

async function steward(instance: typeof source, ...args: string[]) {
  return run(process.execPath, [path.join(root, "bin", "steward.mjs"), ...args], { cwd: root, env: instanceEnv(instance), maxBuffer: 32 << 20 }).catch(
    (err: Error & { code?: number; stdout?: string; stderr?: string }) => ({ stdout: err.stdout ?? "", stderr: `${err.stderr ?? ""}\n[exit ${err.code}]` }),
  );
}

function blobFiles(artifacts: string) {
  const out: string[] = [];
  const base = path.join(artifacts, "sha256");
  for (const d of fs.existsSync(base) ? fs.readdirSync(base) : []) for (const f of fs.readdirSync(path.join(base, d))) out.push(path.join(base, d, f));
  return out.sort();
}

const chainRows = (sql: postgres.Sql) =>
  sql`select coalesce(workspace_id::text, 'instance') as chain, seq::text, hash, signature from audit_events order by 1, seq`.then((r) =>
    r.map((x) => ({ ...x })),
  );
const checkpointRows = (sql: postgres.Sql) =>
  sql`select coalesce(workspace_id::text, 'instance') as chain, seq::text, head_hash, signature from audit_checkpoints order by 1, seq`.then((r) =>
    r.map((x) => ({ ...x })),
  );
const servingRows = (sql: postgres.Sql) =>
  sql`select d.name, d.status, p.sha256 as primary_sha, p.version as primary_version, c.version as canary_version
      from deployments d join model_versions p on p.id = d.primary_version_id left join model_versions c on c.id = d.canary_version_id order by d.name`.then(
    (r) => r.map((x) => ({ ...x })),
  );

let manifest: Manifest;
let report: RestoreReport;
let restoreOutput = "";

beforeAll(async () => {
  if (skip) return;
  for (const db of Object.values(dbs)) await admin.unsafe(`create database ${db}`);
  // The source instance: a data folder as npm start makes it (secrets.json, the generated signing key).
  fs.mkdirSync(source.data, { mode: 0o700 });
  fs.writeFileSync(path.join(source.data, "secrets.json"), JSON.stringify({ authSecret: randomBytes(32).toString("base64url"), pgPassword: "unused" }), {
    mode: 0o600,
  });
  const keyFile = path.join(source.data, "audit-signing-key.pem");
  fs.writeFileSync(keyFile, generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  const seeded = await run(process.execPath, ["--import", "tsx", "--import", "./bin/hooks/register.js", "test/seed-instance.ts"], {
    cwd: root,
    env: {
      ...instanceEnv(source),
      AUTH_SECRET: (JSON.parse(fs.readFileSync(path.join(source.data, "secrets.json"), "utf8")) as { authSecret: string }).authSecret,
      NEXTAUTH_URL: "http://localhost:3000",
      AUDIT_SIGNING_KEY_FILE: keyFile,
    },
  });
  expect(seeded.stdout).toMatch(/^seeded /m);

  const b = await steward(source, "--json", "admin", "backup", dir("backup"));
  expect(b.stderr).not.toMatch(/\[exit/);
  manifest = JSON.parse(b.stdout) as Manifest;
  const r = await steward(target, "--json", "admin", "restore", dir("backup"));
  restoreOutput = `${r.stdout}\n${r.stderr}`;
  report = JSON.parse(r.stdout) as RestoreReport;
}, 120_000);

afterAll(async () => {
  if (!skip) for (const db of Object.values(dbs)) await admin.unsafe(`drop database if exists ${db} with (force)`);
  await admin.end();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe.skipIf(skip)(`backup and restore drill${skip ? ` (skipped: ${skip})` : ""}`, () => {
  it("backs up the database, every artifact with its sha256, and the keys", () => {
    expect(manifest.database.size).toBeGreaterThan(0);
    expect(manifest.artifacts.filter((a) => a.path.startsWith("sha256/")).length).toBeGreaterThanOrEqual(2);
    expect(manifest.artifacts.filter((a) => a.path.startsWith("checkpoints/")).length).toBeGreaterThanOrEqual(2);
    for (const a of manifest.artifacts)
      expect(
        createHash("sha256")
          .update(fs.readFileSync(path.join(source.artifacts, a.path)))
          .digest("hex"),
      ).toBe(a.sha256);
    expect(manifest.keys.map((k) => k.path).sort()).toEqual(["audit-signing-key.pem", "secrets.json"]);
    expect(manifest.chains.every((c) => c.checkpoints >= 1)).toBe(true);
    expect(manifest.deployments.length).toBeGreaterThanOrEqual(1);
    expect(fs.statSync(dir("backup")).mode & 0o077).toBe(0);
  });

  it("restores into a fresh database and folders; the report says every check passed", () => {
    expect(report.ok, restoreOutput).toBe(true);
    expect(report.chains.map((c) => c.chain).sort()).toEqual(manifest.chains.map((c) => c.chain).sort());
    for (const c of report.chains)
      expect(c).toMatchObject({ intact: true, problem: null, checkpointsVerified: expect.any(Number), publishedVerified: expect.any(Number) });
    expect(report.chains.every((c) => c.checkpointsVerified >= 1 && c.publishedVerified >= 1)).toBe(true);
    expect(report.blobs).toMatchObject({ missing: [], mismatched: [] });
    expect(report.blobs.verified).toBe(report.blobs.referenced);
    expect(report.deployments).toEqual({ expected: manifest.deployments.length, same: manifest.deployments.length, different: [] });
  });

  it("the restored chains are the source's, row for row, and steward audit verify passes against the restored checkpoints", async () => {
    const src = postgres(urlOf(dbs.source), { max: 1 });
    const dst = postgres(urlOf(dbs.target), { max: 1 });
    try {
      expect(await chainRows(dst)).toEqual(await chainRows(src));
      expect(await checkpointRows(dst)).toEqual(await checkpointRows(src));
      expect(await servingRows(dst)).toEqual(await servingRows(src));

      // An export of the workspace chain, in the format of GET …/audit/export, verified offline by the CLI.
      const [ws] = await dst`select id from workspaces where slug = 'acme'`;
      const events = await dst`select * from audit_events where workspace_id = ${ws!.id as string} order by seq`;
      const cps = await dst`select * from audit_checkpoints where workspace_id = ${ws!.id as string} order by seq`;
      const pub = createPublicKey(createPrivateKey(fs.readFileSync(path.join(target.data, "audit-signing-key.pem"), "utf8")))
        .export({ type: "spki", format: "pem" })
        .toString();
      const lines = [
        { type: "header", format: "steward-audit-export", version: 1, workspaceId: ws!.id as string },
        ...events.map((e) => ({
          type: "event",
          workspaceId: e.workspace_id as string,
          seq: Number(e.seq),
          prevHash: e.prev_hash as string,
          hash: e.hash as string,
          occurredAt: (e.occurred_at as Date).toISOString(),
          actorType: e.actor_type as string,
          actorId: e.actor_id as string | null,
          actorLabel: e.actor_label as string | null,
          action: e.action as string,
          targetType: e.target_type as string,
          targetId: e.target_id as string | null,
          changes: e.changes as unknown,
          metadata: e.metadata as unknown,
          requestId: e.request_id as string | null,
          signature: e.signature as string | null,
          keyId: e.key_id as string | null,
        })),
        ...cps.map((c) => ({
          type: "checkpoint",
          workspaceId: c.workspace_id as string,
          seq: Number(c.seq),
          headHash: c.head_hash as string,
          signedAt: (c.signed_at as Date).toISOString(),
          keyId: c.key_id as string,
          signature: c.signature as string,
        })),
      ];
      fs.writeFileSync(dir("trail.ndjson"), lines.map((l) => JSON.stringify(l)).join("\n"));
      fs.writeFileSync(dir("key.pub.pem"), pub);
      const v = await steward(target, "audit", "verify", dir("trail.ndjson"), "--public-key", dir("key.pub.pem"), "--published", target.artifacts);
      expect(`${v.stdout}${v.stderr}`).toMatch(
        new RegExp(
          `^Intact: ${events.length} events \\(#1…#${events.length}, complete from #1\\), ${cps.length} signed checkpoint\\(s\\) verified, checked against ${cps.length} of ${cps.length} published`,
        ),
      );
    } finally {
      await src.end();
      await dst.end();
    }
  });

  it("every restored blob has the bytes its name says, the same set as the source; the keys came back", () => {
    const restored = blobFiles(target.artifacts);
    expect(restored.map((f) => path.relative(target.artifacts, f))).toEqual(blobFiles(source.artifacts).map((f) => path.relative(source.artifacts, f)));
    for (const f of restored) expect(createHash("sha256").update(fs.readFileSync(f)).digest("hex")).toBe(path.basename(f));
    expect(fs.readFileSync(path.join(target.data, "secrets.json"), "utf8")).toContain(
      (JSON.parse(fs.readFileSync(path.join(source.data, "secrets.json"), "utf8")) as { authSecret: string }).authSecret,
    );
    expect(fs.readFileSync(path.join(target.data, "audit-signing-key.pem"), "utf8")).toBe(
      fs.readFileSync(path.join(source.data, "audit-signing-key.pem"), "utf8"),
    );
  });

  it("refuses a damaged backup before touching anything, and never restores over a database that holds data", async () => {
    fs.cpSync(dir("backup"), dir("damaged"), { recursive: true });
    const blob = manifest.artifacts.find((a) => a.path.startsWith("sha256/"))!;
    const file = path.join(dir("damaged"), "artifacts", blob.path);
    const bytes = fs.readFileSync(file);
    bytes[0]! ^= 0xff;
    fs.writeFileSync(file, bytes);
    const elsewhere = { db: dbs.target, data: dir("data-c"), artifacts: dir("artifacts-c") };
    const damaged = await steward(elsewhere, "admin", "restore", dir("damaged"));
    expect(damaged.stderr).toMatch(new RegExp(`The backup is damaged: artifacts/${blob.path} does not match its sha256`));
    expect(fs.existsSync(elsewhere.data)).toBe(false);

    const again = await steward(elsewhere, "admin", "restore", dir("backup"));
    expect(again.stderr).toMatch(/The target database is not empty/);
    expect(fs.existsSync(elsewhere.artifacts)).toBe(false);
  });
});

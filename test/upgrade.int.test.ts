import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it, inject } from "vitest";
import { findPgTool, type Manifest, type RestoreReport } from "~/bin/lib/backup";

/**
 * Upgrades keep the record: an instance made by an earlier release (test/fixtures/release-8cb845a,
 * migrations 0000–0011, its demo workspace with signed and published checkpoints) is restored
 * into a fresh database, migrated to the current schema by the current code, and then every
 * chain still verifies from genesis against its checkpoints, new events chain onto the old
 * ones, every blob hashes to its name, and the deployment serves the same version, which
 * onnxruntime loads and answers with.
 */
const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, "..");
const fixture = path.join(root, "test", "fixtures", "release-8cb845a");
const shared = inject("databaseUrl");
const admin = postgres(shared, { max: 1, onnotice: () => undefined });
const [{ num }] = (await admin`select current_setting('server_version_num') as num`) as unknown as [{ num: string }];
// The fixture is a PostgreSQL 15 dump: pg_restore must be at least 15 and able to reach the server (the embedded 18 of CI's first pass has no pg_restore 18 here).
const tool = await findPgTool("pg_restore", Math.max(15, Math.floor(Number(num) / 10000))).catch((err: Error) => err);
const skip = tool instanceof Error ? tool.message : null;

const db = `steward_upgrade_${randomUUID().replace(/-/g, "").slice(0, 12)}`;
const url = Object.assign(new URL(shared), { pathname: `/${db}` }).toString();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "steward-upgrade-"));
const instance = { data: path.join(tmp, "data"), artifacts: path.join(tmp, "artifacts"), backup: path.join(tmp, "backup") };
function instanceEnv(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(e)) if (/^(DATABASE_URL|ARTIFACT_|AUDIT_|AUTH_SECRET|STEWARD_)/.test(k)) delete e[k];
  return Object.assign(e, { DATABASE_URL: url, STEWARD_DATA_DIR: instance.data, ARTIFACT_DIR: instance.artifacts });
}
const node = (args: string[], extra: Record<string, string> = {}) =>
  run(process.execPath, args, { cwd: root, env: { ...instanceEnv(), ...extra }, maxBuffer: 32 << 20 }).catch(
    (err: Error & { stdout?: string; stderr?: string; code?: number }) => ({
      stdout: err.stdout ?? "",
      stderr: `${err.stderr ?? ""}\n[exit ${err.code}]`,
    }),
  );

type Check = {
  before: { chain: string; intact: boolean; checked: number }[];
  after: { chain: string; intact: boolean; checked: number }[];
  served: { deployment: string; version: number; sha256Matches: boolean; outputs: string[] }[];
};
let manifest: Manifest;
let restored: RestoreReport;
let migrated = "";
let check: Check;

beforeAll(async () => {
  if (skip) return;
  await admin.unsafe(`create database ${db}`);
  fs.cpSync(fixture, instance.backup, { recursive: true });
  manifest = JSON.parse(fs.readFileSync(path.join(instance.backup, "manifest.json"), "utf8")) as Manifest;
  const r = await node([path.join("bin", "steward.mjs"), "--json", "admin", "restore", instance.backup]);
  restored = JSON.parse(r.stdout || "{}") as RestoreReport;
  expect(restored.ok, `${r.stdout}\n${r.stderr}`).toBe(true);
  const m = await node(["--import", "tsx", "--import", "./bin/hooks/register.js", "db/migrate-cli.ts"]);
  migrated = `${m.stdout}\n${m.stderr}`;
  const keyFile = path.join(instance.data, "audit-signing-key.pem");
  const secrets = JSON.parse(fs.readFileSync(path.join(instance.data, "secrets.json"), "utf8")) as { authSecret: string };
  const c = await node(["--import", "tsx", "--import", "./bin/hooks/register.js", "test/upgrade-check.ts"], {
    AUDIT_SIGNING_KEY_FILE: keyFile,
    AUTH_SECRET: secrets.authSecret,
    NEXTAUTH_URL: "http://localhost:3000",
  });
  check = JSON.parse(c.stdout.trim().split("\n").pop() || "null") as Check;
  expect(check, c.stderr).toBeTruthy();
}, 180_000);

afterAll(async () => {
  if (!skip) await admin.unsafe(`drop database if exists ${db} with (force)`);
  await admin.end();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe.skipIf(skip)(`an instance made by an earlier release${skip ? ` (skipped: ${skip})` : ""}`, () => {
  it("migrates to the current schema from 0011", async () => {
    expect(migrated).not.toMatch(/\[exit/);
    // Restoring with this release's tool brought the schema up before verifying with this release's code.
    expect(restored.migrated).toBeGreaterThanOrEqual(10);
    const sql = postgres(url, { max: 1, onnotice: () => undefined });
    try {
      const applied = await sql<{ n: string }[]>`select count(*)::text as n from drizzle.__drizzle_migrations`;
      const journal = JSON.parse(fs.readFileSync(path.join(root, "db", "migrations", "meta", "_journal.json"), "utf8")) as { entries: unknown[] };
      expect(Number(applied[0]!.n)).toBe(journal.entries.length);
      expect(journal.entries.length).toBeGreaterThan(12); // the fixture stops at 0011: 0012 onwards were applied
    } finally {
      await sql.end();
    }
  });

  it("keeps every audit chain verifiable from genesis with the current code, and new events chain onto the old ones", () => {
    expect(check.before.map((c) => c.chain).sort()).toEqual(manifest.chains.map((c) => c.chain).sort());
    for (const c of check.before) expect(c, c.chain).toMatchObject({ intact: true });
    const events = (chain: string) => manifest.chains.find((c) => c.chain === chain)!.events;
    for (const c of check.before) expect(c.checked).toBe(events(c.chain));
    // One new checkpoint event per chain, appended by the current code and verified with the rest.
    for (const c of check.after) expect(c).toMatchObject({ intact: true, checked: events(c.chain) + 1 });
  });

  it("serves the same version, whose blob hashes to its name and which onnxruntime loads and answers with", () => {
    // "credit-risk@1 <sha256>" in the manifest: the version number after the @.
    expect(check.served.map((s) => `${s.deployment} v${s.version}`)).toEqual(manifest.deployments.map((d) => `${d.name} v${/@(\d+) /.exec(d.primary)![1]}`));
    expect(check.served.length).toBeGreaterThan(0);
    for (const s of check.served) {
      expect(s.sha256Matches).toBe(true);
      expect(s.outputs.length).toBeGreaterThan(0);
    }
  });
});

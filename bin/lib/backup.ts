import { execFile } from "node:child_process";
import { createHash, createPrivateKey, createPublicKey } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import postgres from "postgres";

/*
 * `steward admin backup <dir>` / `steward admin restore <dir>`: everything an instance is
 * made of, in one folder —
 *   database.dump        pg_dump (custom format) of the whole Steward database
 *   artifacts/…          the local artifact store (blobs under sha256/, published checkpoints)
 *   keys/…               secrets.json (session secret, embedded Postgres password), the audit
 *                        signing key and the retired public keys that still verify
 *   manifest.json        the sha256 of every file above, the chain heads and what each
 *                        deployment serves at the time of the backup
 * Restore refuses a non-empty database or artifact folder, checks every file against the
 * manifest, loads the dump, copies the store, then verifies what it restored: every audit
 * chain against its signed and published checkpoints, every blob a row references by its
 * sha256, and each deployment's versions against the manifest.
 * Imports nothing from the server but the pure verifier (server/audit/verify.ts).
 */

const run = promisify(execFile);

export type InstancePaths = {
  databaseUrl: string;
  /** The local artifact store (ARTIFACT_DIR). */
  artifactDir: string;
  /** Where `npm start` keeps secrets.json and the generated signing key. */
  dataDir: string;
  /** AUDIT_SIGNING_KEY (PEM) or AUDIT_SIGNING_KEY_FILE, when the configuration sets them. */
  signingKeyPem?: string;
  signingKeyFile?: string;
  /** AUDIT_VERIFY_KEYS (PEM bundle) and AUDIT_VERIFY_KEYS_FILE (a file or a folder of .pem). */
  verifyKeysPem?: string;
  verifyKeysFile?: string;
  /** A folder holding pg_dump / pg_restore (PG_BIN), tried first. */
  pgBin?: string;
  log?: (m: string) => void;
};

type FileEntry = { path: string; sha256: string; size: number };
type ChainHead = { chain: string; events: number; headSeq: number; headHash: string; checkpoints: number };
type DeploymentServing = { workspace: string; name: string; status: string; primary: string; canary: string | null; shadow: string | null };

export type Manifest = {
  format: "steward-backup";
  version: 1;
  createdAt: string;
  database: { file: string; sha256: string; size: number; serverVersion: string; pgDump: string };
  artifacts: FileEntry[];
  keys: FileEntry[];
  chains: ChainHead[];
  deployments: DeploymentServing[];
  timings: Record<string, number>;
};

export type RestoreReport = {
  chains: (ChainHead & { intact: boolean; problem: string | null; checkpointsVerified: number; publishedVerified: number })[];
  blobs: { referenced: number; verified: number; missing: string[]; mismatched: string[] };
  deployments: { expected: number; same: number; different: string[] };
  /** Migrations applied to bring a backup of an earlier release to this release's schema. */
  migrated: number;
  timings: Record<string, number>;
  ok: boolean;
};

/* ----------------------------------------------------------------------------- tools */

async function toolMajor(bin: string) {
  try {
    const { stdout } = await run(bin, ["--version"]);
    const m = /\(PostgreSQL\)\s+(\d+)/.exec(stdout);
    return m ? { bin, major: Number(m[1]), version: stdout.trim() } : null;
  } catch {
    return null;
  }
}

/** The pg_dump or pg_restore to use with a server of `major`: the same major if there is one, else the nearest newer. */
export async function findPgTool(tool: "pg_dump" | "pg_restore", major: number, pgBin?: string) {
  const dirs = [pgBin];
  try {
    const versions = (await fs.readdir("/usr/lib/postgresql")).sort((a, b) => Number(b) - Number(a));
    dirs.push(...versions.map((v) => `/usr/lib/postgresql/${v}/bin`));
  } catch {
    // not a Debian layout
  }
  const found = (await Promise.all([...dirs.filter(Boolean).map((d) => toolMajor(path.join(d!, tool))), toolMajor(tool)])).filter((t) => t !== null);
  const usable = found.filter((t) => t.major >= major).sort((a, b) => a.major - b.major);
  if (usable[0]) return usable[0];
  const seen = found.length ? found.map((t) => `${t.major} (${t.bin})`).join(", ") : "none";
  throw new Error(
    `PostgreSQL ${major} needs ${tool} ${major} or newer; found: ${seen}. Install the PostgreSQL ${major} client tools (postgresql-client-${major}) or set PG_BIN to their bin folder.`,
  );
}

/* ----------------------------------------------------------------------------- files */

async function hashCopy(from: string, to: string, mode = 0o600): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  await fs.mkdir(path.dirname(to), { recursive: true, mode: 0o700 });
  await pipeline(
    createReadStream(from),
    new Transform({
      transform(chunk: Buffer, _e, cb) {
        hash.update(chunk);
        size += chunk.length;
        cb(null, chunk);
      },
    }),
    createWriteStream(to, { flags: "wx", mode }),
  );
  return { sha256: hash.digest("hex"), size };
}

async function hashFile(file: string) {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Files under `root`, relative, sorted; the store's staging area and half-written temporaries are not part of it. */
async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(dir: string) {
    let entries;
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      const rel = path.relative(root, p);
      if (e.isDirectory()) {
        if (rel !== "staging") await walk(p);
      } else if (e.isFile() && !e.name.endsWith(".tmp")) out.push(rel);
    }
  }
  await walk(root);
  return out.sort();
}

const isBlobPath = (rel: string) => /^sha256\/[0-9a-f]{2}\/[0-9a-f]{64}$/.test(rel.split(path.sep).join("/"));

/* ----------------------------------------------------------------------------- database */

function connect(url: string) {
  return postgres(url, { max: 1, onnotice: () => undefined, connection: { application_name: "steward-backup" } });
}

async function serverMajor(sql: postgres.Sql) {
  const [r] = await sql<{ num: string; version: string }[]>`select current_setting('server_version_num') as num, current_setting('server_version') as version`;
  return { major: Math.floor(Number(r!.num) / 10000), version: r!.version };
}

async function chainHeads(sql: postgres.Sql): Promise<ChainHead[]> {
  const rows = await sql<{ chain: string | null; events: string; head_seq: string; head_hash: string; checkpoints: string }[]>`
    select e.workspace_id as chain, count(*) as events, max(e.seq) as head_seq,
           (select hash from audit_events h where h.workspace_id is not distinct from e.workspace_id order by seq desc limit 1) as head_hash,
           (select count(*) from audit_checkpoints c where c.workspace_id is not distinct from e.workspace_id) as checkpoints
    from audit_events e group by e.workspace_id order by e.workspace_id nulls first`;
  return rows.map((r) => ({
    chain: r.chain ?? "instance",
    events: Number(r.events),
    headSeq: Number(r.head_seq),
    headHash: r.head_hash,
    checkpoints: Number(r.checkpoints),
  }));
}

async function deploymentsServing(sql: postgres.Sql): Promise<DeploymentServing[]> {
  const rows = await sql<{ workspace: string; name: string; status: string; primary: string; canary: string | null; shadow: string | null }[]>`
    select w.slug as workspace, d.name, d.status,
           concat(pm.name, '@', p.version, ' ', p.sha256) as primary,
           case when c.id is null then null else concat(cm.name, '@', c.version, ' ', c.sha256) end as canary,
           case when s.id is null then null else concat(sm.name, '@', s.version, ' ', s.sha256) end as shadow
    from deployments d
    join workspaces w on w.id = d.workspace_id
    join model_versions p on p.id = d.primary_version_id join models pm on pm.id = p.model_id
    left join model_versions c on c.id = d.canary_version_id left join models cm on cm.id = c.model_id
    left join model_versions s on s.id = d.shadow_version_id left join models sm on sm.id = s.model_id
    order by w.slug, d.name`;
  return rows.map((r) => ({ ...r }));
}

/* ----------------------------------------------------------------------------- backup */

async function keyFiles(paths: InstancePaths): Promise<{ name: string; content?: string; file?: string }[]> {
  const keys: { name: string; content?: string; file?: string }[] = [];
  const exists = (f: string) =>
    fs.access(f).then(
      () => true,
      () => false,
    );
  const secrets = path.join(paths.dataDir, "secrets.json");
  if (await exists(secrets)) keys.push({ name: "secrets.json", file: secrets });
  const generated = path.join(paths.dataDir, "audit-signing-key.pem");
  if (paths.signingKeyPem) keys.push({ name: "audit-signing-key.pem", content: paths.signingKeyPem });
  else if (paths.signingKeyFile) keys.push({ name: "audit-signing-key.pem", file: paths.signingKeyFile });
  else if (await exists(generated)) keys.push({ name: "audit-signing-key.pem", file: generated });
  if (paths.verifyKeysPem) keys.push({ name: "audit-verify-keys/configured.pem", content: paths.verifyKeysPem });
  if (paths.verifyKeysFile) {
    const stat = await fs.stat(paths.verifyKeysFile);
    if (stat.isDirectory()) {
      for (const f of (await fs.readdir(paths.verifyKeysFile)).filter((n) => n.endsWith(".pem")).sort())
        keys.push({ name: `audit-verify-keys/${f}`, file: path.join(paths.verifyKeysFile, f) });
    } else keys.push({ name: `audit-verify-keys/${path.basename(paths.verifyKeysFile)}`, file: paths.verifyKeysFile });
  }
  return keys;
}

/** Writes a backup of the instance into `dir` (which must be empty or absent). */
export async function backup(dir: string, paths: InstancePaths): Promise<Manifest> {
  const log = paths.log ?? (() => undefined);
  const timings: Record<string, number> = {};
  const t0 = Date.now();
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  if ((await fs.readdir(dir)).length) throw new Error(`${dir} is not empty: back up into a new folder.`);
  await fs.chmod(dir, 0o700);

  const sql = connect(paths.databaseUrl);
  try {
    const server = await serverMajor(sql);
    const pgDump = await findPgTool("pg_dump", server.major, paths.pgBin);
    const dumpFile = path.join(dir, "database.dump");
    log(`Dumping the database (PostgreSQL ${server.version}, ${pgDump.bin})…`);
    let t = Date.now();
    // One snapshot of every schema (Steward's tables, the pg-boss queue, socket.io's), without owners or grants: the restoring role owns it all.
    await run(pgDump.bin, ["--format=custom", "--no-owner", "--no-privileges", "--file", dumpFile, "--dbname", paths.databaseUrl], { maxBuffer: 16 << 20 });
    await fs.chmod(dumpFile, 0o600);
    timings.databaseMs = Date.now() - t;
    // What the dump holds, read after it: a row committed in between is in neither, and the restore check compares against these.
    const chains = await chainHeads(sql);
    const deployments = await deploymentsServing(sql);
    const dumpStat = await fs.stat(dumpFile);

    log(`Copying the artifact store (${paths.artifactDir})…`);
    t = Date.now();
    const artifacts: FileEntry[] = [];
    for (const rel of await listFiles(paths.artifactDir)) {
      const copied = await hashCopy(path.join(paths.artifactDir, rel), path.join(dir, "artifacts", rel));
      if (isBlobPath(rel) && path.basename(rel) !== copied.sha256) {
        throw new Error(
          `The artifact store is damaged: ${rel} no longer has the bytes its name says (sha256 ${copied.sha256}). Restore that blob from an older backup first.`,
        );
      }
      artifacts.push({ path: rel.split(path.sep).join("/"), ...copied });
    }
    timings.artifactsMs = Date.now() - t;

    const keys: FileEntry[] = [];
    for (const k of await keyFiles(paths)) {
      const target = path.join(dir, "keys", k.name);
      await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
      if (k.file) keys.push({ path: k.name, ...(await hashCopy(k.file, target)) });
      else {
        await fs.writeFile(target, k.content!, { mode: 0o600, flag: "wx" });
        keys.push({ path: k.name, sha256: createHash("sha256").update(k.content!).digest("hex"), size: Buffer.byteLength(k.content!) });
      }
    }
    if (!keys.some((k) => k.path === "audit-signing-key.pem"))
      log("Note: no audit signing key found to back up (AUDIT_SIGNING_KEY, AUDIT_SIGNING_KEY_FILE or the data folder).");

    timings.totalMs = Date.now() - t0;
    const manifest: Manifest = {
      format: "steward-backup",
      version: 1,
      createdAt: new Date().toISOString(),
      database: { file: "database.dump", sha256: await hashFile(dumpFile), size: dumpStat.size, serverVersion: server.version, pgDump: pgDump.version },
      artifacts,
      keys,
      chains,
      deployments,
      timings,
    };
    await fs.writeFile(path.join(dir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
    return manifest;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/* ----------------------------------------------------------------------------- restore */

export async function readManifest(dir: string): Promise<Manifest> {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await fs.readFile(path.join(dir, "manifest.json"), "utf8")) as Manifest;
  } catch {
    throw new Error(`${dir} holds no readable manifest.json: is it a Steward backup?`);
  }
  if (manifest.format !== "steward-backup" || manifest.version !== 1) throw new Error(`${dir}/manifest.json is not a Steward backup this version can restore.`);
  return manifest;
}

/** The public keys a restored instance verifies with: the signing key's own, and the retired ones. */
async function restoredPublicKeys(dir: string, manifest: Manifest) {
  const pems: string[] = [];
  for (const k of manifest.keys) {
    const text = await fs.readFile(path.join(dir, "keys", k.path), "utf8");
    if (k.path === "audit-signing-key.pem") pems.push(createPublicKey(createPrivateKey(text)).export({ type: "spki", format: "pem" }).toString());
    else if (k.path.startsWith("audit-verify-keys/")) pems.push(text);
  }
  return pems.join("\n");
}

/**
 * Restores the backup in `dir` into an empty database and an empty artifact folder, puts
 * the keys into the data folder, and verifies the result (see RestoreReport).
 */
export async function restore(dir: string, paths: InstancePaths): Promise<RestoreReport> {
  const log = paths.log ?? (() => undefined);
  const timings: Record<string, number> = {};
  const t0 = Date.now();
  const manifest = await readManifest(dir);

  log("Checking the backup against its manifest…");
  let t = Date.now();
  const check = async (file: string, e: { sha256: string }) => {
    if ((await hashFile(file).catch(() => "missing")) !== e.sha256)
      throw new Error(`The backup is damaged: ${path.relative(dir, file)} does not match its sha256 in manifest.json.`);
  };
  await check(path.join(dir, manifest.database.file), manifest.database);
  for (const k of manifest.keys) await check(path.join(dir, "keys", k.path), k);
  for (const a of manifest.artifacts) await check(path.join(dir, "artifacts", a.path), a);
  timings.checkMs = Date.now() - t;

  const sql = connect(paths.databaseUrl);
  try {
    const [tables] = await sql<{ n: string }[]>`select count(*) as n from pg_tables where schemaname not in ('pg_catalog', 'information_schema')`;
    if (Number(tables?.n) > 0) throw new Error("The target database is not empty: restore into a new, empty database (createdb), never over a live one.");
    if ((await listFiles(paths.artifactDir)).length)
      throw new Error(`The artifact folder ${paths.artifactDir} is not empty: restore into a new, empty folder.`);

    log("Restoring the keys…");
    await restoreKeys(dir, manifest, paths, log);

    const server = await serverMajor(sql);
    const dumpMajor = Number(/\(PostgreSQL\)\s+(\d+)/.exec(manifest.database.pgDump)?.[1] ?? server.major);
    const pgRestore = await findPgTool("pg_restore", Math.max(dumpMajor, server.major), paths.pgBin);
    log(`Loading the database (PostgreSQL ${server.version}, ${pgRestore.bin})…`);
    t = Date.now();
    await run(
      pgRestore.bin,
      ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", "--dbname", paths.databaseUrl, path.join(dir, manifest.database.file)],
      { maxBuffer: 16 << 20 },
    );
    timings.databaseMs = Date.now() - t;

    log(`Copying ${manifest.artifacts.length} artifact file(s) into ${paths.artifactDir}…`);
    t = Date.now();
    await fs.mkdir(paths.artifactDir, { recursive: true, mode: 0o700 });
    for (const a of manifest.artifacts) {
      const copied = await hashCopy(
        path.join(dir, "artifacts", a.path),
        path.join(paths.artifactDir, a.path),
        a.path.startsWith("checkpoints/") ? 0o400 : 0o600,
      );
      if (copied.sha256 !== a.sha256) throw new Error(`The backup is damaged: artifacts/${a.path} does not match its sha256 in manifest.json.`);
    }
    timings.artifactsMs = Date.now() - t;

    // A backup of an earlier release holds an earlier schema: bring it to this release's before
    // verifying with this release's code (npm start would migrate it anyway).
    const applied = async () =>
      Number(((await sql`select count(*)::int as n from drizzle.__drizzle_migrations`.catch(() => [{ n: 0 }])) as unknown as [{ n: number }])[0].n);
    const before = await applied();
    t = Date.now();
    const { runMigrations } = await import("../../db/migrate");
    await runMigrations(paths.databaseUrl);
    const migrated = (await applied()) - before;
    timings.migrateMs = Date.now() - t;
    if (migrated) log(`Migrated the restored database to this release's schema (${migrated} migration${migrated === 1 ? "" : "s"} applied).`);

    log("Verifying what was restored…");
    t = Date.now();
    const report = await verifyRestored(sql, paths.artifactDir, manifest, await restoredPublicKeys(dir, manifest));
    timings.verifyMs = Date.now() - t;
    timings.totalMs = Date.now() - t0;
    return { ...report, migrated, timings };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

async function restoreKeys(dir: string, manifest: Manifest, paths: InstancePaths, log: (m: string) => void) {
  await fs.mkdir(paths.dataDir, { recursive: true, mode: 0o700 });
  for (const k of manifest.keys) {
    const from = path.join(dir, "keys", k.path);
    if (k.path === "secrets.json") {
      // The session secret must come back (sessions, pseudonyms and derived secrets are keyed
      // with it); an embedded cluster already initialised here keeps its own password.
      const restored = JSON.parse(await fs.readFile(from, "utf8")) as { authSecret: string; pgPassword: string };
      const target = path.join(paths.dataDir, "secrets.json");
      const existing = await fs.readFile(target, "utf8").then(
        (t) => JSON.parse(t) as { pgPassword?: string },
        () => null,
      );
      const clusterExists = await fs.access(path.join(paths.dataDir, "pg", "PG_VERSION")).then(
        () => true,
        () => false,
      );
      const merged = { ...restored, ...(existing?.pgPassword && clusterExists ? { pgPassword: existing.pgPassword } : {}) };
      await fs.writeFile(target, JSON.stringify(merged, null, 2), { mode: 0o600 });
    } else if (k.path === "audit-signing-key.pem") {
      if (paths.signingKeyPem || paths.signingKeyFile) {
        const configured = paths.signingKeyPem ?? (await fs.readFile(paths.signingKeyFile!, "utf8"));
        const same = createPublicKey(createPrivateKey(configured))
          .export({ type: "spki", format: "der" })
          .equals(createPublicKey(createPrivateKey(await fs.readFile(from, "utf8"))).export({ type: "spki", format: "der" }));
        if (!same)
          log(
            `Note: this instance signs with another audit key than the backup's; add the backup's public key (${path.join(dir, "keys", k.path)} → openssl pkey -pubout) to AUDIT_VERIFY_KEYS_FILE so old checkpoints keep verifying.`,
          );
      } else {
        const target = path.join(paths.dataDir, "audit-signing-key.pem");
        const existing = await fs.readFile(target, "utf8").catch(() => null);
        if (existing !== null && existing !== (await fs.readFile(from, "utf8"))) {
          throw new Error(`${target} holds another signing key: restore into a new data folder (STEWARD_DATA_DIR), or move that key aside.`);
        }
        if (existing === null) await fs.copyFile(from, target);
        await fs.chmod(target, 0o600);
      }
    } else if (k.path.startsWith("audit-verify-keys/")) {
      const target = path.join(paths.dataDir, k.path);
      await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
      await fs.copyFile(from, target);
      log(`Retired audit public key restored to ${target}: set AUDIT_VERIFY_KEYS_FILE=${path.dirname(target)} on every process.`);
    }
  }
}

/** Verifies a restored instance: every chain, every referenced blob, every deployment. */
export async function verifyRestored(
  sql: postgres.Sql,
  artifactDir: string,
  manifest: Manifest,
  publicKeysPem: string,
): Promise<Omit<RestoreReport, "timings" | "migrated">> {
  const { keyRing, parsePublishedCheckpoint, publicKeysFromPem, verifyExport } = await import("../../server/audit/verify");
  const keys = keyRing(publicKeysFromPem(publicKeysPem));
  const heads = await chainHeads(sql);
  const chains: RestoreReport["chains"] = [];
  for (const head of heads) {
    const ws = head.chain === "instance" ? null : head.chain;
    const events = await sql<Record<string, unknown>[]>`
      select workspace_id, seq::float8 as seq, prev_hash, hash, occurred_at, actor_type, actor_id, actor_label, action, target_type, target_id, changes, metadata, request_id, signature, key_id
      from audit_events where workspace_id is not distinct from ${ws} order by seq`;
    const checkpoints = await sql<Record<string, unknown>[]>`
      select workspace_id, seq::float8 as seq, head_hash, signed_at, key_id, signature from audit_checkpoints where workspace_id is not distinct from ${ws} order by seq`;
    const folder = path.join(artifactDir, "checkpoints", head.chain);
    const files = (await fs.readdir(folder).catch(() => [] as string[])).filter((f) => f.endsWith(".json")).sort();
    const published = await Promise.all(
      files.map(async (f) => parsePublishedCheckpoint(JSON.parse(await fs.readFile(path.join(folder, f), "utf8")), path.join(folder, f))),
    );
    const report = verifyExport(
      events.map((e) => ({
        workspaceId: e.workspace_id as string | null,
        seq: e.seq as number,
        prevHash: e.prev_hash as string,
        hash: e.hash as string,
        occurredAt: e.occurred_at as Date,
        actorType: e.actor_type as string,
        actorId: e.actor_id as string | null,
        actorLabel: e.actor_label as string | null,
        action: e.action as string,
        targetType: e.target_type as string,
        targetId: e.target_id as string | null,
        changes: e.changes,
        metadata: e.metadata,
        requestId: e.request_id as string | null,
        signature: e.signature as string | null,
        keyId: e.key_id as string | null,
      })),
      checkpoints.map((c) => ({
        workspaceId: c.workspace_id as string | null,
        seq: c.seq as number,
        headHash: c.head_hash as string,
        signedAt: c.signed_at as Date,
        keyId: c.key_id as string,
        signature: c.signature as string,
      })),
      keys,
      published.filter((p) => p.workspaceId === ws),
    );
    const expected = manifest.chains.find((c) => c.chain === head.chain);
    const sameHead = !expected || (expected.headSeq === head.headSeq && expected.headHash === head.headHash);
    chains.push({
      ...head,
      intact: report.intact && sameHead,
      problem: report.problem
        ? `event #${report.problem.seq}: ${report.problem.reason}`
        : sameHead
          ? null
          : `the head is #${head.headSeq}, the backup's was #${expected.headSeq}`,
      checkpointsVerified: report.checkpointsVerified,
      publishedVerified: report.publishedVerified ?? 0,
    });
  }
  for (const c of manifest.chains) {
    if (!heads.some((h) => h.chain === c.chain))
      chains.push({ ...c, intact: false, problem: "the chain is missing", checkpointsVerified: 0, publishedVerified: 0 });
  }

  const referenced = (
    await sql<{ sha256: string }[]>`select sha256 from dataset_versions union select sha256 from model_versions union select sha256 from run_artifacts`
  ).map((r) => r.sha256);
  const blobs = { referenced: referenced.length, verified: 0, missing: [] as string[], mismatched: [] as string[] };
  for (const sha of referenced.sort()) {
    const file = path.join(artifactDir, "sha256", sha.slice(0, 2), sha);
    const actual = await hashFile(file).catch(() => null);
    if (actual === null) blobs.missing.push(sha);
    else if (actual !== sha) blobs.mismatched.push(sha);
    else blobs.verified++;
  }

  const now = await deploymentsServing(sql);
  const key = (d: DeploymentServing) => `${d.workspace}/${d.name}`;
  const different = manifest.deployments.filter((d) => JSON.stringify(now.find((n) => key(n) === key(d))) !== JSON.stringify(d)).map(key);
  const deployments = { expected: manifest.deployments.length, same: manifest.deployments.length - different.length, different };

  const ok = chains.every((c) => c.intact) && blobs.missing.length === 0 && blobs.mismatched.length === 0 && different.length === 0;
  return { chains, blobs, deployments, ok };
}

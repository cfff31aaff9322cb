/* ---------------------------------------------------------------------------
 * `npm start`: everything on one machine. Embedded PostgreSQL (unless
 * DATABASE_URL is set), migrations, the demo workspace on first run, a build if
 * the sources changed, then the web, worker and inference processes. Ctrl-C stops all of it.
 * ------------------------------------------------------------------------- */
import { spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildIsStale, buildWebApp } from "./lib/build";
import { freePort, portInUse, startEmbeddedPostgres } from "./lib/embedded-pg";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dev = process.env.STEWARD_DEV === "1";
const dataDir = path.resolve(process.env.STEWARD_DATA_DIR ?? path.join(root, ".steward"));
const say = (m: string) => console.log(`\x1b[36m[steward]\x1b[0m ${m}`);
const fail = (m: string): never => {
  console.error(`\x1b[31m[steward]\x1b[0m ${m}`);
  process.exit(1);
};

fs.mkdirSync(dataDir, { recursive: true });
const secretsFile = path.join(dataDir, "secrets.json");
type Secrets = { authSecret: string; pgPassword: string };
let secrets: Secrets;
if (fs.existsSync(secretsFile)) {
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

const children = new Map<string, ChildProcess>();
let stopping = false;

function startChild(name: string, entry: string) {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "--import", "./bin/hooks/register.js", entry],
    { cwd: root, stdio: ["ignore", "inherit", "inherit", "ipc"], env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" } },
  );
  children.set(name, child);
  child.on("exit", (code, signal) => {
    children.delete(name);
    if (!stopping) {
      console.error(`[steward] the ${name} process exited (${signal ?? `code ${code}`}); stopping Steward.`);
      void stopAll(1);
    } else if (children.size === 0) {
      void finish();
    }
  });
  return child;
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

async function stopAll(code: number) {
  if (stopping) return;
  stopping = true;
  exitCode = code;
  say("Stopping…");
  for (const c of children.values()) c.kill("SIGTERM");
  if (children.size === 0) return finish();
  setTimeout(() => {
    for (const c of children.values()) c.kill("SIGKILL");
    void finish();
  }, 15_000).unref();
}

process.on("SIGINT", () => void stopAll(0));
process.on("SIGTERM", () => void stopAll(0));

const web = startChild("web", "server.ts");
startChild("worker", path.join("workers", "index.ts"));
startChild("inference", path.join("workers", "inference", "index.ts"));
web.on("message", (m: { type?: string }) => {
  if (m?.type !== "ready") return;
  // Where the running instance is, for local tools (npm run simulate); gone at Ctrl-C.
  fs.writeFileSync(runtimeFile, JSON.stringify({ web: process.env.NEXTAUTH_URL, inference: process.env.INFERENCE_URL, databaseUrl: process.env.DATABASE_URL, pid: process.pid }, null, 2), { mode: 0o600 });
  say(`Steward is ready: ${process.env.NEXTAUTH_URL}  (Ctrl-C to stop) · predictions: ${process.env.INFERENCE_URL}/v1/deployments/<name>/predict · traffic for the demo: npm run simulate`);
});

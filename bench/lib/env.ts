import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startEmbeddedPostgres } from "../../bin/lib/embedded-pg";
import { runMigrations } from "../../db/migrate";

/**
 * What every bench needs before it imports the app: a scratch folder, a database
 * (DATABASE_URL, or a throwaway embedded PostgreSQL, migrated), and the secrets the
 * configuration requires. Call `done()` at the end to stop Postgres and remove the folder.
 */
export async function benchEnv(name: string, opts: { database?: boolean } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `steward-bench-${name}-`));
  fs.chmodSync(dir, 0o755);
  let stop: (() => Promise<void>) | undefined;
  if (opts.database !== false) {
    if (!process.env.DATABASE_URL) {
      const pg = await startEmbeddedPostgres({ dir: path.join(dir, "pg"), password: "bench" });
      process.env.DATABASE_URL = pg.url;
      stop = pg.stop;
    }
    await runMigrations(process.env.DATABASE_URL);
  }
  // Without a database the configuration still wants a URL; nothing connects to it.
  process.env.DATABASE_URL ??= "postgres://unused@127.0.0.1:1/unused";
  process.env.AUTH_SECRET ??= "bench-secret-bench-secret-bench-secret-00";
  process.env.ARTIFACT_DIR ??= path.join(dir, "artifacts");
  process.env.AUDIT_SIGNING_KEY ??= generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  return {
    dir,
    async done() {
      await stop?.();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { startEmbeddedPostgres } from "../bin/lib/embedded-pg";
import { runMigrations } from "../db/migrate";

/**
 * A real PostgreSQL for the integration suite: DATABASE_URL when set (CI also runs the
 * suite against the machine's PostgreSQL 15), otherwise a throwaway embedded cluster.
 * Migrated once; tests isolate themselves by creating their own workspaces.
 */
export default async function setup(project: TestProject) {
  let url = process.env.DATABASE_URL;
  let stop: (() => Promise<void>) | undefined;
  let dir: string | undefined;
  if (!url) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "steward-test-pg-"));
    fs.chmodSync(dir, 0o755);
    const pg = await startEmbeddedPostgres({ dir: path.join(dir, "pg"), password: "steward-test" });
    url = pg.url;
    stop = pg.stop;
  } else if (!/@(localhost|127\.0\.0\.1|\[::1\])[:/]/.test(url)) {
    throw new Error("Refusing to run integration tests against a non-local DATABASE_URL.");
  }
  await runMigrations(url);
  project.provide("databaseUrl", url);
  return async () => {
    await stop?.();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}

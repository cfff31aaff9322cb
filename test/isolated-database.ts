import { randomUUID } from "node:crypto";
import postgres from "postgres";
import { inject } from "vitest";
import { runMigrations } from "~/db/migrate";

/*
 * A database of its own for a test file that starts real worker processes: workers take
 * any job queued in their database, so on the shared test database they would run steps
 * other files queued, and other files' workers (the entrypoint test's, say) would take
 * this file's. Import it FIRST in the test file: it points DATABASE_URL at a fresh,
 * migrated database on the same server before anything reads the environment.
 */
const shared = inject("databaseUrl");
const name = `steward_iso_${randomUUID().replace(/-/g, "").slice(0, 16)}`;
const admin = postgres(shared, { max: 1, onnotice: () => undefined });
await admin.unsafe(`create database ${name}`);
await admin.end();
const url = new URL(shared);
url.pathname = `/${name}`;
export const isolatedDatabaseUrl = url.toString();
await runMigrations(isolatedDatabaseUrl);
process.env.DATABASE_URL = isolatedDatabaseUrl;

/** Drops the file's database (its connections first); call in afterAll after closing the pool. */
export async function dropIsolatedDatabase() {
  const sql = postgres(shared, { max: 1, onnotice: () => undefined });
  try {
    await sql.unsafe(`drop database if exists ${name} with (force)`);
  } finally {
    await sql.end();
  }
}

import type postgres from "postgres";
import { env } from "~/env";
import { createDb, type Db } from "./connect";

export { createDb };
export type { Db, DbOrTx, Tx } from "./connect";

type Cache = { sql?: postgres.Sql; db?: Db; statementTimeoutMs?: number; bulk?: { sql: postgres.Sql; db: Db } };
const g = globalThis as unknown as { __stewardDb?: Cache };
const cache: Cache = (g.__stewardDb ??= {});

/** Process-wide pool, cached on globalThis so dev reloads and Next's bundles share one. */
export function getDb(): Db {
  if (!cache.db) {
    const created = createDb(env.DATABASE_URL, 10, { statementTimeoutMs: cache.statementTimeoutMs });
    cache.sql = created.sql;
    cache.db = created.db;
  }
  return cache.db;
}

/**
 * A small pool of its own for long reads people start (an audit export, a compliance
 * report): however many run at once they hold at most DB_BULK_CONNECTIONS connections, so
 * the main pool's stay free for sign-ins and pages. No statement timeout (each of their
 * statements is a bounded batch; an export may take minutes in all).
 */
export function getBulkDb(): Db {
  cache.bulk ??= createDb(env.DATABASE_URL, env.DB_BULK_CONNECTIONS);
  return cache.bulk.db;
}

/**
 * Sets the pool's statement timeout before its first use. The web process calls it
 * (DB_STATEMENT_TIMEOUT_SECONDS): its queries answer people. The worker's jobs (retention,
 * rollups) and the inference process's log writes may legitimately run longer.
 */
export function configureDb(opts: { statementTimeoutMs: number }) {
  if (cache.db) throw new Error("configureDb() must run before the first getDb()");
  cache.statementTimeoutMs = opts.statementTimeoutMs || undefined;
}

/** The postgres.js client behind getDb(): for LISTEN and other driver-level features. */
export function getSql(): postgres.Sql {
  getDb();
  return cache.sql!;
}

export async function closeDb() {
  const sql = cache.sql;
  const bulk = cache.bulk;
  cache.sql = undefined;
  cache.db = undefined;
  cache.bulk = undefined;
  await Promise.all([sql?.end({ timeout: 5 }), bulk?.sql.end({ timeout: 5 })]);
}

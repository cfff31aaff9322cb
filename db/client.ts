import type postgres from "postgres";
import { env } from "~/env";
import { createDb, type Db } from "./connect";

export { createDb };
export type { Db, DbOrTx, Tx } from "./connect";

type Cache = { sql?: postgres.Sql; db?: Db };
const g = globalThis as unknown as { __stewardDb?: Cache };
const cache: Cache = (g.__stewardDb ??= {});

/** Process-wide pool, cached on globalThis so dev reloads and Next's bundles share one. */
export function getDb(): Db {
  if (!cache.db) {
    const created = createDb(env.DATABASE_URL);
    cache.sql = created.sql;
    cache.db = created.db;
  }
  return cache.db;
}

/** The postgres.js client behind getDb(): for LISTEN and other driver-level features. */
export function getSql(): postgres.Sql {
  getDb();
  return cache.sql!;
}

export async function closeDb() {
  const sql = cache.sql;
  cache.sql = undefined;
  cache.db = undefined;
  await sql?.end({ timeout: 5 });
}

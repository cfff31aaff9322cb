import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import * as schema from "./schema";

export type Db = PostgresJsDatabase<typeof schema>;
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
export type DbOrTx = Db | Tx;

/** A pool and its Drizzle handle, for processes that manage their own connection (migrations, tests). */
export function createDb(url: string, max = 10, opts: { statementTimeoutMs?: number } = {}) {
  const sql = postgres(url, {
    max,
    onnotice: () => undefined,
    // Seconds before reconnecting after the n-th failed connection in a row. postgres.js's
    // own (3^n / 100 s, up to 20 s, shared by the whole pool) left a pool idle for up to 20 s
    // after a restarted database was back; capped at 1 s, recovery follows the database.
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 1) * (0.5 + Math.random() / 2),
    // A statement running longer is stopped by the server (57014), its connection freed.
    connection: { application_name: "steward", ...(opts.statementTimeoutMs ? { statement_timeout: opts.statementTimeoutMs } : {}) },
  });
  return { sql, db: drizzle(sql, { schema, casing: "snake_case" }) };
}

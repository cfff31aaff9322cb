import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import * as schema from "./schema";

export type Db = PostgresJsDatabase<typeof schema>;
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
export type DbOrTx = Db | Tx;

/** A pool and its Drizzle handle, for processes that manage their own connection (migrations, tests). */
export function createDb(url: string, max = 10) {
  const sql = postgres(url, {
    max,
    onnotice: () => undefined,
    connection: { application_name: "steward" },
  });
  return { sql, db: drizzle(sql, { schema, casing: "snake_case" }) };
}

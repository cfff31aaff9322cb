import { sql } from "drizzle-orm";
import postgres from "postgres";
import { afterAll, describe, expect, it, inject } from "vitest";
import { getBulkDb, getDb } from "~/db/client";
import { createUser } from "~/db/seed/factories";
import { env } from "~/env";
import { authenticate } from "~/server/identity/users.service";

/**
 * Long reads people start (audit exports, compliance reports) run on a pool of their own:
 * however many are stuck, they hold DB_BULK_CONNECTIONS connections and a sign-in still gets one.
 * The reads are held by an advisory lock this test owns, not by a timer.
 */
const holder = postgres(inject("databaseUrl"), { max: 1, onnotice: () => undefined });
afterAll(() => holder.end());

describe("the bulk pool", () => {
  it("caps stuck long reads at its own size, and a sign-in on the main pool goes through meanwhile", async () => {
    const user = await createUser();
    const key = Math.floor(Math.random() * 2 ** 31);
    await holder`select pg_advisory_lock(${key})`;
    // Promise.resolve starts them (a Drizzle query runs when it is awaited).
    const stuck = Array.from({ length: env.DB_BULK_CONNECTIONS + 3 }, () =>
      Promise.resolve(getBulkDb().execute(sql`select pg_advisory_lock_shared(${key}), pg_advisory_unlock_shared(${key})`)),
    );
    const waiting = async () =>
      Number(
        (
          await holder<{ n: string }[]>`select count(*)::text as n from pg_locks where locktype = 'advisory' and not granted and objid::bigint = ${key}::bigint`
        )[0]!.n,
      );
    // Until every bulk connection waits on the lock (a condition, polled with a deadline).
    for (const deadline = Date.now() + 20_000; (await waiting()) < env.DB_BULK_CONNECTIONS;)
      if (Date.now() > deadline) throw new Error("the bulk reads never reached the database");

    await expect(authenticate({ email: user.email, password: user.password })).resolves.toMatchObject({ id: user.id });
    await expect(getDb().execute(sql`select 1 as ok`)).resolves.toEqual([{ ok: 1 }]);
    // The rest wait in the pool's queue, not on the server.
    expect(await waiting()).toBe(env.DB_BULK_CONNECTIONS);

    await holder`select pg_advisory_unlock(${key})`;
    expect(await Promise.all(stuck)).toHaveLength(env.DB_BULK_CONNECTIONS + 3);
  });
});

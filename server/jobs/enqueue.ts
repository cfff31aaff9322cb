import "server-only";
import PgBoss from "pg-boss";
import type { z } from "zod";
import type { Tx } from "~/db/client";
import { env } from "~/env";
import type { JobDefinition } from "./define";
import { CHANNELS } from "~/server/platform/channels";

/*
 * Enqueue inside the business transaction: the job row is written through the same
 * transaction, so a rollback removes it and a commit makes it visible to workers — no
 * job for a change that never happened, no change without its job.
 */

type G = { __stewardBoss?: Promise<PgBoss> };
const g = globalThis as unknown as G;
const queues = new Set<string>();

/** A pg-boss client for sending only: no supervision, no cron, no workers in this process. */
function boss(): Promise<PgBoss> {
  g.__stewardBoss ??= (async () => {
    const b = new PgBoss({
      connectionString: env.DATABASE_URL,
      schema: "pgboss",
      max: 2,
      supervise: false,
      schedule: false,
      application_name: "steward-enqueue",
    });
    b.on("error", (err) => console.error("[jobs] pg-boss error:", err));
    await b.start();
    return b;
  })();
  const started = g.__stewardBoss;
  // A start that failed (the database was away) is not kept: the next enqueue starts again.
  started.catch(() => {
    if (g.__stewardBoss === started) g.__stewardBoss = undefined;
  });
  return started;
}

/** pg-boss's `{ executeSql }` over the Drizzle transaction's own connection. */
function txAdapter(tx: Tx) {
  const client = (tx as unknown as { session: { client: { unsafe: (q: string, v: unknown[]) => Promise<unknown[]> } } }).session.client;
  return {
    async executeSql(text: string, values: unknown[]) {
      // pg serialises objects as JSON; postgres.js needs it done explicitly.
      const params = values.map((v) =>
        v === undefined ? null : v !== null && typeof v === "object" && !(v instanceof Date) && !Buffer.isBuffer(v) ? JSON.stringify(v) : v,
      );
      return { rows: await client.unsafe(text, params) };
    },
  };
}

export async function enqueue<S extends z.ZodType>(tx: Tx, job: JobDefinition<S>, payload: z.input<S>): Promise<string> {
  const data = job.schema.parse(payload) as object;
  const b = await boss();
  if (!queues.has(job.name)) {
    // Outside the transaction: a queue is infrastructure, not part of the change.
    if (!(await b.getQueue(job.name))) await b.createQueue(job.name, { name: job.name, ...job.queue });
    queues.add(job.name);
  }
  const db = txAdapter(tx);
  const id = await b.send(job.name, data, { ...job.queue, db });
  if (!id) throw new Error(`pg-boss did not accept a ${job.name} job`);
  // Delivered when the transaction commits (and never if it rolls back): workers wake now.
  await db.executeSql("select pg_notify($1, $2)", [CHANNELS.jobs, job.name]);
  return id;
}

export async function closeEnqueuer() {
  const b = g.__stewardBoss;
  g.__stewardBoss = undefined;
  await (await b)?.stop({ graceful: false, wait: true }).catch(() => undefined);
}

import "server-only";
import { desc, gt, sql } from "drizzle-orm";
import { getDb } from "~/db/client";
import { processExits, workerHeartbeats } from "~/db/schema";

/** A worker is alive if it beat within this many seconds (it beats every 5 s). */
export const WORKER_STALE_SECONDS = 20;

export async function systemStatus() {
  const db = getDb();
  const since = new Date(Date.now() - 24 * 3600_000);
  const workers = await db.select().from(workerHeartbeats).where(gt(workerHeartbeats.lastSeenAt, since)).orderBy(desc(workerHeartbeats.lastSeenAt));
  // Restarts by `npm start`'s supervisor: the latest first, a day's worth.
  const exits = await db.select().from(processExits).where(gt(processExits.at, since)).orderBy(desc(processExits.at)).limit(50);
  const [pg] = await db.execute<{ version: string; now: Date }>(sql`select version() as version, now() as now`);
  const now = Date.now();
  return {
    database: {
      version: String(pg?.version ?? "")
        .split(" ")
        .slice(0, 2)
        .join(" "),
    },
    workers: workers.map((w) => ({
      id: w.id,
      hostname: w.hostname,
      pid: w.pid,
      startedAt: w.startedAt,
      lastSeenAt: w.lastSeenAt,
      jobsProcessed: w.jobsProcessed,
      status: w.stoppedAt ? ("stopped" as const) : now - w.lastSeenAt.getTime() <= WORKER_STALE_SECONDS * 1000 ? ("alive" as const) : ("stale" as const),
    })),
    processExits: exits.map((e) => ({
      id: e.id,
      process: e.process,
      hostname: e.hostname,
      pid: e.pid,
      /** "SIGKILL" or "code 1". */
      reason: e.signal ?? (e.exitCode === null ? "unknown" : `code ${e.exitCode}`),
      restartInMs: e.restartInMs,
      gaveUp: e.gaveUp,
      crashesInWindow: e.crashesInWindow,
      at: e.at,
    })),
  };
}

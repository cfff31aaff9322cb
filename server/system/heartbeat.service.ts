import "server-only";
import { eq, sql } from "drizzle-orm";
import { getDb } from "~/db/client";
import { processExits, workerHeartbeats } from "~/db/schema";

/** Telemetry, not domain state: not audited (see db/schema/system.ts). */
export async function recordHeartbeat(beat: { workerId: string; hostname: string; pid: number; startedAt: Date }) {
  await getDb()
    .insert(workerHeartbeats)
    .values({ id: beat.workerId, hostname: beat.hostname, pid: beat.pid, startedAt: beat.startedAt, lastSeenAt: new Date(), jobsProcessed: 1 })
    .onConflictDoUpdate({
      target: workerHeartbeats.id,
      set: { lastSeenAt: new Date(), jobsProcessed: sql`${workerHeartbeats.jobsProcessed} + 1`, stoppedAt: null },
    });
}

export async function recordWorkerStopped(workerId: string) {
  await getDb().update(workerHeartbeats).set({ stoppedAt: new Date() }).where(eq(workerHeartbeats.id, workerId));
}

/** An unexpected exit of a process of `npm start` and what its supervisor did (bin/lib/supervisor.ts). Telemetry: not audited. */
export async function recordProcessExit(exit: {
  process: string;
  hostname: string;
  pid: number | null;
  exitCode: number | null;
  signal: string | null;
  restartInMs: number | null;
  gaveUp: boolean;
  crashesInWindow: number;
  at: Date;
}) {
  await getDb().insert(processExits).values(exit);
}

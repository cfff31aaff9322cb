import { boolean, index, integer, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";

/**
 * Operational state, not domain state: counters and liveness that change every few
 * seconds. These writes are deliberately not audited (they are telemetry).
 */
export const authRateLimits = pgTable("auth_rate_limits", {
  key: text().primaryKey(),
  failures: integer().notNull().default(0),
  windowStartedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  lockedUntil: timestamp({ withTimezone: true }),
});

export const workerHeartbeats = pgTable("worker_heartbeats", {
  id: text().primaryKey(),
  hostname: text().notNull(),
  pid: integer().notNull(),
  startedAt: timestamp({ withTimezone: true }).notNull(),
  lastSeenAt: timestamp({ withTimezone: true }).notNull(),
  jobsProcessed: integer().notNull().default(0),
  stoppedAt: timestamp({ withTimezone: true }),
});

/**
 * A process of `npm start` that exited without being asked to (bin/lib/supervisor.ts), and
 * what the supervisor did about it: restarted it after `restartInMs`, or gave up after too
 * many crashes in a row. Written by the supervisor, shown in Settings › System.
 */
export const processExits = pgTable(
  "process_exits",
  {
    id: uuid().primaryKey().defaultRandom(),
    /** web, worker or inference. */
    process: text().notNull(),
    hostname: text().notNull(),
    /** The PID that exited. */
    pid: integer(),
    exitCode: integer(),
    signal: text(),
    /** Null when it was not restarted. */
    restartInMs: integer(),
    gaveUp: boolean().notNull().default(false),
    /** Exits of this process within the crash window, this one included. */
    crashesInWindow: integer().notNull(),
    at: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index().on(t.at)],
);

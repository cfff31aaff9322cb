import { integer, pgTable, text, timestamp } from "drizzle-orm/pg-core";

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

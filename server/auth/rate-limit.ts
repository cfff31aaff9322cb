import "server-only";
import { eq, inArray, sql } from "drizzle-orm";
import { getDb } from "~/db/client";
import { authRateLimits } from "~/db/schema";

/**
 * Failed sign-ins are counted per account and per client IP in Postgres, so every web
 * replica sees the same counters. Past the limit within the window, the key is locked.
 */
export const SIGN_IN_LIMITS = {
  account: { max: 5, windowMinutes: 15, lockMinutes: 15 },
  ip: { max: 30, windowMinutes: 15, lockMinutes: 15 },
} as const;

export const accountKey = (email: string) => `signin:account:${email.toLowerCase()}`;
export const ipKey = (ip: string) => `signin:ip:${ip}`;

/** Minutes until the first locked key unlocks, or null when none is locked. */
export async function lockedFor(keys: string[]): Promise<{ key: string; minutes: number } | null> {
  const rows = await getDb()
    .select({ key: authRateLimits.key, lockedUntil: authRateLimits.lockedUntil })
    .from(authRateLimits)
    .where(inArray(authRateLimits.key, keys));
  const now = Date.now();
  for (const r of rows) {
    if (r.lockedUntil && r.lockedUntil.getTime() > now) {
      return { key: r.key, minutes: Math.ceil((r.lockedUntil.getTime() - now) / 60_000) };
    }
  }
  return null;
}

export async function recordFailure(key: string, limit: { max: number; windowMinutes: number; lockMinutes: number }) {
  const window = sql.raw(`interval '${limit.windowMinutes} minutes'`);
  const lock = sql.raw(`interval '${limit.lockMinutes} minutes'`);
  const expired = sql`${authRateLimits.windowStartedAt} < now() - ${window}`;
  const next = sql`case when ${expired} then 1 else ${authRateLimits.failures} + 1 end`;
  await getDb()
    .insert(authRateLimits)
    .values({ key, failures: 1 })
    .onConflictDoUpdate({
      target: authRateLimits.key,
      set: {
        failures: next,
        windowStartedAt: sql`case when ${expired} then now() else ${authRateLimits.windowStartedAt} end`,
        lockedUntil: sql`case when ${next} >= ${limit.max} then now() + ${lock} else ${authRateLimits.lockedUntil} end`,
      },
    });
}

export async function clearFailures(key: string) {
  await getDb().delete(authRateLimits).where(eq(authRateLimits.key, key));
}

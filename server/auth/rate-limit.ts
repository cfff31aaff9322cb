import "server-only";
import { and, eq, inArray, lte, sql } from "drizzle-orm";
import { getDb } from "~/db/client";
import { authRateLimits } from "~/db/schema";

/*
 * Sign-in throttling: progressive delay, never a lockout.
 *
 * OWASP's Authentication Cheat Sheet ("Protect Against Automated Attacks" › "Account
 * Lockout") warns that a lockout lets anyone deny a user access by failing on purpose, and
 * describes the alternative used here: an exponential lockout "where the lockout duration
 * starts as a very short period (e.g., one second), but doubles after each failed login
 * attempt" — https://cheatsheetseries.owasp.org/cheatsheets/Authentication_Cheat_Sheet.html
 *
 * - Failures are counted per account + client IP and per client IP, in Postgres, so every
 *   web replica sees the same counters.
 * - Past a few free failures, each further failure sets a "not before" time that doubles
 *   (1 s, 2 s, 4 s … up to a cap). An attempt made before it is refused without looking at
 *   the password (so the delay cannot be used as an oracle) and without counting; an attempt
 *   after it is judged normally, and the correct password is accepted.
 * - A stranger failing on someone's account from another address adds nothing to that
 *   person's delay; a colleague behind the same NAT is slowed only once the address as a
 *   whole has failed many times, and then by at most a minute.
 * - A success clears the account + IP counter, never the IP's (one valid account must not
 *   reset a password-spraying address). Counters are forgotten an hour after they last bit.
 */
export type BackoffPolicy = {
  /** Failures that cost nothing (typos). */
  freeFailures: number;
  /** Delay after the first costly failure; it doubles with each further failure. */
  baseSeconds: number;
  maxSeconds: number;
  /** A counter whose delay ended this long ago starts again from zero. */
  forgetAfterMinutes: number;
};

export const SIGN_IN_BACKOFF = {
  accountIp: { freeFailures: 3, baseSeconds: 1, maxSeconds: 15 * 60, forgetAfterMinutes: 60 },
  ip: { freeFailures: 20, baseSeconds: 1, maxSeconds: 60, forgetAfterMinutes: 60 },
} as const satisfies Record<string, BackoffPolicy>;

export const accountIpKey = (email: string, ip: string | undefined) => `signin:account-ip:${email.toLowerCase()}|${ip ?? "unknown"}`;
export const ipKey = (ip: string) => `signin:from:${ip}`;

/** The time source of the sign-in throttle; tests move it instead of sleeping. */
export const clock = { now: () => Date.now() };

/** Seconds an attacker (or a user) waits after the n-th consecutive failure. */
export function backoffSeconds(failures: number, policy: BackoffPolicy): number {
  if (failures <= policy.freeFailures) return 0;
  return Math.min(policy.maxSeconds, policy.baseSeconds * 2 ** (failures - policy.freeFailures - 1));
}

/**
 * Asks to have one attempt judged now. Returns null when it may proceed, or the longest
 * wait still running on any key. On a key past its free failures the attempt also claims
 * the slot atomically (moving "not before" forward by the current delay), so a burst of
 * parallel requests at the moment a delay ends gets one guess judged, not a hundred; the
 * failure that follows (or, for account + IP, the success) replaces the claim.
 */
export async function claimSignInAttempt(keys: { key: string; policy: BackoffPolicy }[]): Promise<{ key: string; retryAfterMs: number } | null> {
  if (keys.length === 0) return null;
  const db = getDb();
  const rows = await db
    .select({ key: authRateLimits.key, failures: authRateLimits.failures, notBefore: authRateLimits.lockedUntil })
    .from(authRateLimits)
    .where(
      inArray(
        authRateLimits.key,
        keys.map((k) => k.key),
      ),
    );
  const now = clock.now();
  let worst: { key: string; retryAfterMs: number } | null = null;
  for (const r of rows) {
    const wait = (r.notBefore?.getTime() ?? 0) - now;
    if (wait > 0 && (!worst || wait > worst.retryAfterMs)) worst = { key: r.key, retryAfterMs: wait };
  }
  if (worst) return worst;
  const nowSql = sql`${new Date(now).toISOString()}::timestamptz`;
  for (const r of rows) {
    const policy = keys.find((k) => k.key === r.key)!.policy;
    const delay = backoffSeconds(r.failures, policy);
    // Free failures need no claim, and a forgotten counter starts again at its next failure.
    if (delay === 0 || (r.notBefore?.getTime() ?? 0) < now - policy.forgetAfterMinutes * 60_000) continue;
    const claimed = await db
      .update(authRateLimits)
      .set({ lockedUntil: sql`${nowSql} + make_interval(secs => ${delay}::float8)` })
      .where(and(eq(authRateLimits.key, r.key), lte(authRateLimits.lockedUntil, sql`${nowSql}`)))
      .returning({ key: authRateLimits.key });
    if (claimed.length === 0) return { key: r.key, retryAfterMs: delay * 1000 }; // a parallel attempt took it
  }
  return null;
}

/** Counts one failure on a key and returns the wait it now imposes (ms; 0 while failures are free). */
export async function recordSignInFailure(key: string, policy: BackoffPolicy): Promise<number> {
  const now = new Date(clock.now());
  const nowSql = sql`${now.toISOString()}::timestamptz`;
  const stale = sql`coalesce(${authRateLimits.lockedUntil}, ${authRateLimits.windowStartedAt}) < ${nowSql} - make_interval(mins => ${policy.forgetAfterMinutes}::int)`;
  const n = sql`case when ${stale} then 1 else ${authRateLimits.failures} + 1 end`;
  const delay = (count: ReturnType<typeof sql> | number) =>
    sql`case when (${count})::int <= ${policy.freeFailures}::int then 0 else least(${policy.maxSeconds}::float8, ${policy.baseSeconds}::float8 * power(2::float8, (${count})::int - ${policy.freeFailures}::int - 1)) end`;
  const [row] = await getDb()
    .insert(authRateLimits)
    .values({ key, failures: 1, windowStartedAt: now, lockedUntil: sql`${nowSql} + make_interval(secs => ${delay(1)})` })
    .onConflictDoUpdate({
      target: authRateLimits.key,
      set: {
        failures: n,
        windowStartedAt: sql`case when ${stale} then ${nowSql} else ${authRateLimits.windowStartedAt} end`,
        lockedUntil: sql`${nowSql} + make_interval(secs => ${delay(n)})`,
      },
    })
    .returning({ notBefore: authRateLimits.lockedUntil });
  return Math.max(0, (row?.notBefore?.getTime() ?? 0) - now.getTime());
}

/*
 * Re-authentication for e-signatures (reviews.sign) keeps a plain lockout: only someone
 * already signed in as the account can fail it, so it cannot be turned against another
 * person, and a stolen session should not get unlimited guesses at the password it lacks.
 */

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

import "server-only";
import { and, eq, gt, lt, ne } from "drizzle-orm";
import { parse as parseCookie } from "cookie";
import { getDb, type Tx } from "~/db/client";
import { authSessions, users } from "~/db/schema";
import { publish } from "~/server/realtime/publish";
import { decodeSession } from "~/server/platform/keys";

/**
 * Server-side sessions behind next-auth's JWT cookies. A JWT alone cannot be taken back, so
 * each sign-in records a row in `auth_sessions` whose id travels in the token as `sid`;
 * every request and socket handshake requires that row (plus the account's session
 * version, and the account not deactivated). Sign-out deletes the row; a password change
 * deletes the account's other rows; deactivation and "sign out everywhere" delete them all.
 */
export const SESSION_MAX_AGE_SECONDS = 30 * 24 * 3600;

export const SESSION_COOKIES = ["__Secure-next-auth.session-token", "next-auth.session-token"];

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The claims of a session token this module cares about. */
export type SessionClaims = { sub?: unknown; sv?: unknown; sid?: unknown };

export type LiveSessionUser = { id: string; email: string; name: string; sid: string };

/** Records a new session for a sign-in and returns its id (the token's `sid`). */
export async function startSession(userId: string): Promise<string> {
  const db = getDb();
  // Expired rows of this account go here: no sweeper needed, and the table stays small.
  await db.delete(authSessions).where(and(eq(authSessions.userId, userId), lt(authSessions.expiresAt, new Date())));
  const [row] = await db
    .insert(authSessions)
    .values({ userId, expiresAt: new Date(Date.now() + SESSION_MAX_AGE_SECONDS * 1000) })
    .returning({ id: authSessions.id });
  return row!.id;
}

/** Signs one session out, on every replica: its row goes, and its open sockets are closed. */
export async function endSession(sid: unknown): Promise<void> {
  if (typeof sid !== "string" || !UUID.test(sid)) return;
  await getDb().delete(authSessions).where(eq(authSessions.id, sid));
  publish.disconnectSession(sid);
}

/**
 * Ends the account's sessions inside the caller's transaction, all of them or all but
 * `except` (the one that changed the password). Returns the ended ids: the caller closes
 * their sockets after commit (publish.disconnectSession).
 */
export async function endUserSessionsTx(tx: Tx, userId: string, except?: string): Promise<string[]> {
  const keep = except && UUID.test(except) ? except : undefined;
  const ended = await tx
    .delete(authSessions)
    .where(keep ? and(eq(authSessions.userId, userId), ne(authSessions.id, keep)) : eq(authSessions.userId, userId))
    .returning({ id: authSessions.id });
  return ended.map((r) => r.id);
}

/** The user of a session token if the session is still live (recorded, unexpired, current version, account active). */
export async function liveSessionUser(claims: SessionClaims | null | undefined): Promise<LiveSessionUser | null> {
  const { sub, sid } = claims ?? {};
  if (typeof sub !== "string" || !UUID.test(sub) || typeof sid !== "string" || !UUID.test(sid)) return null;
  const sv = typeof claims?.sv === "number" ? claims.sv : 0;
  const [u] = await getDb()
    .select({ id: users.id, email: users.email, name: users.name, deactivatedAt: users.deactivatedAt, sessionVersion: users.sessionVersion })
    .from(authSessions)
    .innerJoin(users, eq(users.id, authSessions.userId))
    .where(and(eq(authSessions.id, sid), eq(authSessions.userId, sub), gt(authSessions.expiresAt, new Date())));
  if (!u || u.deactivatedAt || u.sessionVersion !== sv) return null;
  return { id: u.id, email: u.email, name: u.name, sid };
}

/** Decodes the next-auth session cookie from a Cookie header (socket handshakes, tests). */
export async function sessionClaimsFromCookieHeader(header: string | undefined): Promise<SessionClaims | null> {
  const cookies = parseCookie(header ?? "");
  const name = SESSION_COOKIES.find((n) => cookies[n]);
  if (!name) return null;
  // Every secret of the session key ring (AUTH_SECRETS) may have signed it.
  return decodeSession({ token: cookies[name] });
}

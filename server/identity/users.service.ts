import "server-only";
import { and, eq, isNull, sql } from "drizzle-orm";
import { getDb } from "~/db/client";
import { memberships, users } from "~/db/schema";
import type { RequestMeta, UserActor } from "~/server/audit/actor";
import { mutate } from "~/server/audit/mutate";
import { hashPassword, verifyPassword } from "~/server/auth/password";
import { endUserSessionsTx } from "~/server/auth/sessions";
import { accountIpKey, claimSignInAttempt, clearFailures, ipKey, recordSignInFailure, SIGN_IN_BACKOFF } from "~/server/auth/rate-limit";
import { AppError, isUniqueViolation } from "~/server/errors";
import { publish } from "~/server/realtime/publish";
import { credentialsChanged } from "~/server/platform/credentials";
import { assertSignUpAllowed } from "~/server/instance/settings.service";
import { z } from "zod";
import { Password, SignInInput, SignUpInput } from "~/server/shared/identity.schema";
import { lock, LOCKS } from "~/server/platform/locks";

export type UserDto = { id: string; email: string; name: string };

/** Creates an account with an argon2id password hash. Duplicate e-mails are a CONFLICT on `email`. */
export async function signUp(raw: SignUpInput, meta: RequestMeta = {}): Promise<UserDto> {
  const input = SignUpInput.parse(raw);
  const passwordHash = await hashPassword(input.password);
  try {
    return await mutate(
      { type: "anonymous", label: input.email },
      async (tx, audit) => {
        // The instance's first account administers it; later ones do not. Sign-ups count the
        // accounts one at a time, so two racing on a fresh instance cannot both be first.
        await lock(tx, LOCKS.firstAccount());
        const [{ n }] = (await tx.execute<{ n: number }>(sql`select count(*)::int as n from users`)) as unknown as [{ n: number }];
        const [user] = await tx
          .insert(users)
          .values({ email: input.email, name: input.name, passwordHash, instanceAdmin: n === 0 })
          .returning({ id: users.id, email: users.email, name: users.name });
        audit({
          action: "user.signed_up",
          target: { type: "user", id: user!.id },
          workspaceId: null,
          metadata: { email: input.email, method: "password" },
        });
        return user!;
      },
      meta,
    );
  } catch (err) {
    if (isUniqueViolation(err)) {
      throw new AppError("CONFLICT", "An account with this e-mail already exists. Sign in instead.", {
        field: "email",
        cause: err,
      });
    }
    throw err;
  }
}

/**
 * Checks e-mail and password, slowing repeated failures down per account + IP and per IP
 * (progressive delay, never a lockout: see server/auth/rate-limit.ts). Records
 * user.signed_in in each workspace the user belongs to, or user.sign_in_failed in the
 * instance chain.
 */
export async function authenticate(raw: unknown, meta: RequestMeta = {}): Promise<UserDto> {
  const parsed = SignInInput.safeParse(raw);
  if (!parsed.success) throw new AppError("INVALID", parsed.error.issues[0]?.message ?? "Invalid sign-in.");
  const { email, password } = parsed.data;
  const accountIp = accountIpKey(email, meta.ip);
  const wait = await claimSignInAttempt([
    { key: accountIp, policy: SIGN_IN_BACKOFF.accountIp },
    ...(meta.ip ? [{ key: ipKey(meta.ip), policy: SIGN_IN_BACKOFF.ip }] : []),
  ]);
  if (wait) {
    // Refused before the password is looked at, and not counted: waiting is the only way on.
    const seconds = Math.ceil(wait.retryAfterMs / 1000);
    const who = wait.key === accountIp ? "for this account from this address" : "from this address";
    throw new AppError("RATE_LIMITED", `Too many failed sign-ins ${who}. Try again in ${seconds} second${seconds === 1 ? "" : "s"}.`);
  }
  const [user] = await getDb().select().from(users).where(eq(users.email, email)).limit(1);
  const ok = await verifyPassword(user?.passwordHash ?? null, password);
  if (!user || !ok) {
    await recordSignInFailure(accountIp, SIGN_IN_BACKOFF.accountIp);
    if (meta.ip) await recordSignInFailure(ipKey(meta.ip), SIGN_IN_BACKOFF.ip);
    await mutate(
      { type: "anonymous", label: email },
      async (_tx, audit) =>
        audit({
          action: "user.sign_in_failed",
          target: { type: "user", id: user?.id ?? null },
          workspaceId: null,
          metadata: { email, ip: meta.ip ?? null, reason: user ? "wrong_password" : "unknown_account" },
        }),
      meta,
    );
    throw new AppError("UNAUTHORIZED", "E-mail or password is incorrect.");
  }
  await clearFailures(accountIp);
  if (user.deactivatedAt) throw new AppError("UNAUTHORIZED", "This account is deactivated. Ask your Steward administrator to reactivate it.");
  const actor: UserActor = { type: "user", userId: user.id, email: user.email };
  await recordSignIn(actor, "password", meta);
  return { id: user.id, email: user.email, name: user.name };
}

export async function recordSignIn(actor: UserActor, method: string, meta: RequestMeta = {}) {
  await mutate(
    actor,
    async (tx, audit) => {
      await tx.update(users).set({ lastSignInAt: new Date() }).where(eq(users.id, actor.userId));
      const ws = await tx.select({ workspaceId: memberships.workspaceId }).from(memberships).where(eq(memberships.userId, actor.userId));
      const targets = ws.length ? ws.map((w) => w.workspaceId) : [null];
      for (const workspaceId of targets) {
        audit({
          action: "user.signed_in",
          target: { type: "user", id: actor.userId },
          workspaceId,
          metadata: { method, ip: meta.ip ?? null },
        });
      }
    },
    meta,
  );
}

/** Finds or creates the account for an OIDC identity, matched by verified e-mail. */
export async function upsertOidcUser(email: string, name: string, meta: RequestMeta = {}): Promise<UserDto> {
  const normalized = email.trim().toLowerCase();
  const [existing] = await getDb().select().from(users).where(eq(users.email, normalized)).limit(1);
  if (existing) return { id: existing.id, email: existing.email, name: existing.name };
  // A new account through single sign-on obeys the same sign-up rules as one with a password.
  await assertSignUpAllowed(normalized);
  return mutate(
    { type: "anonymous", label: normalized },
    async (tx, audit) => {
      const [user] = await tx
        .insert(users)
        .values({ email: normalized, name: name || normalized })
        .onConflictDoUpdate({ target: users.email, set: { updatedAt: new Date() } })
        .returning({ id: users.id, email: users.email, name: users.name });
      audit({
        action: "user.signed_up",
        target: { type: "user", id: user!.id },
        workspaceId: null,
        metadata: { email: normalized, method: "oidc" },
      });
      return user!;
    },
    meta,
  );
}

export async function findUser(userId: string): Promise<UserDto | null> {
  const [u] = await getDb()
    .select({ id: users.id, email: users.email, name: users.name })
    .from(users)
    .where(and(eq(users.id, userId), isNull(users.deactivatedAt)))
    .limit(1);
  return u ?? null;
}

export async function currentSessionVersion(userId: string) {
  const [u] = await getDb().select({ v: users.sessionVersion }).from(users).where(eq(users.id, userId));
  return u?.v ?? 0;
}

async function requireInstanceAdmin(actor: UserActor) {
  const [me] = await getDb().select({ admin: users.instanceAdmin }).from(users).where(eq(users.id, actor.userId));
  if (!me?.admin) throw new AppError("FORBIDDEN", "Only Steward administrators manage accounts.");
}

/** Every account, for Steward administrators. */
export async function listAccounts(actor: UserActor) {
  await requireInstanceAdmin(actor);
  return getDb()
    .select({
      id: users.id,
      email: users.email,
      name: users.name,
      deactivatedAt: users.deactivatedAt,
      instanceAdmin: users.instanceAdmin,
      lastSignInAt: users.lastSignInAt,
    })
    .from(users)
    .orderBy(users.email);
}

/**
 * Deactivates (or reactivates) an account. Deactivation takes effect at once: sessions end
 * (the session version moves and open sockets are closed on every replica), API tokens stop
 * working, and the account can neither sign in nor e-sign.
 */
export async function setAccountActive(actor: UserActor, input: { userId: string; active: boolean }, meta: RequestMeta = {}) {
  await requireInstanceAdmin(actor);
  if (input.userId === actor.userId && !input.active) throw new AppError("PRECONDITION_FAILED", "You cannot deactivate your own account.");
  const r = await mutate(
    actor,
    async (tx, audit) => {
      const [u] = await tx.select().from(users).where(eq(users.id, input.userId)).for("update");
      if (!u) throw new AppError("NOT_FOUND", "There is no such account.", { field: "userId" });
      if (Boolean(u.deactivatedAt) === !input.active)
        throw new AppError("PRECONDITION_FAILED", `${u.email} is already ${input.active ? "active" : "deactivated"}.`);
      await tx
        .update(users)
        .set(
          input.active
            ? { deactivatedAt: null, updatedAt: new Date() }
            : { deactivatedAt: new Date(), sessionVersion: sql`${users.sessionVersion} + 1`, updatedAt: new Date() },
        )
        .where(eq(users.id, u.id));
      if (!input.active) await endUserSessionsTx(tx, u.id);
      await credentialsChanged(tx, input.active ? "user.reactivated" : "user.deactivated");
      audit({
        action: input.active ? "user.reactivated" : "user.deactivated",
        target: { type: "user", id: u.id },
        workspaceId: null,
        metadata: { email: u.email },
      });
      return u;
    },
    meta,
  );
  if (!input.active) publish.disconnectUser(r.id);
  return { userId: r.id, active: input.active };
}

/** What the account page needs to know about the signed-in account. */
export async function accountInfo(actor: UserActor) {
  const [u] = await getDb().select({ passwordHash: users.passwordHash, instanceAdmin: users.instanceAdmin }).from(users).where(eq(users.id, actor.userId));
  return { hasPassword: Boolean(u?.passwordHash), instanceAdmin: Boolean(u?.instanceAdmin) };
}

/**
 * An account made through single sign-on has no password; it sets one here (signed in, so
 * its identity is proven) to be able to e-sign, which asks for the password again.
 * Changing an existing password is not this. Like any password change, it ends the
 * account's other sessions (`keepSessionId` is the one making the change).
 */
export async function setInitialPassword(actor: UserActor, raw: { password: string }, meta: RequestMeta = {}, keepSessionId?: string) {
  const { password } = z.object({ password: Password }).parse(raw);
  const hash = await hashPassword(password);
  const ended = await mutate(
    actor,
    async (tx, audit) => {
      const [u] = await tx.select({ passwordHash: users.passwordHash }).from(users).where(eq(users.id, actor.userId)).for("update");
      if (u?.passwordHash) throw new AppError("PRECONDITION_FAILED", "This account already has a password.");
      await tx.update(users).set({ passwordHash: hash, updatedAt: new Date() }).where(eq(users.id, actor.userId));
      const sessions = await endUserSessionsTx(tx, actor.userId, keepSessionId);
      audit({ action: "user.password_set", target: { type: "user", id: actor.userId }, workspaceId: null, metadata: { email: actor.email } });
      return sessions;
    },
    meta,
  );
  for (const sid of ended) publish.disconnectSession(sid);
}

/** "Sign out everywhere": every live session of this account ends now (this one too). */
export async function endAllSessions(actor: UserActor, meta: RequestMeta = {}) {
  await mutate(
    actor,
    async (tx, audit) => {
      await tx
        .update(users)
        .set({ sessionVersion: sql`${users.sessionVersion} + 1`, updatedAt: new Date() })
        .where(eq(users.id, actor.userId));
      await endUserSessionsTx(tx, actor.userId);
      audit({ action: "user.sessions_revoked", target: { type: "user", id: actor.userId }, workspaceId: null, metadata: { email: actor.email } });
    },
    meta,
  );
  publish.disconnectUser(actor.userId);
}

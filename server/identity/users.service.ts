import "server-only";
import { eq } from "drizzle-orm";
import { getDb } from "~/db/client";
import { memberships, users } from "~/db/schema";
import type { RequestMeta, UserActor } from "~/server/audit/actor";
import { mutate } from "~/server/audit/mutate";
import { hashPassword, verifyPassword } from "~/server/auth/password";
import { accountKey, clearFailures, ipKey, lockedFor, recordFailure, SIGN_IN_LIMITS } from "~/server/auth/rate-limit";
import { AppError, isUniqueViolation } from "~/server/errors";
import { SignInInput, SignUpInput } from "./identity.schema";

export type UserDto = { id: string; email: string; name: string };

/** Creates an account with an argon2id password hash. Duplicate e-mails are a CONFLICT on `email`. */
export async function signUp(raw: SignUpInput, meta: RequestMeta = {}): Promise<UserDto> {
  const input = SignUpInput.parse(raw);
  const passwordHash = await hashPassword(input.password);
  try {
    return await mutate(
      { type: "anonymous", label: input.email },
      async (tx, audit) => {
        const [user] = await tx
          .insert(users)
          .values({ email: input.email, name: input.name, passwordHash })
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
 * Checks e-mail and password, with per-account and per-IP lockout after repeated
 * failures. Records user.signed_in in each workspace the user belongs to, or
 * user.sign_in_failed in the instance chain.
 */
export async function authenticate(raw: unknown, meta: RequestMeta = {}): Promise<UserDto> {
  const parsed = SignInInput.safeParse(raw);
  if (!parsed.success) throw new AppError("INVALID", parsed.error.issues[0]?.message ?? "Invalid sign-in.");
  const { email, password } = parsed.data;
  const keys = [accountKey(email), ...(meta.ip ? [ipKey(meta.ip)] : [])];
  const locked = await lockedFor(keys);
  if (locked) {
    const who = locked.key.startsWith("signin:ip:") ? "from this address" : "for this account";
    throw new AppError(
      "RATE_LIMITED",
      `Too many failed sign-ins ${who}. Try again in ${locked.minutes} minute${locked.minutes === 1 ? "" : "s"}.`,
    );
  }
  const [user] = await getDb().select().from(users).where(eq(users.email, email)).limit(1);
  const ok = await verifyPassword(user?.passwordHash ?? null, password);
  if (!user || !ok) {
    await recordFailure(accountKey(email), SIGN_IN_LIMITS.account);
    if (meta.ip) await recordFailure(ipKey(meta.ip), SIGN_IN_LIMITS.ip);
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
  await clearFailures(accountKey(email));
  const actor: UserActor = { type: "user", userId: user.id, email: user.email };
  await recordSignIn(actor, "password", meta);
  return { id: user.id, email: user.email, name: user.name };
}

export async function recordSignIn(actor: UserActor, method: string, meta: RequestMeta = {}) {
  await mutate(
    actor,
    async (tx, audit) => {
      await tx.update(users).set({ lastSignInAt: new Date() }).where(eq(users.id, actor.userId));
      const ws = await tx
        .select({ workspaceId: memberships.workspaceId })
        .from(memberships)
        .where(eq(memberships.userId, actor.userId));
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
    .where(eq(users.id, userId))
    .limit(1);
  return u ?? null;
}

import "server-only";
import { createHash, randomBytes } from "node:crypto";
import { and, eq } from "drizzle-orm";
import { generators, Issuer, type BaseClient } from "openid-client";
import { z } from "zod";
import { getDb } from "~/db/client";
import { memberships, models, modelVersions, reviewRequests, signingChallenges, users } from "~/db/schema";
import { env } from "~/env";
import type { RequestMeta, WorkspaceActor } from "~/server/audit/actor";
import { mutate } from "~/server/audit/mutate";
import { clearFailures, lockedFor, recordFailure } from "~/server/auth/rate-limit";
import { AppError } from "~/server/errors";
import { requestByNumber } from "./loading";
import { assertMaySign, recordSignature, SIGN_LIMIT, signKey, SignInput } from "./signing.service";

/**
 * E-signatures for accounts that sign in through single sign-on (and so have no password to
 * type again): the signer re-authenticates at the identity provider — `prompt=login` and
 * `max_age=0`, so the provider asks for their credentials again whatever session it holds —
 * and the signature is recorded when its callback proves that login: a valid ID token for this
 * client (signature, issuer, audience, nonce, PKCE), an `auth_time` no earlier than the moment
 * signing started, and the same person (verified e-mail) as the Steward account. A token alone
 * never signs: a CLI starts the challenge, the person finishes it in a browser (loopback flow).
 */

/** How long the signer has to finish the login at the identity provider. */
export const CHALLENGE_MINUTES = 10;
/** Clock difference allowed between the identity provider and Steward when comparing `auth_time`. */
export const AUTH_TIME_SKEW_SECONDS = 5;

const LOOPBACK = /^http:\/\/(127\.0\.0\.1|localhost|\[::1\]):\d{1,5}\/esign$/;

export const StartSsoSignatureInput = SignInput.omit({ password: true }).extend({
  returnTo: z
    .string()
    .max(500)
    .refine(
      // Control characters are refused: browsers drop tabs and newlines, so "/\t/evil.example" would leave the app.
      (v) =>
        ![...v].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f || ch === "\\") &&
        ((v.startsWith("/") && !v.startsWith("//")) || LOOPBACK.test(v)),
      "returnTo must be a path of this app (e.g. /w/acme/reviews/2) or the CLI's loopback address (http://127.0.0.1:PORT/esign).",
    )
    .optional(),
});

function settings() {
  if (!env.OIDC_ISSUER || !env.OIDC_CLIENT_ID || !env.OIDC_CLIENT_SECRET) return null;
  const base = (env.NEXTAUTH_URL ?? `http://localhost:${env.PORT ?? 3000}`).replace(/\/$/, "");
  return {
    issuer: env.OIDC_ISSUER.replace(/\/$/, ""),
    clientId: env.OIDC_CLIENT_ID,
    clientSecret: env.OIDC_CLIENT_SECRET,
    name: env.OIDC_NAME,
    base,
    redirectUri: `${base}/api/esign/callback`,
  };
}
type Settings = NonNullable<ReturnType<typeof settings>>;

/** Is signing through the identity provider possible on this instance, and under which name? */
export function ssoSigning() {
  const s = settings();
  return s ? { enabled: true as const, provider: s.name } : { enabled: false as const, provider: null };
}

let cached: { key: string; client: BaseClient } | null = null;
async function oidcClient(s: Settings) {
  const key = `${s.issuer}|${s.clientId}|${s.redirectUri}`;
  if (cached?.key === key) return cached.client;
  let issuer: Issuer;
  try {
    issuer = await Issuer.discover(s.issuer);
  } catch (e) {
    throw new AppError("PRECONDITION_FAILED", `The identity provider (${s.issuer}) cannot be reached, so signing through it is not possible right now.`, {
      cause: e,
    });
  }
  const client = new issuer.Client({
    client_id: s.clientId,
    client_secret: s.clientSecret,
    redirect_uris: [s.redirectUri],
    response_types: ["code"],
  });
  cached = { key, client };
  return client;
}

const hashState = (state: string) => createHash("sha256").update(state).digest("hex");

/**
 * Starts an SSO-confirmed signature: the decision and its meaning are fixed now; the returned
 * `authorizeUrl` sends the signer to the identity provider to log in again.
 */
export async function startSsoSignature(actor: WorkspaceActor, input: { number: number } & z.input<typeof StartSsoSignatureInput>) {
  const s = StartSsoSignatureInput.parse(input);
  const cfg = settings();
  if (!cfg) throw new AppError("PRECONDITION_FAILED", "Single sign-on is not configured on this instance: sign with your password.");
  assertMaySign(actor.role);
  const locked = await lockedFor([signKey(actor.userId)]);
  if (locked) throw new AppError("RATE_LIMITED", `Too many refused signatures. Try again in ${locked.minutes} minute${locked.minutes === 1 ? "" : "s"}.`);
  const [me] = await getDb().select().from(users).where(eq(users.id, actor.userId));
  if (!me || me.deactivatedAt) throw new AppError("UNAUTHORIZED", "This account is deactivated: it cannot sign.");
  const r = await requestByNumber(getDb(), actor.workspaceId, input.number);
  if (r.status !== "open") throw new AppError("PRECONDITION_FAILED", `Review #${r.number} is already ${r.status}.`);
  const client = await oidcClient(cfg);
  const state = randomBytes(32).toString("base64url");
  const nonce = generators.nonce();
  const codeVerifier = generators.codeVerifier();
  const expiresAt = new Date(Date.now() + CHALLENGE_MINUTES * 60_000);
  const [c] = await getDb()
    .insert(signingChallenges)
    .values({
      workspaceId: actor.workspaceId,
      requestId: r.id,
      userId: actor.userId,
      decision: s.decision,
      meaning: s.meaning,
      reason: s.reason ?? null,
      stateHash: hashState(state),
      nonce,
      codeVerifier,
      returnTo: s.returnTo ?? null,
      expiresAt,
    })
    .returning({ id: signingChallenges.id, createdAt: signingChallenges.createdAt });
  const authorizeUrl = client.authorizationUrl({
    scope: "openid email profile",
    redirect_uri: cfg.redirectUri,
    state,
    nonce,
    code_challenge: generators.codeChallenge(codeVerifier),
    code_challenge_method: "S256",
    prompt: "login",
    max_age: 0,
    login_hint: me.email,
  });
  return { challengeId: c!.id, authorizeUrl, provider: cfg.name, expiresAt: expiresAt.toISOString() };
}

export type SsoSignatureStatus = {
  challengeId: string;
  number: number;
  status: "pending" | "completing" | "confirming" | "signed" | "refused" | "expired";
  decision: "approve" | "reject";
  outcome: "signed" | "approved" | "rejected" | null;
  error: string | null;
  expiresAt: string;
};

/** Where a challenge stands, for the person who started it (the CLI waits on this; the page reads it on return). */
export async function ssoSignatureStatus(actor: WorkspaceActor, input: { number: number; challengeId: string }): Promise<SsoSignatureStatus> {
  const id = z.uuid("challengeId must be the id returned when signing started").parse(input.challengeId);
  const [c] = await getDb()
    .select()
    .from(signingChallenges)
    .where(and(eq(signingChallenges.id, id), eq(signingChallenges.userId, actor.userId), eq(signingChallenges.workspaceId, actor.workspaceId)));
  const r = c ? await requestByNumber(getDb(), actor.workspaceId, input.number) : null;
  if (!c || !r || r.id !== c.requestId) throw new AppError("NOT_FOUND", `No signature you started on review #${input.number} has that id.`);
  // Not finished in time (never logged in, never confirmed, or stuck): expired, nothing signed.
  const expired = (c.status === "pending" || c.status === "confirming" || c.status === "completing") && c.expiresAt.getTime() < Date.now();
  return {
    challengeId: c.id,
    number: r.number,
    status: expired ? "expired" : c.status,
    decision: c.decision,
    outcome: c.outcome ?? null,
    error: expired ? `The login at the identity provider was not finished within ${CHALLENGE_MINUTES} minutes: nothing was signed.` : c.error,
    expiresAt: c.expiresAt.toISOString(),
  };
}

export type SsoRefusal = {
  kind: "refused";
  message: string;
  /** Where to send the browser: the page or loopback address the signer came from. */
  redirect: string | null;
  challengeId: string | null;
};
export type SsoConfirmation = {
  kind: "confirm";
  challengeId: string;
  /** Set as an HttpOnly cookie in the browser that logged in; only that browser can confirm. */
  confirmToken: string;
  expiresAt: Date;
  /** What the signer is about to sign, shown before they confirm. */
  summary: {
    number: number;
    model: string;
    version: number;
    alias: string;
    decision: "approve" | "reject";
    meaning: string;
    reason: string | null;
    signer: string;
    signerEmail: string;
    provider: string;
  };
};
export type SsoSigned = { kind: "signed"; message: string; redirect: string | null; challengeId: string };

/** Reasons a refusal counts toward the signing lock-out: the login itself did not prove the signer. */
const CREDENTIAL_FAILURES = new Set(["sso_invalid_response", "sso_no_auth_time", "sso_stale_login", "sso_no_email", "sso_other_person"]);

/** The challenge's return address, only ever this app's own origin or the CLI's loopback `/esign`. */
function returnUrl(returnTo: string | null, challengeId: string, base: string): string | null {
  if (!returnTo) return null;
  let url: URL;
  try {
    url = new URL(returnTo, base);
  } catch {
    return null;
  }
  const loopback = /^(127\.0\.0\.1|localhost|\[::1\])$/.test(url.hostname) && url.protocol === "http:" && url.pathname === "/esign";
  if (url.origin !== new URL(base).origin && !loopback) return null;
  url.searchParams.set("esign", challengeId);
  return url.toString();
}

type Challenge = typeof signingChallenges.$inferSelect;

/** The signer, their role in the workspace now, and the request's number — or why they can no longer sign. */
async function signerOf(c: Challenge) {
  const [me] = await getDb().select().from(users).where(eq(users.id, c.userId));
  const [member] = await getDb()
    .select({ role: memberships.role })
    .from(memberships)
    .where(and(eq(memberships.workspaceId, c.workspaceId), eq(memberships.userId, c.userId)));
  const [request] = await getDb()
    .select({ number: reviewRequests.number, alias: reviewRequests.alias, model: models.name, version: modelVersions.version })
    .from(reviewRequests)
    .innerJoin(modelVersions, eq(modelVersions.id, reviewRequests.modelVersionId))
    .innerJoin(models, eq(models.id, modelVersions.modelId))
    .where(eq(reviewRequests.id, c.requestId));
  if (!me || me.deactivatedAt || !member || !request) return null;
  const actor: WorkspaceActor = { type: "user", userId: me.id, email: me.email, workspaceId: c.workspaceId, role: member.role };
  return { me, actor, request };
}

/** Marks the challenge refused and, where someone can be named, audits why (a failed login also counts toward the lock-out). */
async function refuseChallenge(
  c: Challenge,
  base: string,
  message: string,
  reason: string,
  who: { actor: WorkspaceActor; number: number } | null,
  meta: RequestMeta,
): Promise<SsoRefusal> {
  await getDb()
    .update(signingChallenges)
    .set({ status: "refused", error: message, completedAt: new Date(), confirmHash: null })
    .where(eq(signingChallenges.id, c.id));
  if (who) {
    if (CREDENTIAL_FAILURES.has(reason)) await recordFailure(signKey(c.userId), SIGN_LIMIT);
    await mutate(
      who.actor,
      async (_tx, audit) =>
        audit({
          action: "review.signature_refused",
          target: { type: "review_request", id: c.requestId },
          metadata: { number: who.number, reason, method: "oidc" },
        }),
      meta,
    );
  }
  return { kind: "refused", message, redirect: returnUrl(c.returnTo, c.id, base), challengeId: c.id };
}

/**
 * The identity provider's redirect back (`/api/esign/callback`): proves the fresh login, then
 * asks the browser that logged in to confirm what it signs (the signature is recorded by
 * `confirmSsoSignature`). Needs no Steward session: the challenge names the signer, and the
 * login at the provider is the proof.
 */
export async function completeSsoSignature(params: Record<string, string>, meta: RequestMeta = {}): Promise<SsoRefusal | SsoConfirmation> {
  const cfg = settings();
  const state = params.state;
  if (!cfg || !state) return { kind: "refused", message: "This is not a signing request Steward started.", redirect: null, challengeId: null };
  // Claimed once: a replayed callback (or a second tab) finds it no longer pending.
  const [c] = await getDb()
    .update(signingChallenges)
    .set({ status: "completing" })
    .where(and(eq(signingChallenges.stateHash, hashState(state)), eq(signingChallenges.status, "pending")))
    .returning();
  if (!c) {
    const [used] = await getDb()
      .select({ id: signingChallenges.id })
      .from(signingChallenges)
      .where(eq(signingChallenges.stateHash, hashState(state)));
    return {
      kind: "refused",
      message: used ? "This signing link was already used: nothing more was signed." : "This is not a signing request Steward started.",
      redirect: null,
      challengeId: used?.id ?? null,
    };
  }
  try {
    const who = await signerOf(c);
    if (!who) return await refuseChallenge(c, cfg.base, "This account can no longer sign in this workspace: nothing was signed.", "not_a_member", null, meta);
    const named = { actor: who.actor, number: who.request.number };
    if (c.expiresAt.getTime() < Date.now())
      return await refuseChallenge(
        c,
        cfg.base,
        `The login took longer than ${CHALLENGE_MINUTES} minutes: nothing was signed. Start again.`,
        "sso_expired",
        named,
        meta,
      );
    const locked = await lockedFor([signKey(c.userId)]);
    if (locked)
      return await refuseChallenge(
        c,
        cfg.base,
        `Signing is locked for ${locked.minutes} more minute${locked.minutes === 1 ? "" : "s"} after refused attempts: nothing was signed.`,
        "locked",
        named,
        meta,
      );
    if (params.error) {
      // The provider's own words are not repeated on Steward's page: only its error code.
      const code = /^[a-z_]{1,40}$/.test(params.error) ? params.error : "error";
      return await refuseChallenge(
        c,
        cfg.base,
        code === "access_denied"
          ? "The login at the identity provider was cancelled: nothing was signed."
          : `The identity provider did not confirm your identity (${code}): nothing was signed.`,
        code === "access_denied" ? "sso_cancelled" : "sso_error",
        named,
        meta,
      );
    }
    let claims: { auth_time?: number; email?: string; email_verified?: boolean; sub: string };
    try {
      const client = await oidcClient(cfg);
      const tokens = await client.callback(cfg.redirectUri, params, { state, nonce: c.nonce, code_verifier: c.codeVerifier, response_type: "code" });
      claims = tokens.claims();
      // Many providers put only `sub` in the ID token and the e-mail behind the userinfo endpoint;
      // openid-client checks that the userinfo's subject is the ID token's.
      if (!claims.email && tokens.access_token) {
        const info = (await client.userinfo(tokens)) as { email?: string; email_verified?: boolean };
        claims = { ...claims, email: info.email, email_verified: info.email_verified };
      }
    } catch (e) {
      console.warn(`[esign] challenge ${c.id}: the identity provider's answer did not verify:`, e instanceof Error ? e.message : e);
      return await refuseChallenge(
        c,
        cfg.base,
        "The identity provider's answer could not be verified: nothing was signed.",
        "sso_invalid_response",
        named,
        meta,
      );
    }
    const fresh = checkFreshLogin(claims, { createdAt: c.createdAt, email: who.me.email });
    if (!fresh.ok) return await refuseChallenge(c, cfg.base, fresh.message, fresh.reason, named, meta);
    const confirmToken = randomBytes(32).toString("base64url");
    await getDb()
      .update(signingChallenges)
      .set({ status: "confirming", confirmHash: hashState(confirmToken), authTime: fresh.authTime, issuer: cfg.issuer })
      .where(eq(signingChallenges.id, c.id));
    return {
      kind: "confirm",
      challengeId: c.id,
      confirmToken,
      expiresAt: c.expiresAt,
      summary: {
        ...who.request,
        decision: c.decision,
        meaning: c.meaning,
        reason: c.reason,
        signer: who.me.name,
        signerEmail: who.me.email,
        provider: cfg.name,
      },
    };
  } catch (e) {
    // Never leave a challenge half-done: whatever failed, it is refused and says so.
    await getDb()
      .update(signingChallenges)
      .set({ status: "refused", error: "Signing failed on the server: nothing was signed. Try again.", completedAt: new Date() })
      .where(and(eq(signingChallenges.id, c.id), eq(signingChallenges.status, "completing")));
    throw e;
  }
}

/**
 * The signer's confirmation on Steward's page after the login (`POST /api/esign/confirm`), from
 * the browser that logged in (its cookie): records the signature through the same
 * `recordSignature` as a password, or cancels.
 */
export async function confirmSsoSignature(
  input: { challengeId: string; confirmToken: string | undefined; cancel?: boolean },
  meta: RequestMeta = {},
): Promise<SsoRefusal | SsoSigned> {
  const cfg = settings();
  const refused = (message: string): SsoRefusal => ({ kind: "refused", message, redirect: null, challengeId: null });
  if (!cfg) return refused("Single sign-on is not configured on this instance.");
  if (!z.uuid().safeParse(input.challengeId).success || !input.confirmToken)
    return refused("This confirmation did not come from the browser that logged in: nothing was signed.");
  // Claimed once, by the browser holding the cookie.
  const [c] = await getDb()
    .update(signingChallenges)
    .set({ status: "completing", confirmHash: null })
    .where(
      and(
        eq(signingChallenges.id, input.challengeId),
        eq(signingChallenges.status, "confirming"),
        eq(signingChallenges.confirmHash, hashState(input.confirmToken)),
      ),
    )
    .returning();
  if (!c) return refused("This confirmation did not come from the browser that logged in, or was already used: nothing more was signed.");
  try {
    const who = await signerOf(c);
    if (!who) return await refuseChallenge(c, cfg.base, "This account can no longer sign in this workspace: nothing was signed.", "not_a_member", null, meta);
    const named = { actor: who.actor, number: who.request.number };
    if (input.cancel) return await refuseChallenge(c, cfg.base, "You cancelled: nothing was signed.", "sso_cancelled", named, meta);
    if (c.expiresAt.getTime() < Date.now())
      return await refuseChallenge(
        c,
        cfg.base,
        `More than ${CHALLENGE_MINUTES} minutes passed since signing started: nothing was signed. Start again.`,
        "sso_expired",
        named,
        meta,
      );
    let done: { outcome: "signed" | "approved" | "rejected" };
    try {
      done = await recordSignature(
        who.actor,
        { number: who.request.number, decision: c.decision, meaning: c.meaning, reason: c.reason },
        {
          method: "oidc",
          authTime: c.authTime!,
          issuer: c.issuer ?? cfg.issuer,
          inTx: async (tx, d) => {
            await tx
              .update(signingChallenges)
              .set({ status: "signed", outcome: d.outcome, signatureId: d.signatureId, completedAt: new Date() })
              .where(eq(signingChallenges.id, c.id));
          },
        },
        meta,
      );
    } catch (e) {
      // The policy's own refusals (your own request, superseded, closed): on the record too.
      if (e instanceof AppError) return await refuseChallenge(c, cfg.base, `${e.message} Nothing was signed.`, "refused_by_policy", named, meta);
      throw e;
    }
    await clearFailures(signKey(c.userId));
    const n = who.request.number;
    const message =
      done.outcome === "approved"
        ? `Signed review #${n}: approved, and the alias moved.`
        : done.outcome === "rejected"
          ? `Signed review #${n}: rejected.`
          : `Signed review #${n}. The request still needs what is left on its checklist.`;
    return { kind: "signed", message, redirect: returnUrl(c.returnTo, c.id, cfg.base), challengeId: c.id };
  } catch (e) {
    await getDb()
      .update(signingChallenges)
      .set({ status: "refused", error: "Signing failed on the server: nothing was signed. Try again.", completedAt: new Date() })
      .where(and(eq(signingChallenges.id, c.id), eq(signingChallenges.status, "completing")));
    throw e;
  }
}

/**
 * The ID token proves a login made for this signature: at or after the moment signing started
 * (`auth_time`, with a few seconds of clock skew), by the person who holds the Steward account.
 */
export function checkFreshLogin(
  claims: { auth_time?: number; email?: string; email_verified?: boolean },
  challenge: { createdAt: Date; email: string },
): { ok: true; authTime: Date } | { ok: false; message: string; reason: string } {
  if (typeof claims.auth_time !== "number")
    return {
      ok: false,
      reason: "sso_no_auth_time",
      message: "The identity provider did not say when you last entered your credentials (no auth_time in its ID token): nothing was signed.",
    };
  const authTime = new Date(claims.auth_time * 1000);
  if (claims.auth_time < Math.floor(challenge.createdAt.getTime() / 1000) - AUTH_TIME_SKEW_SECONDS)
    return {
      ok: false,
      reason: "sso_stale_login",
      message: `The identity provider did not ask for your credentials again (your last login there was at ${authTime.toISOString()}, before signing started): nothing was signed.`,
    };
  const email = claims.email?.toLowerCase();
  if (!email || claims.email_verified === false)
    return { ok: false, reason: "sso_no_email", message: "The identity provider did not confirm a verified e-mail address: nothing was signed." };
  if (email !== challenge.email.toLowerCase())
    return {
      ok: false,
      reason: "sso_other_person",
      message: `You logged in at the identity provider as ${email}, which is not the account that started this signature: nothing was signed.`,
    };
  return { ok: true, authTime };
}

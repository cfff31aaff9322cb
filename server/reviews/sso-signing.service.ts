import "server-only";
import { createHash, randomBytes } from "node:crypto";
import { and, eq } from "drizzle-orm";
import { generators, Issuer, type BaseClient } from "openid-client";
import { z } from "zod";
import { getDb } from "~/db/client";
import { memberships, reviewRequests, signingChallenges, users, workspaces } from "~/db/schema";
import { env } from "~/env";
import type { RequestMeta, WorkspaceActor } from "~/server/audit/actor";
import { mutate } from "~/server/audit/mutate";
import { lockedFor, recordFailure } from "~/server/auth/rate-limit";
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

const LOOPBACK = /^http:\/\/(127\.0\.0\.1|localhost|\[::1\]):\d{1,5}(\/[^\s]*)?$/;

export const StartSsoSignatureInput = SignInput.omit({ password: true }).extend({
  returnTo: z
    .string()
    .max(500)
    .refine(
      (v) => (v.startsWith("/") && !v.startsWith("//") && !v.includes("\\")) || LOOPBACK.test(v),
      "returnTo must be a path of this app (e.g. /w/acme/reviews/2) or a loopback address (http://127.0.0.1:PORT/…) for the CLI.",
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
  status: "pending" | "completing" | "signed" | "refused" | "expired";
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
  const expired = c.status === "pending" && c.expiresAt.getTime() < Date.now();
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

export type SsoCallbackResult = {
  status: "signed" | "refused";
  message: string;
  /** Where to send the browser: the page or loopback address the signer came from. */
  redirect: string | null;
  challengeId: string | null;
};

/**
 * The identity provider's redirect back (`/api/esign/callback`): proves the fresh login and
 * records the signature, or records why not. Needs no Steward session: the challenge names
 * the signer, and the login at the provider is the proof.
 */
export async function completeSsoSignature(params: Record<string, string>, meta: RequestMeta = {}): Promise<SsoCallbackResult> {
  const cfg = settings();
  const state = params.state;
  if (!cfg || !state) return { status: "refused", message: "This is not a signing request Steward started.", redirect: null, challengeId: null };
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
      status: "refused",
      message: used ? "This signing link was already used: nothing more was signed." : "This is not a signing request Steward started.",
      redirect: null,
      challengeId: used?.id ?? null,
    };
  }
  const [ws] = await getDb().select({ slug: workspaces.slug }).from(workspaces).where(eq(workspaces.id, c.workspaceId));
  const redirectFor = () => {
    if (!c.returnTo) return null;
    const url = new URL(c.returnTo, cfg.base);
    url.searchParams.set("esign", c.id);
    return url.toString();
  };
  const [me] = await getDb().select().from(users).where(eq(users.id, c.userId));
  const [member] = await getDb()
    .select({ role: memberships.role })
    .from(memberships)
    .where(and(eq(memberships.workspaceId, c.workspaceId), eq(memberships.userId, c.userId)));
  const [request] = await getDb().select({ number: reviewRequests.number }).from(reviewRequests).where(eq(reviewRequests.id, c.requestId));
  const number = request?.number ?? 0;

  const refuse = async (message: string, reason: string | null, actor?: WorkspaceActor) => {
    await getDb().update(signingChallenges).set({ status: "refused", error: message, completedAt: new Date() }).where(eq(signingChallenges.id, c.id));
    // A failed re-authentication is on the record (as a wrong password is) and counts toward the lock-out.
    if (reason && actor) {
      await recordFailure(signKey(c.userId), SIGN_LIMIT);
      await mutate(
        actor,
        async (_tx, audit) =>
          audit({ action: "review.signature_refused", target: { type: "review_request", id: c.requestId }, metadata: { number, reason, method: "oidc" } }),
        meta,
      );
    }
    return { status: "refused" as const, message, redirect: redirectFor(), challengeId: c.id };
  };

  if (!me || me.deactivatedAt || !member || !ws) return refuse("This account can no longer sign in this workspace: nothing was signed.", null);
  const actor: WorkspaceActor = { type: "user", userId: me.id, email: me.email, workspaceId: c.workspaceId, role: member.role };
  if (c.expiresAt.getTime() < Date.now())
    return refuse(`The login at the identity provider took longer than ${CHALLENGE_MINUTES} minutes: nothing was signed. Start again.`, null);
  if (params.error)
    return refuse(
      `The identity provider did not confirm your identity (${params.error_description ?? params.error}): nothing was signed.`,
      params.error === "access_denied" ? null : "sso_error",
      actor,
    );

  let claims: { auth_time?: number; email?: string; email_verified?: boolean; sub: string };
  try {
    const client = await oidcClient(cfg);
    const tokens = await client.callback(cfg.redirectUri, params, {
      state,
      nonce: c.nonce,
      code_verifier: c.codeVerifier,
      response_type: "code",
    });
    claims = tokens.claims();
    // Many providers put only `sub` in the ID token and the e-mail behind the userinfo endpoint;
    // openid-client checks that the userinfo's subject is the ID token's.
    if (!claims.email && tokens.access_token) {
      const info = (await client.userinfo(tokens)) as { email?: string; email_verified?: boolean };
      claims = { ...claims, email: info.email, email_verified: info.email_verified };
    }
  } catch (e) {
    return refuse(
      `The identity provider's answer could not be verified (${e instanceof Error ? e.message : String(e)}): nothing was signed.`,
      "sso_invalid_response",
      actor,
    );
  }
  const fresh = checkFreshLogin(claims, { createdAt: c.createdAt, email: me.email });
  if (!fresh.ok) return refuse(fresh.message, fresh.reason, actor);

  try {
    const done = await recordSignature(
      actor,
      { number, decision: c.decision, meaning: c.meaning, reason: c.reason },
      {
        method: "oidc",
        authTime: fresh.authTime,
        issuer: cfg.issuer,
        inTx: async (tx, d) => {
          await tx
            .update(signingChallenges)
            .set({ status: "signed", outcome: d.outcome, signatureId: d.signatureId, completedAt: new Date() })
            .where(eq(signingChallenges.id, c.id));
        },
      },
      meta,
    );
    const message =
      done.outcome === "approved"
        ? `Signed review #${number}: approved, and the alias moved.`
        : done.outcome === "rejected"
          ? `Signed review #${number}: rejected.`
          : `Signed review #${number}. The request still needs what is left on its checklist.`;
    return { status: "signed", message, redirect: redirectFor(), challengeId: c.id };
  } catch (e) {
    if (e instanceof AppError) return refuse(`${e.message} Nothing was signed.`, null);
    await refuse("Signing failed on the server: nothing was signed. Try again.", null);
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
      message: `You logged in at the identity provider as ${email}, but the signature was started by ${challenge.email}: nothing was signed.`,
    };
  return { ok: true, authTime };
}

import "server-only";
import { createHmac, timingSafeEqual } from "node:crypto";
import { decode, encode, type JWT, type JWTDecodeParams, type JWTEncodeParams } from "next-auth/jwt";
import { env } from "~/env";
import { DEFAULT_KID, parseSecretRing, type SecretKey } from "./key-ring";

/*
 * Key rings for the secrets Steward holds: sessions (AUTH_SECRETS / AUTH_SECRET) and the
 * web → inference call secret (INTERNAL_SECRETS / INTERNAL_SECRET, or derived). The first
 * key of a ring signs; every key verifies, so a new key can be introduced while tokens
 * signed with the old one still work, and the old one retired by removing it.
 * (Audit signing keys are asymmetric and live in server/audit/signing.ts.)
 */

// The environment is read once per process: rings are parsed (and derived) once, not per request.
let authKeys: SecretKey[] | undefined;
let internalKeys: SecretKey[] | undefined;

/** Session secrets, signing key first. */
export function authRing(): SecretKey[] {
  return (authKeys ??= env.AUTH_SECRETS ? parseSecretRing(env.AUTH_SECRETS) : [{ kid: DEFAULT_KID, secret: env.AUTH_SECRET }]);
}

/** The session secrets as next-auth takes them: the first encodes, each is tried in turn to decode. */
export function authSecrets(): string[] {
  return authRing().map((k) => k.secret);
}

/**
 * Decodes a next-auth session token with every secret of the ring (next-auth v4 takes one
 * secret; its JWE carries no key id, so each is tried: a wrong key fails its AES-GCM tag
 * at once). Returns null when none opens it.
 */
export async function decodeSession(params: Omit<JWTDecodeParams, "secret">, secrets = authSecrets()): Promise<JWT | null> {
  for (const secret of secrets) {
    const token = await decode({ ...params, secret }).catch(() => null);
    if (token) return token;
  }
  return null;
}

/** Encodes a session token with the ring's signing secret. */
export function encodeSession(params: Omit<JWTEncodeParams, "secret">, secrets = authSecrets()) {
  return encode({ ...params, secret: secrets[0]! });
}

/**
 * Per-purpose keys derived from a ring: the same key ids, secrets HMAC(secret, purpose),
 * so one leaked derived key reveals neither the session secret nor another purpose's key.
 */
export function deriveRing(ring: SecretKey[], purpose: string): SecretKey[] {
  return ring.map((k) => ({ kid: k.kid, secret: createHmac("sha256", k.secret).update(`steward/${purpose}`).digest("base64url") }));
}

/** The web → inference call keys: INTERNAL_SECRETS, INTERNAL_SECRET, or derived from the session ring. */
export function internalRing(): SecretKey[] {
  return (internalKeys ??= env.INTERNAL_SECRETS
    ? parseSecretRing(env.INTERNAL_SECRETS)
    : env.INTERNAL_SECRET
      ? [{ kid: DEFAULT_KID, secret: env.INTERNAL_SECRET }]
      : deriveRing(authRing(), "internal-call/v2"));
}

export const INTERNAL_HEADER = "x-steward-internal";
const INTERNAL_MAX_AGE_MS = 60_000;

const internalMac = (secret: string, kid: string, workspaceId: string, userId: string, ts: string, deployment: string) =>
  createHmac("sha256", secret).update(["v2", kid, workspaceId, userId, ts, deployment].join("\n")).digest("hex");

/**
 * The header value with which the web app calls the inference process on a member's
 * behalf: `v2.<kid>.<workspace>.<user>.<ms>.<hmac>`, the HMAC also covering the deployment
 * name so a captured header cannot be replayed against another deployment.
 */
export function signInternalCall(c: { workspaceId: string; userId: string; deployment: string }, ring = internalRing(), now = Date.now()): string {
  const key = ring[0]!;
  const ts = String(now);
  return ["v2", key.kid, c.workspaceId, c.userId, ts, internalMac(key.secret, key.kid, c.workspaceId, c.userId, ts, c.deployment)].join(".");
}

/** Checks an internal call header for `deployment`: a known key id, a matching HMAC, at most a minute old. */
export function verifyInternalCall(
  header: string,
  deployment: string,
  ring = internalRing(),
  now = Date.now(),
): { workspaceId: string; userId: string; kid: string } | null {
  const parts = header.split(".");
  if (parts.length !== 6 || parts[0] !== "v2") return null;
  const [, kid, workspaceId, userId, ts, mac] = parts as [string, string, string, string, string, string];
  const key = ring.find((k) => k.kid === kid);
  if (!key || !/^\d{1,16}$/.test(ts) || Math.abs(now - Number(ts)) > INTERNAL_MAX_AGE_MS) return null;
  const expected = internalMac(key.secret, kid, workspaceId, userId, ts, deployment);
  if (mac.length !== expected.length || !timingSafeEqual(Buffer.from(mac), Buffer.from(expected))) return null;
  return { workspaceId, userId, kid };
}

/*
 * Parsing of secret key rings, kept free of imports so env.ts can validate with it at
 * start-up. A ring is written "kid2:secret2,kid1:secret1": the first entry signs, every
 * entry verifies. Rotation is "add the new key second everywhere, then move it first,
 * then drop the old one" (docs/DEPLOYMENT.md › Rotating secrets).
 */

export type SecretKey = { kid: string; secret: string };

/** Key ids travel in headers separated by dots, so they are short and dot-free. */
export const KID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

/** The key id given to a secret set through a single-value variable (AUTH_SECRET, INTERNAL_SECRET). */
export const DEFAULT_KID = "default";

/**
 * Parses a ring. Secrets may hold any character but a comma (base64 and base64url are
 * fine); the key id is everything before the first colon. Throws naming what is wrong.
 */
export function parseSecretRing(value: string, minLength = 32): SecretKey[] {
  const entries = value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (entries.length === 0) throw new Error("must list at least one kid:secret");
  const ring: SecretKey[] = [];
  for (const entry of entries) {
    const i = entry.indexOf(":");
    if (i <= 0) throw new Error(`each entry must be kid:secret (got an entry without a key id)`);
    const kid = entry.slice(0, i);
    const secret = entry.slice(i + 1);
    if (!KID_PATTERN.test(kid)) throw new Error(`key id "${kid}" must be 1-32 letters, digits, - or _`);
    if (secret.length < minLength) throw new Error(`the secret of key "${kid}" must be at least ${minLength} characters (openssl rand -base64 32)`);
    if (ring.some((k) => k.kid === kid)) throw new Error(`key id "${kid}" appears twice`);
    ring.push({ kid, secret });
  }
  return ring;
}

/** The signing (first) secret of a ring, or undefined when the variable is unset or malformed. */
export function firstSecret(value: string | undefined): string | undefined {
  if (!value) return undefined;
  try {
    return parseSecretRing(value, 0)[0]?.secret;
  } catch {
    return undefined;
  }
}

import "server-only";
import { createPrivateKey, createPublicKey, sign, type KeyObject } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { env } from "~/env";
import { checkpointPayload, eventSignaturePayload, keyIdOf, type CheckpointFields } from "./chain";
import { publicKeysFromPem } from "./verify";

/**
 * The server's Ed25519 audit signing key: AUDIT_SIGNING_KEY (PEM) or the PEM file at
 * AUDIT_SIGNING_KEY_FILE, which `npm start` creates in the data folder on first start.
 * Keys that verify but never sign — retired ones, and the next one before every process
 * knows it — come from AUDIT_VERIFY_KEYS / AUDIT_VERIFY_KEYS_FILE. Every checkpoint names
 * the key id that signed it, so old checkpoints keep verifying after a rotation.
 */
type Keys = { privateKey: KeyObject; publicKey: KeyObject; keyId: string; publicKeyPem: string };
export type VerificationKey = { keyId: string; publicKey: KeyObject; publicKeyPem: string; active: boolean };
let keys: Keys | undefined;
let ring: Map<string, VerificationKey> | undefined;

export function signingKeys(): Keys {
  if (keys) return keys;
  const pem = env.AUDIT_SIGNING_KEY ?? (env.AUDIT_SIGNING_KEY_FILE ? fs.readFileSync(env.AUDIT_SIGNING_KEY_FILE, "utf8") : undefined);
  if (!pem) throw new Error("No audit signing key: set AUDIT_SIGNING_KEY or AUDIT_SIGNING_KEY_FILE (npm start creates one).");
  const privateKey = createPrivateKey(pem);
  if (privateKey.asymmetricKeyType !== "ed25519") throw new Error("The audit signing key must be an Ed25519 private key.");
  const publicKey = createPublicKey(privateKey);
  keys = { privateKey, publicKey, keyId: keyIdOf(publicKey), publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString() };
  return keys;
}

function verifyOnlyPem(): string {
  const parts: string[] = [];
  if (env.AUDIT_VERIFY_KEYS) parts.push(env.AUDIT_VERIFY_KEYS);
  const file = env.AUDIT_VERIFY_KEYS_FILE;
  if (file) {
    if (fs.statSync(file).isDirectory()) {
      for (const f of fs
        .readdirSync(file)
        .filter((n) => n.endsWith(".pem"))
        .sort())
        parts.push(fs.readFileSync(path.join(file, f), "utf8"));
    } else parts.push(fs.readFileSync(file, "utf8"));
  }
  return parts.join("\n");
}

/**
 * Every key that verifies checkpoints, by key id: the signing key (when configured) and
 * the verify-only keys. Keys come from the configuration, never from the database, so a
 * database superuser cannot slip in a key of their own.
 */
export function verificationKeys(): Map<string, VerificationKey> {
  if (ring) return ring;
  const m = new Map<string, VerificationKey>();
  const active = signingKeysOrNull();
  if (active) m.set(active.keyId, { keyId: active.keyId, publicKey: active.publicKey, publicKeyPem: active.publicKeyPem, active: true });
  for (const publicKey of publicKeysFromPem(verifyOnlyPem())) {
    const keyId = keyIdOf(publicKey);
    if (!m.has(keyId)) m.set(keyId, { keyId, publicKey, publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(), active: false });
  }
  return (ring = m);
}

/** The verification keys as the pure verifier takes them (key id → public key). */
export function verificationKeyMap(): Map<string, KeyObject> {
  return new Map([...verificationKeys()].map(([id, k]) => [id, k.publicKey]));
}

export function signCheckpointPayload(c: Omit<CheckpointFields, "keyId">) {
  const k = signingKeys();
  const fields = { ...c, keyId: k.keyId };
  return { ...fields, signature: sign(null, Buffer.from(checkpointPayload(fields)), k.privateKey).toString("base64") };
}

/** Signs an event's hash at append time; null where no key is configured (the event is then unsigned). */
export function signEventHash(hash: string): { signature: string; keyId: string } | null {
  const k = signingKeysOrNull();
  return k ? { signature: sign(null, eventSignaturePayload(hash), k.privateKey).toString("base64"), keyId: k.keyId } : null;
}

/** Remembered "no key configured", so an instance without one does not re-read the configuration for every event. */
let noKeys = false;

/** The keys, or null where none is configured (verification then checks links only). */
export function signingKeysOrNull(): Keys | null {
  if (noKeys) return null;
  try {
    return signingKeys();
  } catch {
    noKeys = true;
    return null;
  }
}

/**
 * For tests that rotate keys within one process (the configuration is read once at
 * start-up): sign with `signingPem` from now on, and also verify with `verifyPems`.
 * Without arguments, back to the configured keys.
 */
export function useKeysForTests(signingPem?: string, verifyPems: string[] = []) {
  keys = undefined;
  ring = undefined;
  noKeys = false;
  if (signingPem === undefined) return;
  const privateKey = createPrivateKey(signingPem);
  const publicKey = createPublicKey(privateKey);
  keys = { privateKey, publicKey, keyId: keyIdOf(publicKey), publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString() };
  const m = new Map<string, VerificationKey>([[keys.keyId, { keyId: keys.keyId, publicKey, publicKeyPem: keys.publicKeyPem, active: true }]]);
  for (const k of publicKeysFromPem(verifyPems.join("\n"))) {
    const keyId = keyIdOf(k);
    if (!m.has(keyId)) m.set(keyId, { keyId, publicKey: k, publicKeyPem: k.export({ type: "spki", format: "pem" }).toString(), active: false });
  }
  ring = m;
}

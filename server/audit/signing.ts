import "server-only";
import { createPrivateKey, createPublicKey, sign, type KeyObject } from "node:crypto";
import fs from "node:fs";
import { env } from "~/env";
import { checkpointPayload, keyIdOf, type CheckpointFields } from "./chain";

/**
 * The server's Ed25519 audit signing key: AUDIT_SIGNING_KEY (PEM) or the PEM file at
 * AUDIT_SIGNING_KEY_FILE, which `npm start` creates in the data folder on first start.
 */
type Keys = { privateKey: KeyObject; publicKey: KeyObject; keyId: string; publicKeyPem: string };
let keys: Keys | undefined;

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

export function signCheckpointPayload(c: Omit<CheckpointFields, "keyId">) {
  const k = signingKeys();
  const fields = { ...c, keyId: k.keyId };
  return { ...fields, signature: sign(null, Buffer.from(checkpointPayload(fields)), k.privateKey).toString("base64") };
}

/** The keys, or null where none is configured (verification then checks links only). */
export function signingKeysOrNull(): Keys | null {
  try {
    return signingKeys();
  } catch {
    return null;
  }
}

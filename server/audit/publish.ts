import "server-only";
import type { AuditCheckpointRow } from "~/db/schema";
import { blobs } from "~/server/artifacts/store";
import { verificationKeys } from "./signing";
import { parsePublishedCheckpoint, type PublishedCheckpoint } from "./verify";

/*
 * Signed checkpoints published outside the database, in the artifact store (the local
 * folder or the S3 bucket): checkpoints/<workspace id | "instance">/<seq, 12 digits>.json,
 * written once and never overwritten, and the public key of every signing key at
 * checkpoints/keys/<key id>.pem. A database superuser who rewrites a chain's tail cannot
 * rewrite these; `steward audit verify --published` and checkpoint signing check against
 * them. (Give the bucket Object Lock or replicate it to another account to make the
 * store itself out of reach of whoever runs the database.)
 */

export const PUBLISHED_FORMAT = "steward-audit-checkpoint";
const chainFolder = (workspaceId: string | null) => `checkpoints/${workspaceId ?? "instance"}/`;
export const publishedKey = (workspaceId: string | null, seq: number) => `${chainFolder(workspaceId)}${String(seq).padStart(12, "0")}.json`;

/** The published form of a checkpoint: its signed fields, plus the public key for convenience (a verifier trusts its own copy). */
export function publishedObject(cp: Pick<AuditCheckpointRow, "workspaceId" | "seq" | "headHash" | "signedAt" | "keyId" | "signature">) {
  return {
    format: PUBLISHED_FORMAT,
    version: 1,
    workspaceId: cp.workspaceId,
    seq: cp.seq,
    headHash: cp.headHash,
    signedAt: cp.signedAt.toISOString(),
    keyId: cp.keyId,
    signature: cp.signature,
    publicKey: verificationKeys().get(cp.keyId)?.publicKeyPem ?? null,
  };
}

const sameSigned = (a: PublishedCheckpoint, b: PublishedCheckpoint) =>
  a.workspaceId === b.workspaceId &&
  a.seq === b.seq &&
  a.headHash === b.headHash &&
  String(a.signedAt) === String(b.signedAt) &&
  a.keyId === b.keyId &&
  a.signature === b.signature;

/**
 * Publishes a checkpoint (idempotent: publishing the same one again is a no-op). Throws if
 * a different checkpoint is already published under its key — which only a rewrite of the
 * checkpoints table can cause.
 */
export async function publishCheckpoint(cp: AuditCheckpointRow): Promise<{ key: string; created: boolean }> {
  const store = await blobs();
  const obj = publishedObject(cp);
  if (obj.publicKey) await store.putOnce(`checkpoints/keys/${cp.keyId}.pem`, Buffer.from(obj.publicKey));
  const key = publishedKey(cp.workspaceId, cp.seq);
  const r = await store.putOnce(key, Buffer.from(`${JSON.stringify(obj, null, 2)}\n`));
  if (!r.created && r.existing) {
    const before = parsePublishedCheckpoint(JSON.parse(r.existing.toString("utf8")), key);
    if (!sameSigned(before, parsePublishedCheckpoint(obj, key)))
      throw new Error(`A different checkpoint is already published at ${key}; the published one is kept.`);
  }
  return { key, created: r.created };
}

/** One chain's published checkpoint at `seq`, or null. */
export async function getPublished(workspaceId: string | null, seq: number): Promise<PublishedCheckpoint | null> {
  const key = publishedKey(workspaceId, seq);
  const bytes = await (await blobs()).get(key);
  return bytes ? parsePublishedCheckpoint(JSON.parse(bytes.toString("utf8")), key) : null;
}

/** A chain's published checkpoints in sequence order (only those after `afterSeq` when given). */
export async function listPublished(workspaceId: string | null, afterSeq?: number): Promise<PublishedCheckpoint[]> {
  const store = await blobs();
  const keys = (await store.list(chainFolder(workspaceId), afterSeq === undefined ? undefined : publishedKey(workspaceId, afterSeq))).filter((k) =>
    k.endsWith(".json"),
  );
  const out: PublishedCheckpoint[] = [];
  for (const key of keys) {
    const bytes = await store.get(key);
    if (bytes) out.push(parsePublishedCheckpoint(JSON.parse(bytes.toString("utf8")), key));
  }
  return out.sort((a, b) => a.seq - b.seq);
}

import { createHash, verify, type KeyObject } from "node:crypto";
import canonicalize from "canonicalize";

export const GENESIS_HASH = "0".repeat(64);

/** The fields covered by an event's hash. Order does not matter: the encoding is RFC 8785 (JCS). */
export type ChainedFields = {
  workspaceId: string | null;
  seq: number;
  prevHash: string;
  occurredAt: Date;
  actorType: string;
  actorId: string | null;
  actorLabel: string | null;
  action: string;
  targetType: string;
  targetId: string | null;
  changes: unknown;
  metadata: unknown;
  requestId: string | null;
};

export function canonicalEncoding(e: ChainedFields): string {
  const encoded = canonicalize({
    v: 1,
    workspaceId: e.workspaceId,
    seq: e.seq,
    prevHash: e.prevHash,
    occurredAt: e.occurredAt.toISOString(),
    actorType: e.actorType,
    actorId: e.actorId,
    actorLabel: e.actorLabel,
    action: e.action,
    targetType: e.targetType,
    targetId: e.targetId,
    changes: e.changes ?? null,
    metadata: e.metadata ?? null,
    requestId: e.requestId,
  });
  if (encoded === undefined) throw new Error("audit event cannot be encoded");
  return encoded;
}

export function hashEvent(e: ChainedFields): string {
  return createHash("sha256").update(canonicalEncoding(e)).digest("hex");
}

export type ChainBreak = { seq: number; reason: string };

/**
 * Walks events in seq order and returns the first break: a gap or duplicate in the
 * sequence, a prev_hash that does not match its predecessor, or a hash that does not
 * match the event's content. Pure, so an offline verifier can run the same code.
 */
export function findChainBreak(
  events: Iterable<ChainedFields & { hash: string }>,
  start: { seq: number; hash: string } = { seq: 0, hash: GENESIS_HASH },
): ChainBreak | null {
  let expectedSeq = start.seq + 1;
  let prevHash = start.hash;
  for (const e of events) {
    if (e.seq !== expectedSeq) {
      return e.seq > expectedSeq
        ? { seq: expectedSeq, reason: `event #${expectedSeq} is missing (next event found is #${e.seq})` }
        : { seq: e.seq, reason: `event #${e.seq} appears out of order or twice` };
    }
    if (e.prevHash !== prevHash) {
      return { seq: e.seq, reason: `event #${e.seq} does not link to the event before it (prev_hash mismatch)` };
    }
    if (hashEvent(e) !== e.hash) {
      return { seq: e.seq, reason: `event #${e.seq} was altered (its content no longer matches its hash)` };
    }
    prevHash = e.hash;
    expectedSeq++;
  }
  return null;
}

/* Signed checkpoints: Ed25519 over a canonical encoding of a chain head. */
export type CheckpointFields = { workspaceId: string | null; seq: number; headHash: string; signedAt: Date | string; keyId: string };

/**
 * Version 2 (current) also states that every event after the checkpoint is signed, so a
 * verifier knows an unsigned event there was stripped; version 1 checkpoints (signed
 * before events were) still verify.
 */
export function checkpointPayload(c: CheckpointFields, version: 1 | 2 = 2): string {
  const encoded = canonicalize({
    v: version,
    kind: "steward-audit-checkpoint",
    workspaceId: c.workspaceId,
    seq: c.seq,
    headHash: c.headHash,
    signedAt: typeof c.signedAt === "string" ? c.signedAt : c.signedAt.toISOString(),
    keyId: c.keyId,
    ...(version === 2 ? { events: "signed" } : {}),
  });
  if (encoded === undefined) throw new Error("checkpoint cannot be encoded");
  return encoded;
}

/** The key id: the first 16 hex digits of the sha256 of the public key (SPKI DER). */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash("sha256")
    .update(publicKey.export({ type: "spki", format: "der" }))
    .digest("hex")
    .slice(0, 16);
}

/** Which payload version a checkpoint's signature verifies for (2, then 1), or null when it verifies for none. */
export function checkpointSignatureVersion(c: CheckpointFields & { signature: string }, publicKey: KeyObject): 1 | 2 | null {
  for (const version of [2, 1] as const) {
    try {
      if (verify(null, Buffer.from(checkpointPayload(c, version)), publicKey, Buffer.from(c.signature, "base64"))) return version;
    } catch {
      return null;
    }
  }
  return null;
}

export function verifyCheckpointSignature(c: CheckpointFields & { signature: string }, publicKey: KeyObject): boolean {
  return checkpointSignatureVersion(c, publicKey) !== null;
}

/** What an event's own signature covers: its hash, which covers its chain, seq, link and content. */
export function eventSignaturePayload(hash: string): Buffer {
  return Buffer.from(`steward-audit-event.v1\n${hash}`);
}

export function verifyEventSignature(e: { hash: string; signature: string }, publicKey: KeyObject): boolean {
  try {
    return verify(null, eventSignaturePayload(e.hash), publicKey, Buffer.from(e.signature, "base64"));
  } catch {
    return false;
  }
}

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

/**
 * RFC 8785 (JCS) for JSON values, as the `canonicalize` package encodes them (the reference
 * the unit test compares with), without its per-character surrogate scan and array copies:
 * keys sorted by UTF-16 code units, strings and numbers as ECMAScript's JSON.stringify
 * writes them, undefined members dropped (null in arrays). NaN, Infinity and lone
 * surrogates are refused, as there.
 */
export function canonicalJson(v: unknown): string {
  switch (typeof v) {
    case "string":
      // String.prototype.isWellFormed (ES2024, Node 20): native, unlike a per-character scan.
      if (!(v as string & { isWellFormed(): boolean }).isWellFormed()) throw new Error("Lone surrogate is not allowed");
      return JSON.stringify(v);
    case "number":
      if (!Number.isFinite(v)) throw new Error(Number.isNaN(v) ? "NaN is not allowed" : "Infinity is not allowed");
      return JSON.stringify(v);
    case "boolean":
      return v ? "true" : "false";
    case "object": {
      if (v === null) return "null";
      if (typeof (v as { toJSON?: unknown }).toJSON === "function") return canonicalJson((v as { toJSON(): unknown }).toJSON());
      if (Array.isArray(v)) {
        let out = "[";
        for (let i = 0; i < v.length; i++) {
          const x: unknown = v[i];
          out += (i ? "," : "") + (x === undefined || typeof x === "symbol" ? "null" : canonicalJson(x));
        }
        return out + "]";
      }
      const o = v as Record<string, unknown>;
      let out = "{";
      for (const key of Object.keys(o).sort()) {
        const x = o[key];
        if (x === undefined || typeof x === "symbol") continue;
        out += (out.length > 1 ? "," : "") + canonicalJson(key) + ":" + canonicalJson(x);
      }
      return out + "}";
    }
    default:
      throw new Error(`a ${typeof v} cannot be encoded`);
  }
}

const nullable = (s: string | null) => (s === null ? "null" : canonicalJson(s));

/** The event's canonical encoding: the members of version 1 in JCS order, written directly. */
export function canonicalEncoding(e: ChainedFields): string {
  return (
    `{"action":${canonicalJson(e.action)},"actorId":${nullable(e.actorId)},"actorLabel":${nullable(e.actorLabel)},` +
    `"actorType":${canonicalJson(e.actorType)},"changes":${canonicalJson(e.changes ?? null)},"metadata":${canonicalJson(e.metadata ?? null)},` +
    `"occurredAt":${canonicalJson(e.occurredAt.toISOString())},"prevHash":${canonicalJson(e.prevHash)},"requestId":${nullable(e.requestId)},` +
    `"seq":${canonicalJson(e.seq)},"targetId":${nullable(e.targetId)},"targetType":${canonicalJson(e.targetType)},"v":1,` +
    `"workspaceId":${nullable(e.workspaceId)}}`
  );
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

import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import {
  canonicalJson,
  checkpointSignatureVersion,
  findChainBreak,
  GENESIS_HASH,
  keyIdOf,
  verifyEventSignature,
  type ChainedFields,
  type CheckpointFields,
} from "./chain";

/*
 * Verification shared by the server ("Verify chain", checkpoint signing) and the offline
 * verifier (`steward audit verify export.ndjson --public-key key.pem --published dir`):
 * pure, no database.
 */

export type ExportedEvent = Omit<ChainedFields, "occurredAt"> & { occurredAt: string | Date; hash: string; signature?: string | null; keyId?: string | null };
export type ExportedCheckpoint = CheckpointFields & { signature: string };
/** A checkpoint as published outside the database (artifact store, webhook): the same signed fields. */
export type PublishedCheckpoint = ExportedCheckpoint & { format?: string; version?: number; publicKey?: string | null };
export type Problem = { seq: number; reason: string };
/**
 * The keys a verifier trusts: one public key (every checkpoint must name it), a ring by
 * key id (old checkpoints verify with retired keys), or null (links only, no signatures).
 */
export type TrustedKeys = KeyObject | Map<string, KeyObject> | null;

export type VerifyReport = {
  intact: boolean;
  events: number;
  firstSeq: number | null;
  lastSeq: number | null;
  complete: boolean;
  checkpointsVerified: number;
  /** Checkpoints published outside the database that the export was checked against (when given). */
  publishedVerified?: number;
  problem: Problem | null;
};

export function loadPublicKey(pem: string): KeyObject {
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== "ed25519") throw new Error("The public key is not an Ed25519 key.");
  return key;
}

/** Every Ed25519 key in a PEM bundle (public keys, or private keys reduced to their public half). */
export function publicKeysFromPem(text: string): KeyObject[] {
  const blocks = text.match(/-----BEGIN ([A-Z ]+)-----[\s\S]+?-----END \1-----/g) ?? [];
  return blocks
    .map((b) => (b.includes("PRIVATE KEY") ? createPublicKey(createPrivateKey(b)) : loadPublicKey(b)))
    .filter((k) => k.asymmetricKeyType === "ed25519");
}

/** A key ring by key id. */
export function keyRing(keys: KeyObject[]): Map<string, KeyObject> {
  return new Map(keys.map((k) => [keyIdOf(k), k]));
}

/** The key a checkpoint names: null when no keys are trusted, undefined when the key is not one of them. */
function keyFor(keys: TrustedKeys, keyId: string): KeyObject | null | undefined {
  if (keys === null) return null;
  if (keys instanceof Map) return keys.get(keyId);
  return keyIdOf(keys) === keyId ? keys : undefined;
}

/** Checks one checkpoint's signature: a problem when its key is unknown or the signature does not verify; else the payload version it verifies for (null without keys). */
export function checkCheckpointSignature(cp: ExportedCheckpoint, keys: TrustedKeys, where = "checkpoint"): { problem: Problem | null; version: 1 | 2 | null } {
  const key = keyFor(keys, cp.keyId);
  if (key === null) return { problem: null, version: null };
  if (key === undefined)
    return { problem: { seq: cp.seq, reason: `the ${where} at #${cp.seq} was signed with a key this verifier does not trust (${cp.keyId})` }, version: null };
  const version = checkpointSignatureVersion(cp, key);
  if (version === null)
    return { problem: { seq: cp.seq, reason: `the ${where} at #${cp.seq} has an invalid signature (it was altered or forged)` }, version: null };
  return { problem: null, version };
}

export function checkpointSignatureProblem(cp: ExportedCheckpoint, keys: TrustedKeys, where = "checkpoint"): Problem | null {
  return checkCheckpointSignature(cp, keys, where).problem;
}

/**
 * Checks events' own signatures (in seq order): each signed event must verify with a
 * trusted key, and from `requireFrom` on (the event after a version 2 checkpoint) an
 * unsigned event was stripped of its signature or forged.
 */
export function checkEventSignatures(
  events: Iterable<{ seq: number; hash: string; signature?: string | null; keyId?: string | null }>,
  keys: TrustedKeys,
  requireFrom = Number.MAX_SAFE_INTEGER,
): Problem | null {
  for (const e of events) {
    if (e.signature) {
      const key = keyFor(keys, e.keyId ?? "");
      if (key === null) continue;
      if (key === undefined) return { seq: e.seq, reason: `event #${e.seq} was signed with a key this verifier does not trust (${e.keyId ?? "none"})` };
      if (!verifyEventSignature({ hash: e.hash, signature: e.signature }, key)) {
        return { seq: e.seq, reason: `event #${e.seq} was altered (its signature does not match: it was rewritten and re-hashed)` };
      }
    } else if (keys !== null && e.seq >= requireFrom) {
      return {
        seq: e.seq,
        reason: `event #${e.seq} is not signed, though a signed checkpoint at #${requireFrom - 1} states that every later event is (it was rewritten, or its signature removed)`,
      };
    }
  }
  return null;
}

/** Checks signed checkpoints against the events' hashes (a Map of seq → hash) and the last seq. */
export function checkCheckpoints(
  checkpoints: ExportedCheckpoint[],
  hashAt: (seq: number) => string | undefined,
  lastSeq: number,
  keys: TrustedKeys,
): { verified: number; problem: Problem | null } {
  let verified = 0;
  for (const cp of [...checkpoints].sort((a, b) => a.seq - b.seq)) {
    const bad = checkpointSignatureProblem(cp, keys);
    if (bad) return { verified, problem: bad };
    if (cp.seq > lastSeq) {
      return {
        verified,
        problem: {
          seq: lastSeq + 1,
          reason: `the chain ends at #${lastSeq}, but a checkpoint signed at ${String(cp.signedAt)} covers #${cp.seq}: events were removed from the end`,
        },
      };
    }
    const h = hashAt(cp.seq);
    if (h !== undefined && h !== cp.headHash) {
      return { verified, problem: { seq: cp.seq, reason: `event #${cp.seq} does not match the signed checkpoint (the chain was rewritten)` } };
    }
    if (h !== undefined) verified++;
  }
  return { verified, problem: null };
}

const iso = (d: Date | string) => (typeof d === "string" ? d : d.toISOString());

/**
 * Checks a chain against the heads published outside the database. A database superuser
 * can rewrite the tail, recompute every hash and delete the checkpoints that would
 * contradict it, but cannot reach the published copies: the first published head whose
 * event no longer carries the signed hash names where the rewrite is.
 */
export function checkPublished(
  published: PublishedCheckpoint[],
  opts: { workspaceId: string | null; hashAt: (seq: number) => string | undefined; lastSeq: number; checkpoints?: ExportedCheckpoint[]; keys: TrustedKeys },
): { verified: number; problem: Problem | null } {
  const inExport = new Map((opts.checkpoints ?? []).map((c) => [c.seq, c]));
  let verified = 0;
  let lastGood = 0;
  for (const cp of [...published].sort((a, b) => a.seq - b.seq)) {
    if (cp.workspaceId !== opts.workspaceId) {
      return {
        verified,
        problem: { seq: cp.seq, reason: `the published checkpoint at #${cp.seq} belongs to another chain (${cp.workspaceId ?? "instance"})` },
      };
    }
    const bad = checkpointSignatureProblem(cp, opts.keys, "published checkpoint");
    if (bad) return { verified, problem: bad };
    const mine = inExport.get(cp.seq);
    if (mine && (mine.headHash !== cp.headHash || mine.signature !== cp.signature || iso(mine.signedAt) !== iso(cp.signedAt))) {
      return {
        verified,
        problem: { seq: cp.seq, reason: `the checkpoint at #${cp.seq} differs from the one published at ${iso(cp.signedAt)} (the checkpoints were rewritten)` },
      };
    }
    if (cp.seq > opts.lastSeq) {
      return {
        verified,
        problem: {
          seq: opts.lastSeq + 1,
          reason: `the chain ends at #${opts.lastSeq}, but a checkpoint published at ${iso(cp.signedAt)} covers #${cp.seq}: events were removed from the end`,
        },
      };
    }
    const h = opts.hashAt(cp.seq);
    if (h !== undefined && h !== cp.headHash) {
      return {
        verified,
        problem: {
          seq: cp.seq,
          reason: `event #${cp.seq} does not match the checkpoint published at ${iso(cp.signedAt)}: the chain was rewritten between #${lastGood + 1} and #${cp.seq}`,
        },
      };
    }
    if (h !== undefined) {
      verified++;
      lastGood = cp.seq;
    }
  }
  return { verified, problem: null };
}

/**
 * Verifies exported events: each event's own hash, the links between consecutive events
 * (the whole chain when the export starts at #1 and has no gaps), the order they were
 * written in, and every signed checkpoint. Names the first bad sequence number.
 */
export function verifyExport(events: ExportedEvent[], checkpoints: ExportedCheckpoint[], keys: TrustedKeys, published?: PublishedCheckpoint[]): VerifyReport {
  const base = { events: events.length, firstSeq: events[0]?.seq ?? null, lastSeq: events.at(-1)?.seq ?? null };
  const fail = (problem: Problem, complete: boolean): VerifyReport => ({ ...base, intact: false, complete, checkpointsVerified: 0, problem });
  for (let i = 1; i < events.length; i++) {
    if (events[i]!.seq <= events[i - 1]!.seq) {
      return fail(
        { seq: events[i]!.seq, reason: `event #${events[i]!.seq} appears after #${events[i - 1]!.seq}: the export is out of order or has a duplicate` },
        false,
      );
    }
  }
  const complete = events.length > 0 && events[0]!.seq === 1 && events.at(-1)!.seq === events.length;
  const asChained = events.map((e) => ({ ...e, occurredAt: new Date(e.occurredAt) }));
  if (events[0]?.seq === 1) {
    const brk = findChainBreak(asChained, { seq: 0, hash: GENESIS_HASH });
    if (brk) return fail(brk, complete);
  } else {
    // A filtered export: each event must still match its hash; links are checked where consecutive.
    for (let i = 0; i < asChained.length; i++) {
      const e = asChained[i]!;
      const prev = asChained[i - 1];
      const brk = findChainBreak([e], { seq: e.seq - 1, hash: prev && prev.seq === e.seq - 1 ? prev.hash : e.prevHash });
      if (brk) return fail(brk, complete);
    }
  }
  // After a version 2 checkpoint every event is signed. In a complete export the events up to
  // the last checkpoint are authenticated by it (checked below); a filtered one has only the
  // events' own signatures.
  const v2 = checkpoints.filter((c) => checkCheckpointSignature(c, keys).version === 2).map((c) => c.seq);
  const coveredUpTo = complete ? Math.max(0, ...checkpoints.map((c) => c.seq)) : 0;
  const sigProblem = checkEventSignatures(
    events.filter((e) => e.seq > coveredUpTo),
    keys,
    v2.length ? Math.min(...v2) + 1 : undefined,
  );
  if (sigProblem) return fail(sigProblem, complete);
  const byseq = new Map(events.map((e) => [e.seq, e.hash]));
  const last = complete ? (base.lastSeq ?? 0) : Number.MAX_SAFE_INTEGER;
  const cps = checkCheckpoints(checkpoints, (s) => byseq.get(s), last, keys);
  if (cps.problem) return { ...fail(cps.problem, complete), checkpointsVerified: cps.verified };
  if (published) {
    const workspaceId = events[0]?.workspaceId ?? published[0]?.workspaceId ?? null;
    const pub = checkPublished(published, { workspaceId, hashAt: (s) => byseq.get(s), lastSeq: last, checkpoints, keys });
    if (pub.problem) return { ...fail(pub.problem, complete), checkpointsVerified: cps.verified, publishedVerified: pub.verified };
    return { ...base, intact: true, complete, checkpointsVerified: cps.verified, publishedVerified: pub.verified, problem: null };
  }
  return { ...base, intact: true, complete, checkpointsVerified: cps.verified, problem: null };
}

/** Parses one published checkpoint object (a JSON file from the artifact store, or a webhook's data). */
export function parsePublishedCheckpoint(obj: unknown, where: string): PublishedCheckpoint {
  const o = obj as Record<string, unknown> | null;
  if (
    !o ||
    typeof o !== "object" ||
    typeof o.seq !== "number" ||
    typeof o.headHash !== "string" ||
    typeof o.signedAt !== "string" ||
    typeof o.keyId !== "string" ||
    typeof o.signature !== "string" ||
    !(typeof o.workspaceId === "string" || o.workspaceId === null)
  ) {
    throw new Error(`${where} is not a published Steward audit checkpoint.`);
  }
  return {
    workspaceId: o.workspaceId,
    seq: o.seq,
    headHash: o.headHash,
    signedAt: o.signedAt,
    keyId: o.keyId,
    signature: o.signature,
    publicKey: typeof o.publicKey === "string" ? o.publicKey : null,
  };
}

const FORMAT1_KEYS = new Set([
  "type",
  "workspaceId",
  "seq",
  "prevHash",
  "hash",
  "occurredAt",
  "actorType",
  "actorId",
  "actorLabel",
  "action",
  "targetType",
  "targetId",
  "changes",
  "metadata",
  "requestId",
  "signature",
  "keyId",
]);
const FORMAT2_LINE_KEYS = "chained,hash,keyId,seq,signature,type";
const FORMAT2_CHAINED_KEYS = "action,actorId,actorLabel,actorType,changes,metadata,occurredAt,prevHash,requestId,seq,targetId,targetType,v,workspaceId";

/**
 * A format 2 event line: exactly the members the format has, and `chained` exactly the bytes
 * its hash covers (the event's canonical encoding), so what a reader of the line sees is what
 * was hashed — a member added inside or beside it, a second seq, or a re-written encoding is
 * refused here rather than passed over by a hash computed from the known fields.
 */
function formatTwoEvent(obj: Record<string, unknown>, line: string, n: number): ExportedEvent {
  const where = `Line ${n} of the export`;
  const chained = obj.chained as Record<string, unknown> | null;
  if (Object.keys(obj).sort().join(",") !== FORMAT2_LINE_KEYS || !chained || typeof chained !== "object" || Array.isArray(chained))
    throw new Error(`${where} is not a format 2 event line (members: ${Object.keys(obj).join(", ")}).`);
  if (Object.keys(chained).sort().join(",") !== FORMAT2_CHAINED_KEYS || chained.v !== 1)
    throw new Error(`${where}: event #${String(obj.seq)} carries members no hash covers, or lacks some (${Object.keys(chained).join(", ")}).`);
  if (chained.seq !== obj.seq) throw new Error(`${where} says event #${String(obj.seq)} but its hashed content is event #${String(chained.seq)}.`);
  const at = line.indexOf(',"chained":');
  const raw = at < 0 ? "" : line.slice(at + ',"chained":'.length, line.trimEnd().length - 1);
  if (raw !== canonicalJson(chained))
    throw new Error(`${where}: event #${String(obj.seq)} is not written as its hash covers it (a format 2 line carries the event's canonical bytes).`);
  const { v: _v, ...fields } = chained;
  return {
    ...(fields as unknown as ExportedEvent),
    hash: obj.hash as string,
    signature: (obj.signature as string | null) ?? null,
    keyId: (obj.keyId as string | null) ?? null,
  };
}

/** Parses an NDJSON export: a header line, then event and checkpoint lines. */
export function parseExport(text: string) {
  const events: ExportedEvent[] = [];
  const checkpoints: ExportedCheckpoint[] = [];
  let header: Record<string, unknown> | null = null;
  const lines = text.split("\n").filter((l) => l.trim());
  lines.forEach((line, i) => {
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new Error(`Line ${i + 1} of the export is not JSON.`);
    }
    if (obj.type === "header") header = obj;
    else if (obj.type === "event" && "chained" in obj) events.push(formatTwoEvent(obj, line, i + 1));
    else if (obj.type === "event") {
      // Format 1: nothing beside the event's own fields (a member the hash does not cover would pass unchecked).
      const extra = Object.keys(obj).filter((k) => !FORMAT1_KEYS.has(k));
      if (extra.length) throw new Error(`Line ${i + 1} of the export: event #${String(obj.seq)} carries members no hash covers (${extra.join(", ")}).`);
      events.push(obj as unknown as ExportedEvent);
    } else if (obj.type === "checkpoint") checkpoints.push(obj as unknown as ExportedCheckpoint);
    else throw new Error(`Line ${i + 1} of the export has an unknown type.`);
  });
  if (!header) throw new Error("The export has no header line; it is not a Steward audit export.");
  return { header: header as Record<string, unknown>, events, checkpoints };
}

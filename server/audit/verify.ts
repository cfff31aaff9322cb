import { createPublicKey, type KeyObject } from "node:crypto";
import { findChainBreak, GENESIS_HASH, keyIdOf, verifyCheckpointSignature, type ChainedFields, type CheckpointFields } from "./chain";

/*
 * Verification shared by the server ("Verify chain") and the offline verifier
 * (`steward audit verify export.ndjson --public-key key.pem`): pure, no database.
 */

export type ExportedEvent = Omit<ChainedFields, "occurredAt"> & { occurredAt: string | Date; hash: string };
export type ExportedCheckpoint = CheckpointFields & { signature: string };
export type Problem = { seq: number; reason: string };

export type VerifyReport = {
  intact: boolean;
  events: number;
  firstSeq: number | null;
  lastSeq: number | null;
  complete: boolean;
  checkpointsVerified: number;
  problem: Problem | null;
};

export function loadPublicKey(pem: string): KeyObject {
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== "ed25519") throw new Error("The public key is not an Ed25519 key.");
  return key;
}

/** Checks signed checkpoints against the events' hashes (a Map of seq → hash) and the last seq. */
export function checkCheckpoints(
  checkpoints: ExportedCheckpoint[],
  hashAt: (seq: number) => string | undefined,
  lastSeq: number,
  publicKey: KeyObject | null,
): { verified: number; problem: Problem | null } {
  const keyId = publicKey ? keyIdOf(publicKey) : null;
  let verified = 0;
  for (const cp of [...checkpoints].sort((a, b) => a.seq - b.seq)) {
    if (publicKey) {
      if (cp.keyId !== keyId) return { verified, problem: { seq: cp.seq, reason: `the checkpoint at #${cp.seq} was signed with another key (${cp.keyId})` } };
      if (!verifyCheckpointSignature(cp, publicKey)) {
        return { verified, problem: { seq: cp.seq, reason: `the checkpoint at #${cp.seq} has an invalid signature (it was altered or forged)` } };
      }
    }
    if (cp.seq > lastSeq) {
      return {
        verified,
        problem: { seq: lastSeq + 1, reason: `the chain ends at #${lastSeq}, but a checkpoint signed at ${String(cp.signedAt)} covers #${cp.seq}: events were removed from the end` },
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

/**
 * Verifies exported events: each event's own hash, the links between consecutive events
 * (the whole chain when the export starts at #1 and has no gaps), the order they were
 * written in, and every signed checkpoint. Names the first bad sequence number.
 */
export function verifyExport(events: ExportedEvent[], checkpoints: ExportedCheckpoint[], publicKey: KeyObject | null): VerifyReport {
  const base = { events: events.length, firstSeq: events[0]?.seq ?? null, lastSeq: events.at(-1)?.seq ?? null };
  const fail = (problem: Problem, complete: boolean): VerifyReport => ({ ...base, intact: false, complete, checkpointsVerified: 0, problem });
  for (let i = 1; i < events.length; i++) {
    if (events[i]!.seq <= events[i - 1]!.seq) {
      return fail({ seq: events[i]!.seq, reason: `event #${events[i]!.seq} appears after #${events[i - 1]!.seq}: the export is out of order or has a duplicate` }, false);
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
  const byseq = new Map(events.map((e) => [e.seq, e.hash]));
  const last = base.lastSeq ?? 0;
  const cps = checkCheckpoints(checkpoints, (s) => byseq.get(s), complete ? last : Number.MAX_SAFE_INTEGER, publicKey);
  if (cps.problem) return { ...fail(cps.problem, complete), checkpointsVerified: cps.verified };
  return { ...base, intact: true, complete, checkpointsVerified: cps.verified, problem: null };
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
    else if (obj.type === "event") events.push(obj as unknown as ExportedEvent);
    else if (obj.type === "checkpoint") checkpoints.push(obj as unknown as ExportedCheckpoint);
    else throw new Error(`Line ${i + 1} of the export has an unknown type.`);
  });
  if (!header) throw new Error("The export has no header line; it is not a Steward audit export.");
  return { header: header as Record<string, unknown>, events, checkpoints };
}

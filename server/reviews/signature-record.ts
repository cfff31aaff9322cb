import "server-only";
import canonicalize from "canonicalize";
import { sha } from "./loading";

export type SignatureRecord = {
  requestId: string;
  signerId: string;
  signerName: string;
  role: string;
  decision: string;
  meaning: string;
  reason: string | null;
  artifactSha256: string;
  evidenceHash: string;
  method: string;
  signedAt: Date;
  aliasHolderVersionId?: string | null;
  round?: number;
};

/** The record format new signatures are hashed in. 1: the fields of #5; 2: adds the alias holder at signing time and the round. */
export const SIGNATURE_RECORD_FORMAT = 2;

/**
 * The hash that binds a signature's fields to its request: a copy onto another record does
 * not verify. Format 2 (every signature since re-bases existed) also binds the version that
 * held the alias when it was signed and the request's round, and names its format inside
 * the hashed object, so a format-2 record can never verify as format 1.
 */
export function signatureRecordHash(s: SignatureRecord, format: 1 | 2 = SIGNATURE_RECORD_FORMAT) {
  const { requestId, signerId, signerName, role, decision, meaning, reason, artifactSha256, evidenceHash, method } = s;
  const v1 = { requestId, signerId, signerName, role, decision, meaning, reason, artifactSha256, evidenceHash, method, signedAt: s.signedAt.toISOString() };
  if (format === 1) return sha(canonicalize(v1) ?? "");
  return sha(canonicalize({ format: 2, ...v1, aliasHolderVersionId: s.aliasHolderVersionId ?? null, round: s.round ?? 0 }) ?? "");
}

/**
 * Does a stored signature still match its record hash? Returns the format it verifies in,
 * or null. Format 1 is accepted only for rows that carry nothing format 1 did not hash
 * (written before format 2: no holder, round 0), so the holder of a format-2 row is covered.
 */
export function verifySignatureRecord(row: SignatureRecord & { recordHash: string }): 1 | 2 | null {
  if (row.recordHash === signatureRecordHash(row, 2)) return 2;
  if (!row.aliasHolderVersionId && !row.round && row.recordHash === signatureRecordHash(row, 1)) return 1;
  return null;
}

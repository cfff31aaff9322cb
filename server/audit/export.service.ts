import "server-only";
import { and, asc, gt } from "drizzle-orm";
import { z } from "zod";
import { getBulkDb } from "~/db/client";
import { auditEvents } from "~/db/schema";
import type { RequestMeta, WorkspaceActor } from "./actor";
import { auditFilters } from "./audit.service";
import { AUDIT_ACTIONS } from "~/server/shared/audit-actions";
import { allCheckpoints } from "./checkpoints.service";
import { csvRow } from "~/server/shared/format";
import { mutate } from "./mutate";
import { signingKeysOrNull, verificationKeys } from "./signing";
import { exportEventLine } from "./verify-bytes";

export const ExportAuditInput = z.object({
  format: z.enum(["ndjson", "csv"], { error: () => "format must be ndjson or csv." }).default("ndjson"),
  actor: z.string().trim().max(254).optional(),
  action: z.enum(AUDIT_ACTIONS, { error: () => "action must be one of the audit actions." }).optional(),
  targetType: z.string().trim().max(60).optional(),
  targetId: z.string().trim().max(200).optional(),
  q: z.string().trim().max(200).optional(),
  from: z.coerce.date({ error: "from must be a date and time." }).optional(),
  to: z.coerce.date({ error: "to must be a date and time." }).optional(),
});
export type ExportAuditInput = z.input<typeof ExportAuditInput>;

const CSV_COLUMNS = [
  "seq",
  "occurred_at",
  "actor_type",
  "actor_id",
  "actor_label",
  "action",
  "target_type",
  "target_id",
  "changes",
  "metadata",
  "request_id",
  "prev_hash",
  "hash",
] as const;

/**
 * Streams a workspace's audit events (filtered or not) in sequence order, with hashes, as
 * NDJSON (a header line, events, the chain's signed checkpoints and the public key) or
 * CSV. Records who exported what before the first byte.
 */
export async function exportAudit(actor: WorkspaceActor, raw: ExportAuditInput, meta: RequestMeta = {}) {
  const input = ExportAuditInput.parse(raw);
  const filters = {
    actor: input.actor ?? null,
    action: input.action ?? null,
    targetType: input.targetType ?? null,
    targetId: input.targetId ?? null,
    q: input.q ?? null,
    from: input.from?.toISOString() ?? null,
    to: input.to?.toISOString() ?? null,
  };
  await mutate(
    actor,
    async (_tx, audit) =>
      audit({ action: "audit.exported", target: { type: "workspace", id: actor.workspaceId }, metadata: { format: input.format, filters } }),
    meta,
  );

  const where = auditFilters(actor.workspaceId, input);

  const encoder = new TextEncoder();
  async function* lines() {
    if (input.format === "ndjson") {
      const key = signingKeysOrNull();
      yield `${JSON.stringify({ type: "header", format: "steward-audit-export", version: 2, workspaceId: actor.workspaceId, exportedAt: new Date().toISOString(), exportedBy: actor.email, filters, keyId: key?.keyId ?? null, publicKey: key?.publicKeyPem ?? null, keys: [...verificationKeys().values()].map((k) => ({ keyId: k.keyId, publicKey: k.publicKeyPem })) })}\n`;
    } else {
      yield `${CSV_COLUMNS.join(",")}\n`;
    }
    let after = 0;
    for (;;) {
      // The bulk pool: many exports at once cannot take the connections sign-ins need.
      const batch = await getBulkDb()
        .select()
        .from(auditEvents)
        .where(and(...where, gt(auditEvents.seq, after)))
        .orderBy(asc(auditEvents.seq))
        .limit(2000);
      if (batch.length === 0) break;
      let chunk = "";
      for (const e of batch) {
        if (input.format === "ndjson") {
          // Format 2: the exact bytes the hash covers, so a verifier hashes them without decoding (verify-bytes.ts).
          chunk += `${exportEventLine(e)}\n`;
        } else {
          chunk += csvRow([
            e.seq,
            e.occurredAt,
            e.actorType,
            e.actorId,
            e.actorLabel,
            e.action,
            e.targetType,
            e.targetId,
            e.changes,
            e.metadata,
            e.requestId,
            e.prevHash,
            e.hash,
          ]);
        }
      }
      yield chunk;
      after = batch.at(-1)!.seq;
    }
    if (input.format === "ndjson") {
      for (const c of await allCheckpoints(actor.workspaceId)) {
        yield `${JSON.stringify({ type: "checkpoint", workspaceId: c.workspaceId, seq: c.seq, headHash: c.headHash, signedAt: c.signedAt.toISOString(), keyId: c.keyId, signature: c.signature })}\n`;
      }
    }
  }
  const iterator = lines();
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await iterator.next();
      if (done) controller.close();
      else controller.enqueue(encoder.encode(value));
    },
    async cancel() {
      await iterator.return(undefined);
    },
  });
  const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-");
  return { stream, filename: `audit-${stamp}.${input.format}`, contentType: input.format === "ndjson" ? "application/x-ndjson" : "text/csv; charset=utf-8" };
}

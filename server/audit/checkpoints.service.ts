import "server-only";
import { desc, eq, isNull, sql } from "drizzle-orm";
import { getDb, type DbOrTx } from "~/db/client";
import { auditCheckpoints, auditEvents } from "~/db/schema";
import type { Actor, RequestMeta } from "./actor";
import { chainHead, mutate } from "./mutate";
import { AppError } from "~/server/errors";
import { signCheckpointPayload, signingKeysOrNull } from "./signing";

const chainWhere = (workspaceId: string | null) =>
  workspaceId ? eq(auditCheckpoints.workspaceId, workspaceId) : isNull(auditCheckpoints.workspaceId);

async function lastCheckpoint(db: DbOrTx, workspaceId: string | null) {
  const [cp] = await db.select().from(auditCheckpoints).where(chainWhere(workspaceId)).orderBy(desc(auditCheckpoints.seq)).limit(1);
  return cp ?? null;
}

/**
 * Signs the current head of a chain. The head is read under the chain's append lock, so
 * the checkpoint covers exactly the events before its own `audit.checkpoint_signed`
 * event. With `onlyIfChanged`, a chain with nothing new since its last checkpoint is skipped.
 */
export async function signCheckpoint(actor: Actor, workspaceId: string | null, opts: { onlyIfChanged?: boolean } = {}, meta: RequestMeta = {}) {
  if (opts.onlyIfChanged) {
    const [head, last] = await Promise.all([chainHead(getDb(), workspaceId), lastCheckpoint(getDb(), workspaceId)]);
    // The event right after a checkpoint is the checkpoint's own record.
    if (head.seq === 0 || (last && head.seq <= last.seq + 1)) return null;
  }
  return mutate(
    actor,
    async (tx, audit) => {
      await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${"audit:" + (workspaceId ?? "instance")}, 0))`);
      const head = await chainHead(tx, workspaceId);
      const signed = signCheckpointPayload({ workspaceId, seq: head.seq, headHash: head.hash, signedAt: new Date(Math.floor(Date.now())) });
      const [row] = await tx
        .insert(auditCheckpoints)
        .values({ workspaceId, seq: signed.seq, headHash: signed.headHash, signedAt: new Date(signed.signedAt), keyId: signed.keyId, signature: signed.signature })
        .returning();
      audit({
        action: "audit.checkpoint_signed",
        target: { type: "audit_checkpoint", id: row!.id },
        workspaceId,
        metadata: { seq: signed.seq, headHash: signed.headHash, keyId: signed.keyId },
      });
      return row!;
    },
    meta,
  );
}

/** For the scheduled job: every chain with events since its last checkpoint. */
export async function signAllChangedChains(actor: Actor) {
  const chains = await getDb().selectDistinct({ workspaceId: auditEvents.workspaceId }).from(auditEvents);
  let signed = 0;
  for (const c of chains) if (await signCheckpoint(actor, c.workspaceId, { onlyIfChanged: true })) signed++;
  return { chains: chains.length, signed };
}

export async function listCheckpoints(workspaceId: string, limit = 100) {
  return getDb().select().from(auditCheckpoints).where(chainWhere(workspaceId)).orderBy(desc(auditCheckpoints.seq)).limit(limit);
}

export function publicKeyInfo() {
  const k = signingKeysOrNull();
  if (!k) throw new AppError("PRECONDITION_FAILED", "No audit signing key is configured: set AUDIT_SIGNING_KEY or AUDIT_SIGNING_KEY_FILE.");
  return { keyId: k.keyId, publicKeyPem: k.publicKeyPem, algorithm: "Ed25519" };
}

export async function allCheckpoints(workspaceId: string | null) {
  return getDb().select().from(auditCheckpoints).where(chainWhere(workspaceId)).orderBy(auditCheckpoints.seq);
}


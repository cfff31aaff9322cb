import "server-only";
import { and, asc, desc, eq, gt, inArray, isNull, lte } from "drizzle-orm";
import { getDb, type DbOrTx, type Tx } from "~/db/client";
import { auditCheckpoints, auditEvents, memberships, users, webhooks, workspaces, type AuditCheckpointRow } from "~/db/schema";
import { AppError } from "~/server/errors";
import { enqueue } from "~/server/jobs/enqueue";
import { webhookDeliver } from "~/server/jobs/definitions";
import { deliver, notifyTx } from "~/server/reviews/notifications.service";
import type { Actor, RequestMeta } from "./actor";
import { findChainBreak, GENESIS_HASH } from "./chain";
import { chainHead, lockChainHead, mutate } from "./mutate";
import { getPublished, listPublished, publishCheckpoint } from "./publish";
import { signCheckpointPayload, signingKeysOrNull, verificationKeyMap, verificationKeys } from "./signing";
import { checkCheckpointSignature, checkEventSignatures, checkpointSignatureProblem, type Problem } from "./verify";

const chainWhere = (workspaceId: string | null) => (workspaceId ? eq(auditCheckpoints.workspaceId, workspaceId) : isNull(auditCheckpoints.workspaceId));
const eventChain = (workspaceId: string | null) => (workspaceId ? eq(auditEvents.workspaceId, workspaceId) : isNull(auditEvents.workspaceId));

async function lastCheckpoint(db: DbOrTx, workspaceId: string | null) {
  const [cp] = await db.select().from(auditCheckpoints).where(chainWhere(workspaceId)).orderBy(desc(auditCheckpoints.seq)).limit(1);
  return cp ?? null;
}

/** Thrown inside the signing transaction to roll it back: the chain does not verify. */
class SigningRefused extends Error {
  constructor(
    readonly problem: Problem,
    readonly since: number,
  ) {
    super(problem.reason);
  }
}

/**
 * Verifies a chain from its last checkpoint to `head` before anything signs it: no
 * checkpoint published outside the database is missing from it, the last checkpoint's
 * signature verifies (with the signing key or a retired one) and matches its published
 * copy, the event at its sequence number still has the signed hash, and every event
 * since hashes and links correctly. Without a checkpoint, from genesis.
 */
export async function verifySinceLastCheckpoint(
  db: DbOrTx,
  workspaceId: string | null,
  head: { seq: number; hash: string },
  batchSize = 5000,
): Promise<{ problem: Problem | null; since: number; checked: number; unpublished: AuditCheckpointRow | null }> {
  const last = await lastCheckpoint(db, workspaceId);
  const since = last?.seq ?? 0;
  const out = (problem: Problem | null, checked = 0, unpublished: AuditCheckpointRow | null = null) => ({ problem, since, checked, unpublished });
  // A published checkpoint newer than the database's last one: checkpoints were deleted to hide a rewrite.
  const [newer] = await listPublished(workspaceId, since);
  if (newer)
    return out({
      seq: newer.seq,
      reason: `the checkpoint of #${newer.seq} published at ${String(newer.signedAt)} is missing from the database (checkpoints were deleted)`,
    });
  let unpublished: AuditCheckpointRow | null = null;
  const keys = verificationKeyMap();
  // Events after a version 2 checkpoint are all signed. (Not "from the first signed event
  // on": during the rolling upgrade that introduced signatures, older processes still
  // append unsigned events between signed ones.)
  let requireSignedFrom: number | undefined;
  if (last) {
    const { problem: bad, version } = checkCheckpointSignature({ ...last, signedAt: last.signedAt.toISOString() }, keys);
    if (bad) return out(bad);
    if (version === 2) requireSignedFrom = last.seq + 1;
    const published = await getPublished(workspaceId, last.seq);
    if (!published) unpublished = last;
    else if (published.headHash !== last.headHash || published.signature !== last.signature) {
      return out({
        seq: last.seq,
        reason: `the checkpoint of #${last.seq} differs from the one published at ${String(published.signedAt)} (the checkpoints were rewritten)`,
      });
    }
    const [at] = await db
      .select({ hash: auditEvents.hash })
      .from(auditEvents)
      .where(and(eventChain(workspaceId), eq(auditEvents.seq, last.seq)));
    if (!at)
      return out({ seq: last.seq, reason: `event #${last.seq}, signed by the checkpoint of ${last.signedAt.toISOString()}, is missing (events were removed)` });
    if (at.hash !== last.headHash) {
      return out({
        seq: last.seq,
        reason: `event #${last.seq} no longer has the hash signed by the checkpoint of ${last.signedAt.toISOString()} (the chain was rewritten)`,
      });
    }
  }
  let start = last ? { seq: last.seq, hash: last.headHash } : { seq: 0, hash: GENESIS_HASH };
  let checked = 0;
  while (start.seq < head.seq) {
    const batch = await db
      .select()
      .from(auditEvents)
      .where(and(eventChain(workspaceId), gt(auditEvents.seq, start.seq), lte(auditEvents.seq, head.seq)))
      .orderBy(asc(auditEvents.seq))
      .limit(batchSize);
    // A rewritten, re-hashed event links and hashes correctly; only its signature gives it away.
    const broken = [findChainBreak(batch, start), checkEventSignatures(batch, keys, requireSignedFrom)]
      .filter((p): p is Problem => p !== null)
      .sort((a, b) => a.seq - b.seq)[0];
    if (broken) return out(broken, checked, unpublished);
    if (batch.length === 0)
      return out({ seq: start.seq + 1, reason: `event #${start.seq + 1} is missing (the chain's head is #${head.seq})` }, checked, unpublished);
    checked += batch.length;
    const lastRow = batch.at(-1)!;
    start = { seq: lastRow.seq, hash: lastRow.hash };
  }
  if (start.hash !== head.hash) return out({ seq: head.seq, reason: `event #${head.seq} changed while it was being verified` }, checked, unpublished);
  return out(null, checked, unpublished);
}

/**
 * The chain's head row records a later event than the table's last: events were removed
 * from the end (with the append-only triggers off), and the head row was not rewound.
 */
export function tailCut(last: { seq: number }, head: { seq: number }): Problem {
  return {
    seq: last.seq + 1,
    reason:
      last.seq + 1 === head.seq
        ? `event #${head.seq} was removed from the end (the chain's head records #${head.seq})`
        : `events #${last.seq + 1}–#${head.seq} were removed from the end (the chain's head records #${head.seq})`,
  };
}

/** In the caller's transaction: one delivery job per enabled webhook of the workspace. */
async function hooks(tx: Tx, workspaceId: string | null, event: string, payload: Record<string, unknown>) {
  if (!workspaceId) return; // webhooks belong to workspaces; the instance chain has none
  const list = await tx
    .select({ id: webhooks.id })
    .from(webhooks)
    .where(and(eq(webhooks.workspaceId, workspaceId), eq(webhooks.enabled, true)));
  for (const w of list) await enqueue(tx, webhookDeliver, { webhookId: w.id, event, payload });
}

/** After commit: publishes checkpoints to the artifact store. A failure is logged; the scheduled job publishes what is missing. */
async function publishAll(rows: (AuditCheckpointRow | null)[]) {
  for (const row of rows) {
    if (!row) continue;
    try {
      await publishCheckpoint(row);
    } catch (err) {
      console.error(`[audit] publishing the checkpoint of #${row.seq} (${row.workspaceId ?? "instance"}) failed; the next audit.checkpoint run retries:`, err);
    }
  }
}

/**
 * Signs the current head of a chain, after verifying the chain since its last
 * checkpoint (see verifySinceLastCheckpoint). On a mismatch nothing is signed: the
 * failure is recorded on the instance chain, the workspace's admins and owners are told,
 * webhooks get `audit.verification_failed`, and this throws PRECONDITION_FAILED. A signed
 * checkpoint is published to the artifact store and sent to webhooks as `audit.checkpoint`.
 * The head is read under the lock of the chain's head row, so the checkpoint covers exactly the
 * events before its own `audit.checkpoint_signed` event. With `onlyIfChanged`, a chain
 * with nothing new since its last checkpoint is skipped.
 */
export async function signCheckpoint(actor: Actor, workspaceId: string | null, opts: { onlyIfChanged?: boolean } = {}, meta: RequestMeta = {}) {
  if (opts.onlyIfChanged) {
    const [head, last] = await Promise.all([chainHead(getDb(), workspaceId), lastCheckpoint(getDb(), workspaceId)]);
    // The event right after a checkpoint is the checkpoint's own record.
    if (head.seq === 0 || (last && head.seq <= last.seq + 1)) return null;
  }
  let republish: AuditCheckpointRow | null = null;
  let row: AuditCheckpointRow;
  try {
    row = await mutate(
      actor,
      async (tx, audit) => {
        // The head row, locked until commit (appends wait), and the last event the table holds: they agree unless a tail was cut.
        const head = await lockChainHead(tx, workspaceId);
        const last = await chainHead(tx, workspaceId);
        const v =
          last.seq < head.seq
            ? { problem: tailCut(last, head), since: last.seq, checked: 0, unpublished: null }
            : await verifySinceLastCheckpoint(tx, workspaceId, head);
        if (v.problem) throw new SigningRefused(v.problem, v.since);
        republish = v.unpublished;
        const signed = signCheckpointPayload({ workspaceId, seq: head.seq, headHash: head.hash, signedAt: new Date(Math.floor(Date.now())) });
        const [inserted] = await tx
          .insert(auditCheckpoints)
          .values({
            workspaceId,
            seq: signed.seq,
            headHash: signed.headHash,
            signedAt: new Date(signed.signedAt),
            keyId: signed.keyId,
            signature: signed.signature,
          })
          .returning();
        audit({
          action: "audit.checkpoint_signed",
          target: { type: "audit_checkpoint", id: inserted!.id },
          workspaceId,
          // The whole signed checkpoint: a webhook subscribed to audit.checkpoint_signed gets what the
          // artifact store publishes, and can anchor it outside Steward.
          metadata: {
            seq: signed.seq,
            headHash: signed.headHash,
            keyId: signed.keyId,
            signedAt: new Date(signed.signedAt).toISOString(),
            signature: signed.signature,
            verifiedFrom: v.since,
            verifiedEvents: v.checked,
          },
        });
        return inserted!;
      },
      meta,
    );
  } catch (err) {
    if (!(err instanceof SigningRefused)) throw err;
    await recordVerificationFailure(actor, workspaceId, err.problem, err.since, meta);
    throw new AppError(
      "PRECONDITION_FAILED",
      `The audit chain does not verify since its last checkpoint, so nothing was signed: ${err.problem.reason}. The workspace's admins and owners have been alerted.`,
      { cause: err },
    );
  }
  await publishAll([republish, row]);
  return row;
}

/**
 * Records a refused signing. The record goes on the instance chain, not on the broken
 * workspace chain: whoever rewrote that chain could drop its newest, uncheckpointed event
 * unnoticed, whereas the instance chain is checkpointed (and published) right after.
 * The workspace's admins and owners and the instance administrators are told (inbox, and
 * e-mail with SMTP), the workspace's webhooks get an event: people outside the database. The same
 * failure is recorded and alerted once, however often the job retries.
 */
async function recordVerificationFailure(actor: Actor, workspaceId: string | null, problem: Problem, since: number, meta: RequestMeta) {
  const chain = workspaceId ?? "instance";
  const [prev] = await getDb()
    .select({ metadata: auditEvents.metadata })
    .from(auditEvents)
    .where(
      and(
        isNull(auditEvents.workspaceId),
        eq(auditEvents.action, "audit.verification_failed"),
        eq(auditEvents.targetType, "audit_chain"),
        eq(auditEvents.targetId, chain),
      ),
    )
    .orderBy(desc(auditEvents.seq))
    .limit(1);
  if (prev?.metadata?.firstBadSeq === problem.seq && prev.metadata.reason === problem.reason) return;
  const rows = await mutate(
    actor,
    async (tx, audit) => {
      audit({
        action: "audit.verification_failed",
        target: { type: "audit_chain", id: chain },
        workspaceId: null,
        metadata: { workspaceId, firstBadSeq: problem.seq, reason: problem.reason, lastCheckpointSeq: since, refused: "checkpoint" },
      });
      // Whoever can rewrite the database is an instance-level threat: instance administrators hear of every chain.
      const admins = await tx
        .select({ id: users.id })
        .from(users)
        .where(and(eq(users.instanceAdmin, true), isNull(users.deactivatedAt)));
      const note = (userId: string, link?: string) => ({
        userId,
        workspaceId,
        kind: "alert" as const,
        title: `Audit chain verification failed at event #${problem.seq}: no checkpoint was signed`,
        body: `${workspaceId ? "A workspace's" : "The instance"} audit chain: ${problem.reason}. It was checked from its last signed checkpoint (#${since}). Export the trail and verify it against the published checkpoints (steward audit verify --published) to see what changed.`,
        link,
        actorLabel: "Steward",
      });
      if (!workspaceId)
        return notifyTx(
          tx,
          admins.map((a) => note(a.id)),
        );
      const [ws] = await tx.select({ slug: workspaces.slug }).from(workspaces).where(eq(workspaces.id, workspaceId));
      const link = ws ? `/w/${ws.slug}/governance/audit` : undefined;
      const payload = { workspaceId, firstBadSeq: problem.seq, reason: problem.reason, lastCheckpointSeq: since, at: new Date().toISOString(), link };
      await hooks(tx, workspaceId, `audit.verification_failed:${workspaceId}:${problem.seq}:${Date.now()}`, payload);
      const people = await tx
        .select({ id: memberships.userId })
        .from(memberships)
        .where(and(eq(memberships.workspaceId, workspaceId), inArray(memberships.role, ["admin", "owner"])));
      const members = new Set(people.map((p) => p.id));
      return notifyTx(tx, [...people.map((p) => note(p.id, link)), ...admins.filter((a) => !members.has(a.id)).map((a) => note(a.id))]);
    },
    meta,
  );
  deliver(rows);
  console.error(`[audit] refused to sign the ${chain} chain: ${problem.reason} (event #${problem.seq})`);
  // Anchor the record outside the database at once: a checkpoint of the instance chain, published.
  if (workspaceId) {
    await signCheckpoint({ type: "system", job: "audit.checkpoint" }, null).catch((err: unknown) =>
      console.error("[audit] could not checkpoint the instance chain after a verification failure:", err),
    );
  }
}

/** For the scheduled job: every chain with events since its last checkpoint; a chain that does not verify is refused (and alerted) without stopping the others. */
export async function signAllChangedChains(actor: Actor) {
  const chains = await getDb().selectDistinct({ workspaceId: auditEvents.workspaceId }).from(auditEvents);
  let signed = 0;
  let refused = 0;
  for (const c of chains) {
    try {
      if (await signCheckpoint(actor, c.workspaceId, { onlyIfChanged: true })) signed++;
    } catch (err) {
      if (!(err instanceof AppError && err.code === "PRECONDITION_FAILED")) throw err;
      refused++;
    }
  }
  const republished = await publishMissing(chains.map((c) => c.workspaceId));
  return { chains: chains.length, signed, refused, republished };
}

/** Publishes each chain's last checkpoint if the store does not have it (a publish that failed after commit). */
async function publishMissing(chains: (string | null)[]) {
  let n = 0;
  for (const workspaceId of chains) {
    const last = await lastCheckpoint(getDb(), workspaceId);
    if (!last || (await getPublished(workspaceId, last.seq))) continue;
    if (checkpointSignatureProblem({ ...last, signedAt: last.signedAt.toISOString() }, verificationKeyMap())) continue; // never publish what does not verify
    await publishCheckpoint(last);
    n++;
  }
  return n;
}

export async function listCheckpoints(workspaceId: string, limit = 100) {
  return getDb().select().from(auditCheckpoints).where(chainWhere(workspaceId)).orderBy(desc(auditCheckpoints.seq)).limit(limit);
}

/** The checkpoints of a workspace's chain as published in the artifact store (not the database), newest first, with every key that verifies them. */
export async function publishedCheckpoints(workspaceId: string, limit = 1000) {
  const all = await listPublished(workspaceId);
  return { keys: publicKeys(), checkpoints: all.reverse().slice(0, limit) };
}

export function publicKeyInfo() {
  const k = signingKeysOrNull();
  if (!k) throw new AppError("PRECONDITION_FAILED", "No audit signing key is configured: set AUDIT_SIGNING_KEY or AUDIT_SIGNING_KEY_FILE.");
  return { keyId: k.keyId, publicKeyPem: k.publicKeyPem, algorithm: "Ed25519", keys: publicKeys() };
}

/** Every key that verifies checkpoints: the signing key first, then retired (or upcoming) ones. */
export function publicKeys() {
  return [...verificationKeys().values()]
    .sort((a, b) => Number(b.active) - Number(a.active))
    .map((k) => ({ keyId: k.keyId, publicKeyPem: k.publicKeyPem, algorithm: "Ed25519" as const, signs: k.active }));
}

export async function allCheckpoints(workspaceId: string | null) {
  return getDb().select().from(auditCheckpoints).where(chainWhere(workspaceId)).orderBy(auditCheckpoints.seq);
}

import "server-only";
import { and, asc, desc, eq, gt, gte, ilike, inArray, isNull, lt, lte, or, sql, type SQL } from "drizzle-orm";
import { getDb } from "~/db/client";
import { auditChainHeads, auditEvents, users } from "~/db/schema";
import type { RequestMeta, WorkspaceActor } from "./actor";
import { ListAuditInput } from "~/server/shared/audit.schema";
import { findChainBreak, GENESIS_HASH } from "./chain";
import { allCheckpoints, tailCut } from "./checkpoints.service";
import { mutate } from "./mutate";
import { listPublished } from "./publish";
import { verificationKeyMap } from "./signing";
import { checkCheckpoints, checkCheckpointSignature, checkEventSignatures, checkPublished, type PublishedCheckpoint } from "./verify";

export type AuditEventDto = {
  id: string;
  seq: number;
  occurredAt: Date;
  actorType: string;
  actorId: string | null;
  actorLabel: string | null;
  /** The person's name now, where the actor is a user (the label is what the event recorded). */
  actorName: string | null;
  action: string;
  targetType: string;
  targetId: string | null;
  changes: Record<string, [unknown, unknown]> | null;
  metadata: Record<string, unknown> | null;
  requestId: string | null;
  hash: string;
};

export type AuditFilters = { actor?: string; action?: string; targetType?: string; targetId?: string; q?: string; from?: Date; to?: Date };

/**
 * What the free-text filter searches: action, actor, target id, metadata and changes as one
 * text — the same expression as the trigram index of migration 0024 (audit_events_search_trgm_idx),
 * so ILIKE '%…%' is answered from the index. Keep the two identical.
 */
const AUDIT_SEARCH_TEXT = sql`(${auditEvents.action} || ' ' || ${auditEvents.actorLabel} || ' ' || coalesce(${auditEvents.targetId}, '') || ' ' || coalesce(${auditEvents.metadata}::text, '') || ' ' || coalesce(${auditEvents.changes}::text, ''))`;

/** The WHERE clauses for a workspace's trail under the explorer's filters (shared with export). */
export function auditFilters(workspaceId: string, input: AuditFilters): (SQL | undefined)[] {
  const where: (SQL | undefined)[] = [eq(auditEvents.workspaceId, workspaceId)];
  if (input.actor) {
    where.push(or(ilike(auditEvents.actorLabel, `%${escapeLike(input.actor)}%`), eq(auditEvents.actorId, input.actor)));
  }
  if (input.action) where.push(eq(auditEvents.action, input.action));
  if (input.targetType) where.push(eq(auditEvents.targetType, input.targetType));
  if (input.targetId) where.push(eq(auditEvents.targetId, input.targetId));
  if (input.q) where.push(sql`${AUDIT_SEARCH_TEXT} ilike ${`%${escapeLike(input.q)}%`}`);
  if (input.from) where.push(gte(auditEvents.occurredAt, input.from));
  if (input.to) where.push(lte(auditEvents.occurredAt, input.to));
  return where;
}

/** How far the time-to-seq probes reach beyond a range (events appended before times were kept in order). */
const TIME_MARGIN_MS = 5 * 60_000;

/**
 * The first event at or after `at` (edge "first", less the margin) or the last one at or
 * before it ("last", plus the margin): one step of an index-only scan.
 */
export function timeProbe(workspaceId: string, edge: "first" | "last", at: Date) {
  return (
    getDb()
      .select({ seq: auditEvents.seq })
      .from(auditEvents)
      .where(
        and(
          eq(auditEvents.workspaceId, workspaceId),
          edge === "first"
            ? gte(auditEvents.occurredAt, new Date(at.getTime() - TIME_MARGIN_MS))
            : lte(auditEvents.occurredAt, new Date(at.getTime() + TIME_MARGIN_MS)),
        ),
      )
      // Events of the same millisecond: the lowest seq first, the highest last. The NULLS clauses
      // match audit_events_workspace_time_idx (occurred_at DESC NULLS LAST, seq DESC NULLS LAST)
      // exactly, so each probe is one step of an index scan, not a sort of the range.
      .orderBy(
        ...(edge === "first"
          ? [sql`${auditEvents.occurredAt} asc nulls first`, sql`${auditEvents.seq} asc nulls first`]
          : [sql`${auditEvents.occurredAt} desc nulls last`, sql`${auditEvents.seq} desc nulls last`]),
      )
      .limit(1)
  );
}

/** Newest first, keyset-paginated by seq, filtered by actor (e-mail or id), action and time. */
export async function listAuditEvents(actor: WorkspaceActor, raw: ListAuditInput, onlyActions?: readonly string[]) {
  const input = ListAuditInput.parse(raw);
  const where = auditFilters(actor.workspaceId, input);
  if (onlyActions) where.push(inArray(auditEvents.action, [...onlyActions]));
  if (input.from || input.to) {
    // Along a chain time never goes backwards (mutate() appends no event earlier than the one
    // before), so the time range is a seq range found with two index probes, and the page walks
    // the (workspace, seq) index instead of sorting every event in the range. The probes reach
    // TIME_MARGIN_MS further out for events appended before that rule; the time filter above
    // still applies to each row.
    const probe = (edge: "first" | "last", at: Date) => timeProbe(actor.workspaceId, edge, at);
    const [[lo], [hi]] = await Promise.all([input.from ? probe("first", input.from) : [undefined], input.to ? probe("last", input.to) : [undefined]]);
    if ((input.from && !lo) || (input.to && !hi) || (lo && hi && lo.seq > hi.seq)) return { items: [], nextCursor: null };
    if (lo) where.push(gte(auditEvents.seq, lo.seq));
    if (hi) where.push(lte(auditEvents.seq, hi.seq));
  }
  if (input.cursor) where.push(lt(auditEvents.seq, input.cursor));
  const rows: AuditEventDto[] = await getDb()
    .select({
      id: auditEvents.id,
      seq: auditEvents.seq,
      occurredAt: auditEvents.occurredAt,
      actorType: auditEvents.actorType,
      actorId: auditEvents.actorId,
      actorLabel: auditEvents.actorLabel,
      /** The person's name now (the label is what the event recorded: their e-mail). */
      actorName: users.name,
      action: auditEvents.action,
      targetType: auditEvents.targetType,
      targetId: auditEvents.targetId,
      changes: auditEvents.changes,
      metadata: auditEvents.metadata,
      requestId: auditEvents.requestId,
      hash: auditEvents.hash,
    })
    .from(auditEvents)
    .leftJoin(users, and(eq(auditEvents.actorType, "user"), sql`${users.id}::text = ${auditEvents.actorId}`))
    .where(and(...where))
    .orderBy(desc(auditEvents.seq))
    .limit(input.limit + 1);
  const hasMore = rows.length > input.limit;
  const items = hasMore ? rows.slice(0, input.limit) : rows;
  return { items, nextCursor: hasMore ? items[items.length - 1]!.seq : null };
}

function escapeLike(s: string) {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

export type VerifyResult =
  | { intact: true; checked: number; headSeq: number; headHash: string; checkpoints: number }
  | { intact: false; checked: number; firstBadSeq: number; reason: string };

/**
 * Recomputes a chain from genesis in batches and checks it against its signed
 * checkpoints and against the copies published outside the database, which also catches
 * a cut tail, a chain rebuilt from scratch, or checkpoints deleted to hide a rewrite.
 */
export async function verifyChain(workspaceId: string | null, batchSize = 5000): Promise<VerifyResult> {
  const db = getDb();
  const checkpoints = await allCheckpoints(workspaceId);
  let published: PublishedCheckpoint[] | null = null;
  try {
    published = await listPublished(workspaceId);
  } catch (err) {
    console.error("[audit] the published checkpoints could not be read; verifying against the database's own:", err);
  }
  const wanted = new Set([...checkpoints.map((c) => c.seq), ...(published ?? []).map((c) => c.seq)]);
  const hashes = new Map<number, string>();
  // Without a configured key, links are still checked; signatures are not.
  const ring = verificationKeyMap();
  const keys = ring.size ? ring : null;
  const signed = checkpoints.map((c) => ({ ...c, signedAt: c.signedAt.toISOString() }));
  const v2 = signed.filter((c) => checkCheckpointSignature(c, keys).version === 2).map((c) => c.seq);
  const requireSignedFrom = v2.length ? Math.min(...v2) + 1 : undefined;
  const lastCheckpointSeq = Math.max(0, ...signed.map((c) => c.seq));
  // The head row, read before the walk: appends during it only move the table past it.
  const [recorded] = await db
    .select({ seq: auditChainHeads.seq, hash: auditChainHeads.hash })
    .from(auditChainHeads)
    .where(eq(auditChainHeads.chain, workspaceId ?? "instance"));
  if (recorded) wanted.add(recorded.seq);
  let after = 0;
  let start = { seq: 0, hash: GENESIS_HASH };
  let checked = 0;
  for (;;) {
    const batch = await db
      .select()
      .from(auditEvents)
      .where(and(workspaceId ? eq(auditEvents.workspaceId, workspaceId) : isNull(auditEvents.workspaceId), gt(auditEvents.seq, after)))
      .orderBy(asc(auditEvents.seq))
      .limit(batchSize);
    if (batch.length === 0) break;
    // Events up to the last checkpoint are authenticated by it (their hashes chain to a signed head); their own signatures matter only after it.
    const uncovered = batch.filter((e) => e.seq > lastCheckpointSeq);
    const broken = [findChainBreak(batch, start), checkEventSignatures(uncovered, keys, requireSignedFrom)]
      .filter((p) => p !== null)
      .sort((a, b) => a.seq - b.seq)[0];
    if (broken) {
      // A gap or duplicate at the batch seam is reported the same way as within a batch.
      return { intact: false, checked: checked + Math.max(0, broken.seq - start.seq - 1), firstBadSeq: broken.seq, reason: broken.reason };
    }
    checked += batch.length;
    for (const e of batch) if (wanted.has(e.seq)) hashes.set(e.seq, e.hash);
    const last = batch[batch.length - 1]!;
    start = { seq: last.seq, hash: last.hash };
    after = last.seq;
  }
  const cps = checkCheckpoints(signed, (seq) => hashes.get(seq), start.seq, keys);
  if (cps.problem) return { intact: false, checked, firstBadSeq: cps.problem.seq, reason: cps.problem.reason };
  if (published) {
    const pub = checkPublished(published, { workspaceId, hashAt: (seq) => hashes.get(seq), lastSeq: start.seq, checkpoints: signed, keys });
    if (pub.problem) return { intact: false, checked, firstBadSeq: pub.problem.seq, reason: pub.problem.reason };
  }
  if (recorded && recorded.seq > start.seq) {
    const cut = tailCut(start, recorded);
    return { intact: false, checked, firstBadSeq: cut.seq, reason: cut.reason };
  }
  if (recorded && recorded.seq > 0 && hashes.get(recorded.seq) !== recorded.hash)
    return {
      intact: false,
      checked,
      firstBadSeq: recorded.seq,
      reason: `event #${recorded.seq} is not the one the chain's head records (the chain was rewritten)`,
    };
  return { intact: true, checked, headSeq: start.seq, headHash: start.hash, checkpoints: cps.verified };
}

/** Verifies the workspace's chain and records who verified it and what they found. */
export async function verifyWorkspaceChain(actor: WorkspaceActor, meta: RequestMeta = {}) {
  const result = await verifyChain(actor.workspaceId);
  await mutate(
    actor,
    async (_tx, audit) =>
      audit({
        action: "audit.verified",
        target: { type: "workspace", id: actor.workspaceId },
        metadata: result.intact
          ? { intact: true, checked: result.checked, headSeq: result.headSeq, checkpoints: result.checkpoints }
          : { intact: false, firstBadSeq: result.firstBadSeq, reason: result.reason },
      }),
    meta,
  );
  return result;
}

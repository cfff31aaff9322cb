import "server-only";
import { randomUUID } from "node:crypto";
import { desc, eq, isNull } from "drizzle-orm";
import { getDb, type DbOrTx, type Tx } from "~/db/client";
import { auditEvents } from "~/db/schema";
import { publish } from "~/server/realtime/publish";
import type { AuditAction } from "~/server/shared/audit-actions";
import type { Actor, RequestMeta } from "./actor";
import { GENESIS_HASH, hashEvent } from "./chain";
import { signEventHash } from "./signing";
import { lock, LOCKS } from "~/server/platform/locks";
import { enqueueWebhookDeliveries, type AppendedEvent } from "~/server/monitoring/webhooks.dispatch";

export type AuditInput = {
  action: AuditAction;
  target: { type: string; id?: string | null };
  /** field → [before, after]. Never secrets. */
  changes?: Record<string, [unknown, unknown]>;
  metadata?: Record<string, unknown>;
  /** Defaults to the actor's workspace; null writes to the instance chain. */
  workspaceId?: string | null;
};

export type AuditFn = (event: AuditInput) => void;

function actorFields(actor: Actor) {
  switch (actor.type) {
    case "user":
      return { actorType: "user" as const, actorId: actor.userId, actorLabel: actor.email };
    case "system":
      return { actorType: "system" as const, actorId: actor.job, actorLabel: actor.job };
    case "anonymous":
      return { actorType: "anonymous" as const, actorId: null, actorLabel: actor.label ?? null };
  }
}

function defaultWorkspace(actor: Actor): string | null {
  return "workspaceId" in actor && actor.workspaceId ? actor.workspaceId : null;
}

/**
 * Appends events to their chains inside `tx`. Appends to one chain are serialised by a
 * transaction-scoped advisory lock, taken before reading the head, so concurrent
 * transactions can neither fork nor gap the chain (a rollback releases the lock
 * without having used the sequence number).
 */
async function appendAuditEvents(tx: Tx, actor: Actor, events: AuditInput[], meta: RequestMeta = {}) {
  const byChain = new Map<string | null, AuditInput[]>();
  for (const e of events) {
    const ws = e.workspaceId === undefined ? defaultWorkspace(actor) : e.workspaceId;
    byChain.set(ws, [...(byChain.get(ws) ?? []), e]);
  }
  // Lock chains in a stable order so two transactions touching the same chains cannot deadlock.
  const chains = [...byChain.keys()].sort((a, b) => (a ?? "").localeCompare(b ?? ""));
  const appended: AppendedEvent[] = [];
  for (const workspaceId of chains) {
    await lock(tx, LOCKS.auditChain(workspaceId));
    const head = await chainHead(tx, workspaceId);
    let seq = head.seq;
    let prevHash = head.hash;
    const rows = [];
    for (const e of byChain.get(workspaceId)!) {
      seq += 1;
      const fields = {
        workspaceId,
        seq,
        prevHash,
        occurredAt: new Date(),
        ...actorFields(actor),
        action: e.action,
        targetType: e.target.type,
        targetId: e.target.id ?? null,
        changes: e.changes ?? null,
        metadata: e.metadata ?? null,
        requestId: meta.requestId ?? null,
      };
      const hash = hashEvent(fields);
      // Signed with a key the database does not hold: events after the last checkpoint cannot be rewritten and re-hashed unnoticed.
      const id = randomUUID();
      rows.push({ id, ...fields, hash, ...signEventHash(hash) });
      prevHash = hash;
      appended.push({ id, ...fields, hash });
    }
    await tx.insert(auditEvents).values(rows);
  }
  return appended;
}

export type MutateOptions = {
  /**
   * Housekeeping that may find nothing worth recording (a retention pass with nothing old
   * enough, a webhook delivery that is telemetry unless it switches the webhook off): the
   * transaction commits without an event. Every change of governed state still records one.
   */
  eventOptional?: boolean;
};

/**
 * The only way to change state: runs `fn` in one transaction, appends the audit events
 * it recorded before commit, and after commit tells every browser in the affected
 * workspaces that something happened. Throws if `fn` recorded no event (unless
 * `eventOptional`). `appendAuditEvents` is private: there is no other way to write an event.
 */
export async function mutate<T>(actor: Actor, fn: (tx: Tx, audit: AuditFn) => Promise<T>, meta: RequestMeta = {}, options: MutateOptions = {}): Promise<T> {
  let appended: AppendedEvent[] = [];
  const result = await getDb().transaction(async (tx) => {
    const events: AuditInput[] = [];
    const value = await fn(tx, (e) => events.push(e));
    if (events.length === 0 && !options.eventOptional) throw new Error("mutate(): the mutation recorded no audit event");
    appended = events.length ? await appendAuditEvents(tx, actor, events, meta) : [];
    // Webhook deliveries owed for these events, in the same transaction (one query when no webhook is set up).
    if (appended.length) await enqueueWebhookDeliveries(tx, appended);
    return value;
  });
  const workspaces = new Set(appended.map((a) => a.workspaceId).filter((w): w is string => !!w));
  for (const workspaceId of workspaces) {
    const seq = Math.max(...appended.filter((a) => a.workspaceId === workspaceId).map((a) => a.seq));
    publish.toWorkspace(workspaceId, "audit.appended", { workspaceId, seq });
  }
  return result;
}

/** Reads the head of a chain (seq 0 when empty). */
export async function chainHead(tx: DbOrTx, workspaceId: string | null) {
  const [head] = await tx
    .select({ seq: auditEvents.seq, hash: auditEvents.hash })
    .from(auditEvents)
    .where(workspaceId ? eq(auditEvents.workspaceId, workspaceId) : isNull(auditEvents.workspaceId))
    .orderBy(desc(auditEvents.seq))
    .limit(1);
  return head ?? { seq: 0, hash: GENESIS_HASH };
}

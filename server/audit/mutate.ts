import "server-only";
import { randomUUID } from "node:crypto";
import { desc, eq, isNull, sql } from "drizzle-orm";
import { getDb, type DbOrTx, type Tx } from "~/db/client";
import { auditEvents } from "~/db/schema";
import { publish } from "~/server/realtime/publish";
import type { AuditAction } from "~/server/shared/audit-actions";
import type { Actor, RequestMeta } from "./actor";
import { GENESIS_HASH, hashEvent } from "./chain";
import { signEventHash } from "./signing";
import { enqueueWebhookDeliveries, type AppendedEvent, type Hook } from "~/server/monitoring/webhooks.dispatch";

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

/** A chain's head: its last event's seq, hash and time (ms; 0 for an empty chain). */
/** The columns an append writes: the keys of each row it sends, as audit_events names them. */
const EVENT_COLUMNS = sql.raw(
  "id, workspace_id, seq, prev_hash, hash, occurred_at, actor_type, actor_id, actor_label, action, target_type, target_id, changes, metadata, request_id, signature, key_id",
);

type Head = { seq: number; hash: string; at: number };

/** The chain's key in audit_chain_heads: the workspace id, or "instance". */
const chainKey = (workspaceId: string | null) => workspaceId ?? "instance";

/**
 * Heads this process saw committed, by chain. Only a guess: the append statement advances
 * the head row only if it still holds this head, and when another process (or a
 * transaction that has not committed yet) moved it, the head is read again under its lock.
 */
const knownHeads = new Map<string, Head>();
/** Heads locked by a transaction (a checkpoint reads the head it signs this way): exact until it ends. */
const lockedHeads = new WeakMap<Tx, Map<string, Head>>();

/**
 * Turns per chain within this process. A transaction appending to a chain waits for its turn
 * here, before touching the head row, while another transaction of this process appends to
 * the same chain; it then starts from the head that one committed. Without this, concurrent
 * appenders of one process would all try the same head, queue on the row lock and, but for
 * one, fail and start again. Taken in chain order, at the end of the transaction (or by a
 * checkpoint before it reads the head), released when the transaction has ended.
 *
 * The wait is bounded (TURN_WAIT_MS): a turn is only an optimisation, correctness rests on
 * the guarded UPDATE. A holder can be blocked in the database by the very transaction waiting
 * here (it holds a row lock the holder's foreign-key check needs, say a webhook it is
 * updating); Postgres cannot see a wait in JS, so after the bound the waiter goes on to the
 * head row, where Postgres sees the cycle and breaks it, as with any lock.
 */
const turns = new Map<string, Promise<void>>();
/** The turns a mutate() transaction holds: chain → release. */
const heldTurns = new WeakMap<Tx, Map<string, () => void>>();

async function takeTurn(tx: Tx, key: string) {
  const held = heldTurns.get(tx);
  // Outside mutate() there is no end of the transaction to release at: the row lock alone serialises.
  if (!held || held.has(key)) return;
  const waiting = turns.get(key);
  const before = waiting ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((resolve) => (release = resolve));
  const tail = before.then(() => mine);
  turns.set(key, tail);
  held.set(key, () => {
    release();
    if (turns.get(key) === tail) turns.delete(key);
  });
  // Nobody ahead (the common case): no wait and no timer.
  if (!waiting) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([waiting, new Promise<void>((resolve) => (timer = setTimeout(resolve, TURN_WAIT_MS)))]);
  clearTimeout(timer);
}

/** How long a transaction waits for its turn in this process before it goes on to the head row's lock. */
const TURN_WAIT_MS = 250;

/**
 * Locks a chain's head row for the rest of `tx` and reads it; creates it (seq 0) for a new
 * chain. Appends to the chain from other transactions wait until `tx` ends.
 */
export async function lockChainHead(tx: Tx, workspaceId: string | null): Promise<Head> {
  const key = chainKey(workspaceId);
  const held = lockedHeads.get(tx)?.get(key);
  if (held) return held;
  await takeTurn(tx, key);
  const [row] = await tx.execute<{ seq: string | number; hash: string; at: string | null }>(sql`
    insert into audit_chain_heads (chain, workspace_id, seq, hash) values (${key}, ${workspaceId}, 0, ${GENESIS_HASH})
    on conflict (chain) do update set seq = audit_chain_heads.seq
    returning seq, hash, occurred_at as at`);
  let head: Head = { seq: Number(row!.seq), hash: row!.hash, at: row!.at ? new Date(row!.at).getTime() : 0 };
  // The table ahead of its head row: events appended by a process older than the head row
  // (during a rolling upgrade). The row catches up; a table behind it (a cut tail) stays as
  // evidence for verification.
  const last = await chainHead(tx, workspaceId);
  if (last.seq > head.seq) {
    console.warn(`[audit] the head row of chain ${key} was at #${head.seq}, the chain at #${last.seq}: moved forward`);
    await tx.execute(
      sql`update audit_chain_heads set seq = ${last.seq}, hash = ${last.hash}, occurred_at = ${new Date(last.at).toISOString()} where chain = ${key}`,
    );
    head = last;
  }
  if (!lockedHeads.has(tx)) lockedHeads.set(tx, new Map());
  lockedHeads.get(tx)!.set(key, head);
  return head;
}

/**
 * Appends events to their chains inside `tx`, one statement per chain: it advances the
 * chain's head row from the head the events were hashed on to their last one, inserts the
 * events only if that succeeded, and reads the workspace's webhooks. The head row's lock
 * (held until commit) serialises appends to one chain, so concurrent transactions can
 * neither fork nor gap it, and a rollback undoes the head with the events. When the head
 * was not the one expected, it is read again under its lock and the events re-hashed.
 */
async function appendAuditEvents(tx: Tx, actor: Actor, events: AuditInput[], meta: RequestMeta = {}) {
  const byChain = new Map<string | null, AuditInput[]>();
  for (const e of events) {
    const ws = e.workspaceId === undefined ? defaultWorkspace(actor) : e.workspaceId;
    byChain.set(ws, [...(byChain.get(ws) ?? []), e]);
  }
  // Chains in a stable order so two transactions touching the same chains cannot deadlock.
  const chains = [...byChain.keys()].sort((a, b) => (chainKey(a) < chainKey(b) ? -1 : chainKey(a) > chainKey(b) ? 1 : 0));
  const appended: AppendedEvent[] = [];
  const hooks: Hook[] = [];
  const heads: [string, Head][] = [];
  for (const workspaceId of chains) {
    const key = chainKey(workspaceId);
    await takeTurn(tx, key);
    let head = lockedHeads.get(tx)?.get(key) ?? knownHeads.get(key) ?? (await lockChainHead(tx, workspaceId));
    for (;;) {
      // Never earlier than the event before: along a chain time only moves forward, so the
      // explorer maps a time range to a seq range with two index probes.
      const occurredAt = new Date(Math.max(Date.now(), head.at));
      const chained: AppendedEvent[] = [];
      const rows: Record<string, unknown>[] = [];
      let seq = head.seq;
      let prevHash = head.hash;
      for (const e of byChain.get(workspaceId)!) {
        seq += 1;
        const fields = {
          workspaceId,
          seq,
          prevHash,
          occurredAt,
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
        const signed = signEventHash(hash);
        const id = randomUUID();
        rows.push({
          id,
          workspace_id: workspaceId,
          seq,
          prev_hash: prevHash,
          hash,
          occurred_at: occurredAt.toISOString(),
          actor_type: fields.actorType,
          actor_id: fields.actorId,
          actor_label: fields.actorLabel,
          action: fields.action,
          target_type: fields.targetType,
          target_id: fields.targetId,
          changes: fields.changes,
          metadata: fields.metadata,
          request_id: fields.requestId,
          signature: signed?.signature ?? null,
          key_id: signed?.keyId ?? null,
        });
        chained.push({ id, ...fields, hash });
        prevHash = hash;
      }
      const next: Head = { seq, hash: prevHash, at: occurredAt.getTime() };
      const [r] = await tx.execute<{ n: number; moved: number; hooks: Hook[] | null }>(sql`
        with head as (
          update audit_chain_heads set seq = ${next.seq}, hash = ${next.hash}, occurred_at = ${occurredAt.toISOString()}
          where chain = ${key} and seq = ${head.seq} and hash = ${head.hash}
          returning 1
        ), ins as (
          insert into audit_events (${EVENT_COLUMNS})
          select ${EVENT_COLUMNS}
          from json_populate_recordset(null::audit_events, ${JSON.stringify(rows)}::json)
          where exists (select 1 from head)
          on conflict do nothing
          returning 1
        )
        select (select count(*) from ins)::int as n, (select count(*) from head)::int as moved,
               (select json_agg(json_build_object('id', w.id, 'workspaceId', w.workspace_id, 'slug', s.slug,
                                                  'events', w.events, 'models', w.models, 'deployments', w.deployments))
                from webhooks w join workspaces s on s.id = w.workspace_id
                where w.workspace_id = ${workspaceId} and w.enabled) as hooks`);
      if (r!.n === rows.length) {
        appended.push(...chained);
        hooks.push(...(r!.hooks ?? []));
        heads.push([key, next]);
        lockedHeads.get(tx)?.set(key, next);
        break;
      }
      knownHeads.delete(key);
      // The head row matched but a seq was already taken: the row lags the table (events from a
      // process older than the head row). Nothing of this transaction may stand; the next
      // append reads the head under its lock, where lockChainHead moves the row forward.
      if (r!.moved)
        throw new Error(
          `audit chain ${key}: event #${head.seq + 1} exists although the chain's head row records #${head.seq}; the row is repaired on the next append, retry`,
        );
      if (lockedHeads.get(tx)?.has(key)) throw new Error(`audit chain ${key}: the locked head moved`);
      // Another process appended since this one last did: read the head under its lock (waits for an append under way).
      head = await lockChainHead(tx, workspaceId);
      lockedHeads.get(tx)!.set(key, head);
    }
  }
  return { appended, hooks, heads };
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
  let heads: [string, Head][] = [];
  const held = new Map<string, () => void>();
  let result: T;
  try {
    result = await getDb().transaction(async (tx) => {
      heldTurns.set(tx, held);
      return await body(tx);
    });
    // Before the turns pass on: the next appender of these chains starts from this head.
    for (const [key, head] of heads) knownHeads.set(key, head);
  } finally {
    for (const release of held.values()) release();
  }
  async function body(tx: Tx) {
    const events: AuditInput[] = [];
    const value = await fn(tx, (e) => events.push(e));
    if (events.length === 0 && !options.eventOptional) throw new Error("mutate(): the mutation recorded no audit event");
    if (events.length) {
      const chained = await appendAuditEvents(tx, actor, events, meta);
      appended = chained.appended;
      heads = chained.heads;
      // Webhook deliveries owed for these events, in the same transaction (the webhooks came with the append).
      await enqueueWebhookDeliveries(tx, appended, chained.hooks);
    }
    return value;
  }
  const workspaces = new Set(appended.map((a) => a.workspaceId).filter((w): w is string => !!w));
  for (const workspaceId of workspaces) {
    const seq = Math.max(...appended.filter((a) => a.workspaceId === workspaceId).map((a) => a.seq));
    publish.toWorkspace(workspaceId, "audit.appended", { workspaceId, seq });
  }
  return result;
}

/** Reads the last event of a chain as audit_events holds it (seq 0 when empty). */
export async function chainHead(tx: DbOrTx, workspaceId: string | null): Promise<Head> {
  const [head] = await tx
    .select({ seq: auditEvents.seq, hash: auditEvents.hash, occurredAt: auditEvents.occurredAt })
    .from(auditEvents)
    .where(workspaceId ? eq(auditEvents.workspaceId, workspaceId) : isNull(auditEvents.workspaceId))
    .orderBy(desc(auditEvents.seq))
    .limit(1);
  return head ? { seq: head.seq, hash: head.hash, at: head.occurredAt.getTime() } : { seq: 0, hash: GENESIS_HASH, at: 0 };
}

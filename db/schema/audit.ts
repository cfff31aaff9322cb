import { bigint, index, jsonb, pgTable, text, timestamp, unique, uuid } from "drizzle-orm/pg-core";

/**
 * Append-only, hash-chained. One chain per workspace; events that belong to no
 * workspace (sign-ups, failed sign-ins) form the instance chain (workspace_id null).
 * Triggers in the migration refuse UPDATE, DELETE and TRUNCATE.
 */
export const auditEvents = pgTable(
  "audit_events",
  {
    id: uuid().primaryKey().defaultRandom(),
    workspaceId: uuid(),
    seq: bigint({ mode: "number" }).notNull(),
    prevHash: text().notNull(),
    hash: text().notNull(),
    // Millisecond precision so the value hashed in JS round-trips exactly.
    occurredAt: timestamp({ withTimezone: true, precision: 3 }).notNull(),
    actorType: text({ enum: ["user", "system", "anonymous"] }).notNull(),
    actorId: text(),
    /** Display name of the actor at the time (e-mail or job name). */
    actorLabel: text(),
    action: text().notNull(),
    targetType: text().notNull(),
    targetId: text(),
    changes: jsonb().$type<Record<string, [unknown, unknown]>>(),
    metadata: jsonb().$type<Record<string, unknown>>(),
    requestId: text(),
    /**
     * Ed25519 signature of `hash` by the audit signing key that appended the event (key id
     * beside it). Not part of the hash: it authenticates the event itself, so a database
     * superuser who rewrites events after the last checkpoint and recomputes the hashes
     * cannot re-sign them. Null on events appended before events were signed.
     */
    signature: text(),
    keyId: text(),
  },
  (t) => [
    unique("audit_events_chain_seq_key").on(t.workspaceId, t.seq).nullsNotDistinct(),
    // seq is in the index, in the same direction as time, so each end of a time range is one
    // index probe (the first and the last event in it) of an index-only scan.
    index("audit_events_workspace_time_idx").on(t.workspaceId, t.occurredAt.desc(), t.seq.desc()),
    index("audit_events_target_idx").on(t.targetType, t.targetId),
  ],
);

export type AuditEventRow = typeof auditEvents.$inferSelect;

/**
 * The head of each chain (`chain` is the workspace id, or "instance"): advanced in the same
 * statement that appends the events, so an append is one round trip and two transactions
 * cannot both extend the same head (the row lock serialises them; a rollback undoes both).
 * Also a tamper signal: a tail cut from audit_events leaves the head pointing past it.
 */
export const auditChainHeads = pgTable("audit_chain_heads", {
  chain: text().primaryKey(),
  workspaceId: uuid(),
  seq: bigint({ mode: "number" }).notNull(),
  hash: text().notNull(),
  /** The head event's time: the next event's is never earlier, so a time range maps to a seq range exactly. */
  occurredAt: timestamp({ withTimezone: true, precision: 3 }),
});

/**
 * Signed checkpoints of a chain head (Ed25519). With an export and the public key, anyone
 * can check that nothing up to each checkpoint was altered, removed, or the tail cut.
 */
export const auditCheckpoints = pgTable(
  "audit_checkpoints",
  {
    id: uuid().primaryKey().defaultRandom(),
    workspaceId: uuid(),
    seq: bigint({ mode: "number" }).notNull(),
    headHash: text().notNull(),
    signedAt: timestamp({ withTimezone: true, precision: 3 }).notNull(),
    keyId: text().notNull(),
    signature: text().notNull(),
  },
  (t) => [index("audit_checkpoints_workspace_seq_idx").on(t.workspaceId, t.seq.desc())],
);
export type AuditCheckpointRow = typeof auditCheckpoints.$inferSelect;

import "server-only";
import { sql } from "drizzle-orm";
import type { Tx } from "~/db/client";

/*
 * Every transaction-scoped advisory lock Steward takes, in one place: its key, who takes it,
 * what it serialises. Taken with `lock(tx, LOCKS.x(...))`, released when the transaction ends.
 * When a transaction takes several, it takes them in this order (top first), so two
 * transactions cannot wait on each other:
 */
export const LOCKS = {
  /** Sign-ups count the accounts one at a time: two racing on a fresh instance cannot both be first (the first administers the instance). */
  firstAccount: () => "steward:first-account",
  /** Policy changes of one alias (two-person rule). */
  policy: (workspaceId: string, alias: string) => `policy:${workspaceId}:${alias}`,
  /** Everything that reads or moves (model, alias): a move, a review's baseline, a deployment following the alias. */
  alias: (modelId: string, alias: string) => `alias:${modelId}:${alias}`,
  /** Review numbers of a workspace (max + 1 under the lock). */
  reviewNumber: (workspaceId: string) => `review-number:${workspaceId}`,
  /** Run numbers of a workspace. */
  runs: (workspaceId: string) => `runs:${workspaceId}`,
  /** One revalidation notice per model and due date. */
  revalidation: (modelId: string) => `revalidation:${modelId}`,
  // Appends to an audit chain are serialised by its row in audit_chain_heads (server/audit/mutate.ts),
  // taken last, by mutate() before commit, or by a checkpoint before it reads the head.
} as const;

/** Takes a transaction-scoped advisory lock (64-bit hash of the key). */
export async function lock(tx: Tx, key: string) {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${key}, 0))`);
}

import { sql } from "drizzle-orm";
import type { DbOrTx } from "~/db/client";
import { CHANNELS } from "~/server/platform/channels";

/**
 * Tells the services that cache who a credential belongs to (the inference replicas) to
 * re-check it, on CHANNELS.credentials: a revoked key or token, a changed role or a removed
 * member stops working at once, not when a cache expires. Sent inside the transaction of
 * the change, so it fires only if the change commits.
 */
export async function credentialsChanged(tx: DbOrTx, reason: string) {
  await tx.execute(sql`select pg_notify(${CHANNELS.credentials}, ${reason})`);
}

import { sql } from "drizzle-orm";
import type { DbOrTx } from "~/db/client";

/**
 * Services that cache who a credential belongs to (the inference replicas) listen on this
 * channel and forget every cached credential when it fires: a revoked key or token, a
 * changed role or a removed member stops working at once, not when a cache expires.
 * Sent inside the transaction of the change, so it fires only if the change commits.
 */
export const CREDENTIALS_CHANNEL = "steward_credentials";

export async function credentialsChanged(tx: DbOrTx, reason: string) {
  await tx.execute(sql`select pg_notify(${CREDENTIALS_CHANNEL}, ${reason})`);
}

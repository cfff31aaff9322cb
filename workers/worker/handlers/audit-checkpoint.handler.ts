import { signAllChangedChains } from "~/server/audit/checkpoints.service";

/**
 * Scheduled: verifies and signs every chain head that moved since its last checkpoint, and
 * publishes any checkpoint the artifact store is missing. A chain that does not verify is
 * refused (recorded and alerted once by the service); the others are still signed. Idempotent.
 */
export async function handleAuditCheckpoint() {
  const r = await signAllChangedChains({ type: "system", job: "audit.checkpoint" });
  if (r.signed || r.republished)
    console.log(`[worker] audit.checkpoint: signed ${r.signed} of ${r.chains} chain(s), published ${r.republished} missing checkpoint(s)`);
  if (r.refused) console.error(`[worker] audit.checkpoint: refused to sign ${r.refused} chain(s) that do not verify since their last checkpoint`);
}

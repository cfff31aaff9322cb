import { signAllChangedChains } from "~/server/audit/checkpoints.service";

/** Scheduled: signs every chain head that moved since its last checkpoint. Idempotent. */
export async function handleAuditCheckpoint() {
  const r = await signAllChangedChains({ type: "system", job: "audit.checkpoint" });
  if (r.signed) console.log(`[worker] audit.checkpoint: signed ${r.signed} of ${r.chains} chain(s)`);
}

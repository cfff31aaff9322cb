import { notifyRevalidationsDue } from "~/server/governance/inventory.service";

/**
 * Scheduled daily: owners and compliance officers hear about revalidations due within two
 * weeks or overdue. Idempotent — each due date is notified once, however often it runs.
 */
export async function handleInventoryRevalidations(now = new Date()) {
  const r = await notifyRevalidationsDue(now);
  if (r.notified.length)
    console.log(
      `[worker] inventory.revalidations: ${r.notified.length} model(s) due or overdue, ${r.notified.reduce((a, n) => a + n.recipients, 0)} notification(s)`,
    );
  return r;
}

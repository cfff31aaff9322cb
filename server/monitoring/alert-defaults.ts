import type { Tx } from "~/db/client";
import { alertRules } from "~/db/schema";

/** The defaults every new deployment gets (in its creation transaction). */
export async function createDefaultRules(tx: Tx, d: { id: string; workspaceId: string }) {
  // Rules list in creation order: one statement gives them one timestamp, so they are a millisecond apart.
  const at = Date.now();
  const rules = [
    { name: "Input drift", metric: "drift_any", threshold: 0.2, windowMinutes: 60, severity: "warning" },
    { name: "Error rate", metric: "error_rate", threshold: 0.05, windowMinutes: 5, severity: "critical" },
    { name: "Latency p99", metric: "latency_p99", threshold: 1000, windowMinutes: 5, severity: "warning" },
  ] as const;
  await tx
    .insert(alertRules)
    .values(rules.map((r, i) => ({ ...r, workspaceId: d.workspaceId, deploymentId: d.id, createdAt: new Date(at + i), updatedAt: new Date(at + i) })));
}

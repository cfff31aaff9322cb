import type { Tx } from "~/db/client";
import { alertRules } from "~/db/schema";

/** The defaults every new deployment gets (in its creation transaction). */
export async function createDefaultRules(tx: Tx, d: { id: string; workspaceId: string }) {
  await tx.insert(alertRules).values([
    { workspaceId: d.workspaceId, deploymentId: d.id, name: "Input drift", metric: "drift_any", threshold: 0.2, windowMinutes: 60, severity: "warning" },
    { workspaceId: d.workspaceId, deploymentId: d.id, name: "Error rate", metric: "error_rate", threshold: 0.05, windowMinutes: 5, severity: "critical" },
    { workspaceId: d.workspaceId, deploymentId: d.id, name: "Latency p99", metric: "latency_p99", threshold: 1000, windowMinutes: 5, severity: "warning" },
  ]);
}


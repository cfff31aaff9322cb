import { eq } from "drizzle-orm";
import { getDb } from "~/db/client";
import { deployments, predictionFeedback, predictionLogs, type PredictionLogRow } from "~/db/schema";
import { monitoringDrift } from "~/server/jobs/definitions";
import { enqueue } from "~/server/jobs/enqueue";
import { rollUpAll } from "~/server/monitoring/monitoring.service";
import { computePerformance } from "~/server/monitoring/performance.service";
import { generateCredit } from "./credit-data";

/*
 * A day of simulated traffic for the demo's deployment, so the monitoring pages have a
 * history on the first start: a daily rhythm of requests, a few slow answers and errors,
 * incomes and debt ratios drifting over the last six hours, and ground truth for most
 * requests older than half an hour (outcomes shift with the drift, so accuracy drops).
 * The outputs are the served model's own: `served` is its logistic regression, the same
 * weights as its ONNX file. Rollups and performance are computed here; drift for each of
 * the last 24 hours is left to the worker (jobs queued here), as it would be computed.
 */

export type ServedLogistic = { features: readonly string[]; weights: number[]; bias: number };

/** Deterministic pseudo-randomness, so every demo looks alike. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0), s / 2 ** 32);
}

export async function seedMonitoringHistory(workspaceId: string, served: ServedLogistic, now = new Date()) {
  const db = getDb();
  const [d] = await db.select().from(deployments).where(eq(deployments.workspaceId, workspaceId));
  if (!d) return { predictions: 0 };
  const r = rng(4242);
  const end = Math.floor(now.getTime() / 60_000) * 60_000;
  const start = end - 24 * 3600_000;
  const driftFrom = end - 6 * 3600_000;
  const people = generateCredit(8000, 2025);
  const logs: PredictionLogRow[] = [];
  const labels: { requestId: string; workspaceId: string; deploymentId: string; label: number }[] = [];
  let k = 0;
  for (let minute = start; minute < end; minute += 60_000) {
    // Busier in the day (UTC), quieter at night: 2 to 8 requests a minute.
    const hour = new Date(minute).getUTCHours() + new Date(minute).getUTCMinutes() / 60;
    const perMinute = Math.round(5 + 3 * Math.sin(((hour - 9) / 24) * 2 * Math.PI) + (r() - 0.5) * 2);
    // The drift ramps in over an hour, then holds.
    const drift = Math.min(1, Math.max(0, (minute - driftFrom) / 3600_000));
    for (let i = 0; i < perMinute; i++) {
      const p = people[k++ % people.length]!;
      const record = {
        age: p.age,
        income_k: Math.round(p.income_k * (1 + 0.6 * drift) * 10) / 10,
        debt_ratio: Math.min(0.99, Math.round((p.debt_ratio + 0.15 * drift) * 1000) / 1000),
        history_years: p.history_years,
        late_payments: p.late_payments,
      };
      const z = served.features.reduce((a, f, j) => a + Number(record[f as keyof typeof record]) * served.weights[j]!, served.bias);
      const probability = 1 / (1 + Math.exp(-z));
      const error = r() < 0.003;
      const requestId = `demo-${(minute / 1000).toString(36)}-${i}`;
      logs.push({
        at: new Date(minute + Math.floor(r() * 60_000)),
        requestId,
        workspaceId,
        deploymentId: d.id,
        modelVersionId: d.primaryVersionId,
        role: "primary",
        status: error ? "error" : "ok",
        latencyMs: r() < 0.01 ? 20 + r() * 60 : 0.6 + r() * r() * 6,
        rows: 1,
        inputs: { instances: [Object.fromEntries(served.features.map((f) => [f, record[f as keyof typeof record]]))] },
        outputs: error ? null : { probability: [[probability]], is_positive: [[probability > 0.5]] },
        error: error ? "simulated: the upstream feature store timed out" : null,
      });
      // Most outcomes are known after half an hour; after the drift the world changed too.
      if (!error && minute < end - 30 * 60_000 && r() < 0.8)
        labels.push({ requestId, workspaceId, deploymentId: d.id, label: drift > 0.5 && r() < 0.2 ? 1 - p.default : p.default });
    }
  }
  for (let i = 0; i < logs.length; i += 2000) await db.insert(predictionLogs).values(logs.slice(i, i + 2000));
  for (let i = 0; i < labels.length; i += 2000) await db.insert(predictionFeedback).values(labels.slice(i, i + 2000));
  await rollUpAll(now);
  await computePerformance(now, 24);
  // Drift for each past hour (the heatmap's history), computed by the worker once it runs.
  await db.transaction(async (tx) => {
    for (let h = 23; h >= 0; h--) await enqueue(tx, monitoringDrift, { windowMinutes: 60, deploymentId: d.id, at: new Date(end - h * 3600_000).toISOString() });
  });
  return { predictions: logs.length, labels: labels.length };
}

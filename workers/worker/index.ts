import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import os from "node:os";
import PgBoss from "pg-boss";
import { closeDb } from "~/db/client";
import { listenForever } from "~/db/listen";
import { env } from "~/env";
import {
  ALL_JOBS,
  auditCheckpoint,
  inventoryRevalidations,
  monitoringDrift,
  monitoringRollup,
  pipelineStep,
  predictionRetention,
  systemHeartbeat,
  webhookDeliver,
} from "~/server/jobs/definitions";
import { CHANNELS } from "~/server/platform/channels";
import { deliverWebhook } from "~/server/monitoring/webhooks.service";
import { evaluateAlerts } from "~/server/monitoring/alerts.service";
import { rollUpAll } from "~/server/monitoring/monitoring.service";
import { computePerformance } from "~/server/monitoring/performance.service";
import { sweepExpiredLeases } from "~/server/pipelines/step-lifecycle";
import { tickSchedules } from "~/server/pipelines/scheduler";
import { settleRollouts } from "~/server/serving/rollouts.service";
import { postgresEmitter } from "~/server/realtime/pg-emitter";
import { setRealtimeSink } from "~/server/realtime/publish";
import { recordWorkerStopped } from "~/server/system/heartbeat.service";
import { handleAuditCheckpoint } from "~/workers/worker/handlers/audit-checkpoint.handler";
import { handleHeartbeat } from "~/workers/worker/handlers/heartbeat.handler";
import { handleInventoryRevalidations } from "~/workers/worker/handlers/inventory-revalidations.handler";
import { handlePredictionRetention } from "~/workers/worker/handlers/prediction-retention.handler";
import { computeDriftAll } from "~/workers/worker/monitoring/drift-job";
import { createPipelineStepHandler } from "~/workers/worker/handlers/pipeline-step.handler";

const HEARTBEAT_MS = 5000;
let stopping = false;
const workerId = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
const startedAt = new Date().toISOString();

setRealtimeSink(postgresEmitter);

const boss = new PgBoss({ connectionString: env.DATABASE_URL, schema: "pgboss", max: 4, application_name: "steward-worker" });
boss.on("error", (err) => console.error("[worker] pg-boss error:", err));

await boss.start();
for (const job of ALL_JOBS) {
  await boss.createQueue(job.name, { name: job.name, ...job.queue });
}
await boss.work(systemHeartbeat.name, { ...systemHeartbeat.work }, handleHeartbeat);
await boss.work(auditCheckpoint.name, { ...auditCheckpoint.work }, handleAuditCheckpoint);
await boss.work(predictionRetention.name, { ...predictionRetention.work }, handlePredictionRetention);
await boss.work(inventoryRevalidations.name, { ...inventoryRevalidations.work }, async () => {
  await handleInventoryRevalidations();
});
async function rollupAndAlerts() {
  await rollUpAll();
  // Alerts read the rollups just written.
  const a = await evaluateAlerts();
  if (a.fired.length || a.resolved.length) console.log(`[worker] alerts: ${a.fired.length} fired, ${a.resolved.length} resolved`);
}
await boss.work(monitoringRollup.name, { ...monitoringRollup.work }, rollupAndAlerts);
await boss.work(webhookDeliver.name, { ...webhookDeliver.work, includeMetadata: true }, async (jobs) => {
  // Throwing lets pg-boss retry with backoff; every attempt is recorded by deliverWebhook (the last run settles every delivery).
  for (const j of jobs) await deliverWebhook(webhookDeliver.schema.parse(j.data), { lastRun: j.retryCount >= j.retryLimit });
});
await boss.work(monitoringDrift.name, { ...monitoringDrift.work }, async (jobs) => {
  for (const j of jobs) {
    const data = monitoringDrift.schema.parse(j.data);
    const r = await computeDriftAll(data.at ? new Date(data.at) : new Date(), data.windowMinutes ?? 60, data.deploymentId);
    if (r.computed && !data.at) console.log(`[worker] monitoring.drift: ${r.computed} deployment(s)`);
    // Performance with the labels that have arrived since (late labels recounted); not for a window of the past.
    if (!data.at) await computePerformance();
  }
});
// Pipeline steps: several consumers (each step runs in its own process), woken by NOTIFY
// the moment a job commits rather than at their next poll.
const stepWorkers: string[] = [];
const stepHandler = createPipelineStepHandler(workerId, env.PIPELINE_LEASE_SECONDS);
for (let i = 0; i < env.PIPELINE_CONCURRENCY; i++) {
  stepWorkers.push(await boss.work(pipelineStep.name, { ...pipelineStep.work }, stepHandler));
}
const wakeable: Record<string, string[]> = { [pipelineStep.name]: stepWorkers };
// Re-established whenever the database comes back; a wake-up sent meanwhile is lost, so a
// reconnection wakes every consumer (pg-boss's poll would find the jobs anyway, later).
const listener = env.JOBS_LISTEN
  ? await listenForever(
      env.DATABASE_URL,
      {
        [CHANNELS.jobs]: (queue) => {
          for (const id of wakeable[queue] ?? []) boss.notifyWorker(id);
        },
      },
      {
        name: "worker-listen",
        onReconnect: () =>
          Object.values(wakeable)
            .flat()
            .forEach((id) => boss.notifyWorker(id)),
      },
    )
  : null;
// Leases of dead workers and cron slots: cheap queries, every few seconds on every worker.
const housekeeping = setInterval(
  () => {
    if (stopping) return;
    void sweepExpiredLeases().catch((err: unknown) => console.error("[worker] lease sweep failed:", err));
    void tickSchedules().catch((err: unknown) => console.error("[worker] schedule tick failed:", err));
    // Rollouts nobody confirmed in time, or whose last silent replica has died.
    void settleRollouts().catch((err: unknown) => console.error("[worker] rollout settlement failed:", err));
  },
  Math.min(5000, env.PIPELINE_LEASE_SECONDS * 500),
);
const minutes = env.AUDIT_CHECKPOINT_MINUTES;
await boss.schedule(auditCheckpoint.name, minutes < 60 ? `*/${minutes} * * * *` : "0 * * * *", {});
await boss.schedule(predictionRetention.name, "17 * * * *", {});
await boss.schedule(inventoryRevalidations.name, "0 7 * * *", {});
// Every minute by cron; faster (demos, end-to-end tests) by a timer on each worker — both
// steps are idempotent and an incident fires once however many workers evaluate.
let rollupBusy = false;
const fastRollup =
  env.MONITORING_INTERVAL_SECONDS < 60
    ? setInterval(() => {
        if (stopping || rollupBusy) return;
        rollupBusy = true;
        void rollupAndAlerts()
          .catch((err: unknown) => console.error("[worker] monitoring rollup failed:", err))
          .finally(() => (rollupBusy = false));
      }, env.MONITORING_INTERVAL_SECONDS * 1000)
    : null;
if (!fastRollup) await boss.schedule(monitoringRollup.name, "* * * * *", {});
await boss.schedule(monitoringDrift.name, "*/10 * * * *", {});

async function beat() {
  await boss.send(systemHeartbeat.name, {
    workerId,
    hostname: os.hostname(),
    pid: process.pid,
    startedAt,
    sentAt: new Date().toISOString(),
  });
}
await beat();
const timer = setInterval(() => void beat().catch((err: unknown) => console.error("[worker] heartbeat failed:", err)), HEARTBEAT_MS);
// A small health endpoint for orchestrators (Kubernetes probes): 200 while the queue is served.
const health = createServer((req, res) => {
  const ok = !stopping;
  res.writeHead(ok ? 200 : 503, { "content-type": "application/json" }).end(JSON.stringify({ ok, workerId }));
});
if (env.WORKER_HEALTH_PORT) health.listen(env.WORKER_HEALTH_PORT);
console.log(`[worker] ${workerId} ready: ${ALL_JOBS.length} queue(s), heartbeat every ${HEARTBEAT_MS / 1000}s`);

async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`[worker] ${signal}: finishing in-flight jobs…`);
  clearInterval(timer);
  clearInterval(housekeeping);
  if (fastRollup) clearInterval(fastRollup);
  await listener?.close();
  health.close();
  try {
    // graceful: let running handlers finish (up to the timeout) before releasing their jobs.
    await boss.stop({ graceful: true, wait: true, timeout: 10_000 });
    await recordWorkerStopped(workerId).catch(() => undefined);
  } catch (err) {
    console.error("[worker] error while stopping:", err);
  }
  await closeDb().catch(() => undefined);
  console.log("[worker] stopped");
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
// Started by `npm start` with an IPC channel: if the supervisor dies, do not linger.
process.on("disconnect", () => void shutdown("supervisor gone"));

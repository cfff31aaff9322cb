import { z } from "zod";
import { defineJob } from "./define";

/** Each worker enqueues one every few seconds and records it: proof that the queue and a worker are alive. */
export const systemHeartbeat = defineJob({
  name: "system.heartbeat",
  schema: z.object({
    workerId: z.string().min(1),
    hostname: z.string(),
    pid: z.number().int(),
    startedAt: z.string(),
    sentAt: z.string(),
  }),
  queue: { retryLimit: 0, expireInSeconds: 30 },
  work: { batchSize: 10, pollingIntervalSeconds: 0.5 },
});

/** Signs the head of every audit chain that changed since its last checkpoint. */
export const auditCheckpoint = defineJob({
  name: "audit.checkpoint",
  schema: z.object({}).passthrough(),
  queue: { retryLimit: 2, expireInSeconds: 600 },
  work: { batchSize: 1, pollingIntervalSeconds: 2 },
});

/**
 * One step of a pipeline run. The step row's lease, not pg-boss's expiry, decides when a
 * dead worker's step is retried (server/pipelines/step-lifecycle.ts); a job whose attempt
 * is no longer current is dropped.
 */
export const pipelineStep = defineJob({
  name: "pipeline.step",
  schema: z.object({ workspaceId: z.uuid(), stepRunId: z.uuid(), attempt: z.number().int().positive() }),
  queue: { retryLimit: 0, expireInSeconds: 23 * 3600 },
  work: { batchSize: 1, pollingIntervalSeconds: 2 },
});

/** Hourly: removes prediction logs past each workspace's retention and makes the coming days' partitions. */
export const predictionRetention = defineJob({
  name: "prediction.retention",
  schema: z.object({}).passthrough(),
  queue: { retryLimit: 2, expireInSeconds: 3600 },
  work: { batchSize: 1, pollingIntervalSeconds: 5 },
});

/** Every minute: closed minutes of the prediction log into per-minute rollups. */
export const monitoringRollup = defineJob({
  name: "monitoring.rollup",
  schema: z.object({}).passthrough(),
  queue: { retryLimit: 1, expireInSeconds: 300 },
  work: { batchSize: 1, pollingIntervalSeconds: 2 },
});

/** Every 10 minutes (and on demand): input drift of every active deployment. */
export const monitoringDrift = defineJob({
  name: "monitoring.drift",
  schema: z
    .object({
      windowMinutes: z.number().int().min(5).max(10080).optional(),
      deploymentId: z.uuid().optional(),
      /** The window's end (default: now) — to fill in the history of a deployment's drift. */
      at: z.iso.datetime().optional(),
    })
    .passthrough(),
  queue: { retryLimit: 1, expireInSeconds: 1800 },
  work: { batchSize: 1, pollingIntervalSeconds: 2 },
});

/**
 * A transaction's events owed to one webhook (`deliveryIds`, webhook_outbox rows in sequence
 * order); retried with backoff (each attempt recorded). `event` + `payload`: the alert jobs
 * queued before subscriptions existed.
 */
export const webhookDeliver = defineJob({
  name: "webhook.deliver",
  schema: z.object({ webhookId: z.uuid(), deliveryIds: z.array(z.uuid()).optional(), event: z.string().min(1).optional(), payload: z.unknown().optional() }),
  queue: { retryLimit: 4, retryDelay: 5, retryBackoff: true, expireInSeconds: 120 },
  work: { batchSize: 1, pollingIntervalSeconds: 1 },
});

/** Daily: models whose revalidation is due soon or overdue; their owners and compliance officers are told once per due date. */
export const inventoryRevalidations = defineJob({
  name: "inventory.revalidations",
  schema: z.object({}).passthrough(),
  queue: { retryLimit: 2, expireInSeconds: 1800 },
  work: { batchSize: 1, pollingIntervalSeconds: 5 },
});

export const ALL_JOBS = [
  systemHeartbeat,
  auditCheckpoint,
  pipelineStep,
  predictionRetention,
  monitoringRollup,
  monitoringDrift,
  webhookDeliver,
  inventoryRevalidations,
] as const;

import { sql } from "drizzle-orm";
import { bigint, boolean, doublePrecision, index, integer, jsonb, pgTable, primaryKey, real, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { workspaces } from "./identity";
import { modelVersions } from "./registry";
import { deployments } from "./serving";

// Relative: drizzle-kit loads the schema without the ~ alias.
export { LATENCY_BUCKETS_MS } from "../../server/shared/latency";
import { ALERT_METRICS } from "../../server/shared/alert-metrics";
import { SENSITIVITY_NAMES, type Sensitivity } from "../../server/shared/anomaly";
import type { OutlierBounds } from "../../server/shared/outliers";

/**
 * Per-minute rollups of the prediction log, by deployment, version and role: what the
 * dashboards read, so a month of traffic draws from ~43k rows per series rather than the log.
 */
export const predictionRollups = pgTable(
  "prediction_rollups",
  {
    deploymentId: uuid()
      .notNull()
      .references(() => deployments.id, { onDelete: "cascade" }),
    workspaceId: uuid()
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    modelVersionId: uuid()
      .notNull()
      .references(() => modelVersions.id, { onDelete: "cascade" }),
    role: text({ enum: ["primary", "canary", "shadow"] }).notNull(),
    minute: timestamp({ withTimezone: true }).notNull(),
    requests: integer().notNull(),
    errors: integer().notNull(),
    rows: integer().notNull(),
    latencySumMs: real().notNull(),
    /** Counts per LATENCY_BUCKETS_MS bucket (+1 for above the last bound). */
    latencyBuckets: integer().array().notNull(),
    /** Answered requests checked against the deployment's reference_bounds (named-feature bodies, once bounds exist). */
    checked: integer().notNull().default(0),
    /** Of those, requests with a feature outside the reference's 0.1–99.9% range or a category it never had. */
    outliers: integer().notNull().default(0),
    /** Of those, requests with a feature missing (null, absent, "", unparseable). */
    incomplete: integer().notNull().default(0),
    /** The model's numeric predictions (positive-class probability or regression value) read per row: count, sum and sum of squares. */
    predictions: integer().notNull().default(0),
    predictionSum: doublePrecision().notNull().default(0),
    predictionSqSum: doublePrecision().notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.deploymentId, t.modelVersionId, t.role, t.minute] }), index("prediction_rollups_minute_idx").on(t.deploymentId, t.minute)],
);

/**
 * What each deployment's requests are checked against for input outliers and missing values
 * as they are rolled up: the ranges and categories of its drift reference, refreshed by each
 * drift computation (workers/worker/monitoring/drift-job.ts).
 */
export const referenceBounds = pgTable("reference_bounds", {
  deploymentId: uuid()
    .primaryKey()
    .references(() => deployments.id, { onDelete: "cascade" }),
  workspaceId: uuid()
    .notNull()
    .references(() => workspaces.id, { onDelete: "cascade" }),
  modelVersionId: uuid()
    .notNull()
    .references(() => modelVersions.id, { onDelete: "cascade" }),
  bounds: jsonb().$type<OutlierBounds>().notNull(),
  computedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
});

/** How far each deployment's log has been rolled up (closed minutes). */
export const monitoringWatermarks = pgTable("monitoring_watermarks", {
  deploymentId: uuid()
    .primaryKey()
    .references(() => deployments.id, { onDelete: "cascade" }),
  rolledUpTo: timestamp({ withTimezone: true }).notNull(),
  updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
});

export type DriftReference =
  /** rows: the dataset version's rows; sample: the uniform sample drift was computed on (absent in results from before sampling). */
  | { kind?: "dataset"; dataset: string; version: number; role: "train" | "eval"; rows: number; sample?: { rows: number; seed: number; method: "reservoir" } }
  | { kind: "window"; from: string; to: string; rows: number };

/** One drift computation: every input feature of a window against the reference. */
export const driftResults = pgTable(
  "drift_results",
  {
    id: uuid().primaryKey().defaultRandom(),
    workspaceId: uuid()
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    deploymentId: uuid()
      .notNull()
      .references(() => deployments.id, { onDelete: "cascade" }),
    modelVersionId: uuid()
      .notNull()
      .references(() => modelVersions.id, { onDelete: "cascade" }),
    windowStart: timestamp({ withTimezone: true }).notNull(),
    windowEnd: timestamp({ withTimezone: true }).notNull(),
    /** What the window is compared with: a dataset version in the lineage, or a window of the deployment's own traffic. */
    reference: jsonb().$type<DriftReference>().notNull(),
    /** FeatureDrift[] (server/monitoring/drift.ts). */
    features: jsonb().$type<unknown[]>().notNull(),
    /** Drift of the model's predictions (a FeatureDrift of the score or class), when it could be computed. */
    predictionDrift: jsonb().$type<unknown>(),
    maxSeverity: text({ enum: ["none", "moderate", "major", "unknown"] }).notNull(),
    sampled: integer().notNull(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("drift_results_deployment_idx").on(t.deploymentId, t.windowEnd)],
);

/** When to raise an alert for a deployment, and what to do then (ops and admins edit them). */
export const alertRules = pgTable(
  "alert_rules",
  {
    id: uuid().primaryKey().defaultRandom(),
    workspaceId: uuid()
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    deploymentId: uuid()
      .notNull()
      .references(() => deployments.id, { onDelete: "cascade" }),
    name: text().notNull(),
    metric: text({ enum: ALERT_METRICS }).notNull(),
    /** For drift_feature: the input feature. */
    feature: text(),
    /**
     * threshold: fires when the value is above (or, for metrics that fire below, below) the threshold over the window
     * (server/shared/alert-metrics.ts). anomaly: fires when the value leaves the band learned from the deployment's own
     * history (server/monitoring/anomaly.ts); the threshold is unused (0).
     */
    kind: text({ enum: ["threshold", "anomaly"] })
      .notNull()
      .default("threshold"),
    /** Anomaly rules: how far from normal is unusual (server/shared/anomaly.ts SENSITIVITIES). */
    sensitivity: text({ enum: SENSITIVITY_NAMES as [Sensitivity, ...Sensitivity[]] }),
    threshold: real().notNull(),
    windowMinutes: integer().notNull(),
    severity: text({ enum: ["info", "warning", "critical"] }).notNull(),
    enabled: boolean().notNull().default(true),
    /** A pipeline to start when it fires (for example a retraining command step). */
    startPipelineId: uuid(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("alert_rules_deployment_idx").on(t.deploymentId)],
);

/** One incident per rule at a time: fires once, may be acknowledged, resolves itself when the condition clears. */
export const alertIncidents = pgTable(
  "alert_incidents",
  {
    id: uuid().primaryKey().defaultRandom(),
    workspaceId: uuid()
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    ruleId: uuid()
      .notNull()
      .references(() => alertRules.id, { onDelete: "cascade" }),
    deploymentId: uuid()
      .notNull()
      .references(() => deployments.id, { onDelete: "cascade" }),
    status: text({ enum: ["firing", "acknowledged", "resolved"] }).notNull(),
    value: real(),
    message: text().notNull(),
    openedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    acknowledgedAt: timestamp({ withTimezone: true }),
    acknowledgedBy: uuid(),
    resolvedAt: timestamp({ withTimezone: true }),
    /** Null when the incident resolved by itself (its condition cleared, or a later rollout went live). */
    resolvedBy: uuid(),
    /** Why it was resolved: the operator's note, or what resolved it. */
    resolutionNote: text(),
    pipelineRunId: uuid(),
  },
  (t) => [
    index("alert_incidents_deployment_idx").on(t.deploymentId, t.openedAt),
    uniqueIndex("alert_incidents_open_key")
      .on(t.ruleId)
      .where(sql`status <> 'resolved'`),
  ],
);

/**
 * Where events are POSTed, signed with the webhook's secret: the audit actions matching one
 * of `events` (exact names, or patterns with `*` such as `deployment.*`), optionally only
 * those about the given models or deployments. Webhooks made before subscriptions existed
 * keep the alert events they always had (the column's default).
 */
export const webhooks = pgTable(
  "webhooks",
  {
    id: uuid().primaryKey().defaultRandom(),
    workspaceId: uuid()
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    name: text().notNull(),
    url: text().notNull(),
    /** HMAC key for the Steward-Signature header (shown once at creation). */
    secret: text().notNull(),
    enabled: boolean().notNull().default(true),
    consecutiveFailures: integer().notNull().default(0),
    disabledReason: text(),
    /** Audit action names or `*` patterns (server/shared/webhooks.schema.ts). */
    events: text()
      .array()
      .notNull()
      .default(sql`'{alert.fired,alert.resolved}'::text[]`),
    /** Only events about these models (by name); empty: any. */
    models: text()
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    /** Only events about these deployments (by name); empty: any. */
    deployments: text()
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    createdBy: uuid(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("webhooks_workspace_idx").on(t.workspaceId)],
);

/**
 * One event owed to one webhook, written in the transaction that recorded the event: its id
 * is the delivery's idempotency key (Steward-Delivery, Idempotency-Key), the same on every
 * retry; `payload` is the event as sent. Test events have no audit event.
 */
export const webhookOutbox = pgTable(
  "webhook_outbox",
  {
    id: uuid().primaryKey().defaultRandom(),
    webhookId: uuid()
      .notNull()
      .references(() => webhooks.id, { onDelete: "cascade" }),
    workspaceId: uuid()
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    action: text().notNull(),
    auditEventId: uuid(),
    seq: bigint({ mode: "number" }),
    payload: jsonb().$type<Record<string, unknown>>().notNull(),
    /** pending → delivered | failed (every attempt failed) | skipped (the webhook was off or gone). */
    state: text({ enum: ["pending", "delivered", "failed", "skipped"] })
      .notNull()
      .default("pending"),
    attempts: integer().notNull().default(0),
    test: boolean().notNull().default(false),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    finishedAt: timestamp({ withTimezone: true }),
  },
  (t) => [index("webhook_outbox_webhook_idx").on(t.webhookId, t.createdAt), index("webhook_outbox_workspace_idx").on(t.workspaceId)],
);

/** Every delivery attempt, kept (with the start of the receiver's answer). */
export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    id: uuid().primaryKey().defaultRandom(),
    webhookId: uuid()
      .notNull()
      .references(() => webhooks.id, { onDelete: "cascade" }),
    /** The delivery this attempt was for (null for attempts made before the outbox). */
    outboxId: uuid().references(() => webhookOutbox.id, { onDelete: "cascade" }),
    event: text().notNull(),
    attempt: integer().notNull(),
    status: integer(),
    ok: boolean().notNull(),
    error: text(),
    /** The receiver's answer, cut at RESPONSE_BODY_LIMIT characters. */
    responseBody: text(),
    durationMs: integer().notNull(),
    at: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("webhook_deliveries_webhook_idx").on(t.webhookId, t.at), index("webhook_deliveries_outbox_idx").on(t.outboxId)],
);

/**
 * Model performance per hour once ground truth arrives (delayed labels joined by request
 * id), recomputed as late labels come in; with the shadow's agreement with the primary.
 */
export const performanceWindows = pgTable(
  "performance_windows",
  {
    deploymentId: uuid()
      .notNull()
      .references(() => deployments.id, { onDelete: "cascade" }),
    workspaceId: uuid()
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    windowStart: timestamp({ withTimezone: true }).notNull(),
    predictions: integer().notNull(),
    labeled: integer().notNull(),
    /** { task, accuracy?, f1?, auc?, mae?, rmse?, shadow?: { compared, agreement, meanAbsDiff } } */
    metrics: jsonb().$type<Record<string, unknown>>().notNull(),
    computedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.deploymentId, t.windowStart] })],
);

/**
 * Resource use of each inference replica per minute (written by the replica itself):
 * CPU of the whole process (HTTP thread and inference threads), memory, requests in
 * flight, event-loop lag. Kept 31 days, like the longest dashboard range.
 */
export const replicaMinutes = pgTable(
  "replica_minutes",
  {
    replica: text().notNull(),
    minute: timestamp({ withTimezone: true }).notNull(),
    /** Mean CPU over the minute in % of one core (200 = two cores busy). */
    cpuPct: real().notNull(),
    cpuMaxPct: real().notNull(),
    rssBytes: real().notNull(),
    heapBytes: real().notNull(),
    inFlightAvg: real().notNull(),
    inFlightMax: integer().notNull(),
    /** p99 event-loop delay of the HTTP thread over the minute. */
    loopLagMs: real().notNull(),
    requests: integer().notNull(),
  },
  (t) => [primaryKey({ columns: [t.replica, t.minute] }), index("replica_minutes_minute_idx").on(t.minute)],
);

/** Dynamic-batching sizes per deployment, replica and minute (onnxruntime runs and rows). */
export const batchMinutes = pgTable(
  "batch_minutes",
  {
    deploymentId: uuid()
      .notNull()
      .references(() => deployments.id, { onDelete: "cascade" }),
    replica: text().notNull(),
    minute: timestamp({ withTimezone: true }).notNull(),
    runs: integer().notNull(),
    rows: integer().notNull(),
    maxRows: integer().notNull(),
    requests: integer().notNull(),
  },
  (t) => [primaryKey({ columns: [t.deploymentId, t.replica, t.minute] })],
);

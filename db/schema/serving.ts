import { sql } from "drizzle-orm";
import { boolean, index, integer, jsonb, pgTable, primaryKey, real, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { users, workspaces } from "./identity";
import { modelVersions, models } from "./registry";

const createdAt = timestamp({ withTimezone: true }).notNull().defaultNow();

export type SensitiveInput = { name: string; mode: "drop" | "hash" };
export type DeploymentSettings = {
  /** Dynamic batching: requests are gathered up to this many rows… */
  maxBatchSize: number;
  /** …or for at most this long. 0 turns batching off. */
  maxWaitMs: number;
  /** onnxruntime intra-op threads per session. */
  intraOpThreads: number;
  /** Share of requests whose inputs are logged when they are large (outputs always are). */
  inputSampleRate: number;
  /** Inputs (tensor names or instance columns) dropped or replaced by a keyed hash before logging. */
  sensitiveInputs: SensitiveInput[];
  /** Automatic canary analysis: roll the canary back when it is worse than the primary by more than these. */
  canaryAnalysis: { enabled: boolean; minRequests: number; maxErrorRateDelta: number; maxLatencyRatio: number; windowMinutes: number };
  /** What drift is measured against: the training (else evaluation) dataset in the lineage, or a window of this deployment's traffic. */
  driftReference?: { kind: "lineage" } | { kind: "window"; from: string; to: string };
};

export const DEFAULT_DEPLOYMENT_SETTINGS: DeploymentSettings = {
  maxBatchSize: 32,
  maxWaitMs: 2,
  intraOpThreads: 1,
  inputSampleRate: 1,
  sensitiveInputs: [],
  canaryAnalysis: { enabled: true, minRequests: 50, maxErrorRateDelta: 0.05, maxLatencyRatio: 2, windowMinutes: 10 },
};

/**
 * A model served in one environment. The primary follows an alias (by default
 * `production`) unless pinned; a canary takes a share of traffic; a shadow gets a copy.
 */
export const deployments = pgTable(
  "deployments",
  {
    id: uuid().primaryKey().defaultRandom(),
    workspaceId: uuid()
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    name: text().notNull(),
    environment: text().notNull(),
    modelId: uuid()
      .notNull()
      .references(() => models.id, { onDelete: "cascade" }),
    /**
     * The alias this deployment is bound to: its policy (if any) decides which versions may
     * reach callers here, as primary, canary or pin. Unprotected aliases gate nothing.
     */
    alias: text().notNull().default("production"),
    /** True: the primary follows the alias (moves when it moves). False: pinned to a version. */
    following: boolean().notNull().default(true),
    primaryVersionId: uuid()
      .notNull()
      .references(() => modelVersions.id),
    previousPrimaryVersionId: uuid().references(() => modelVersions.id),
    canaryVersionId: uuid().references(() => modelVersions.id),
    canaryPercent: integer().notNull().default(0),
    shadowVersionId: uuid().references(() => modelVersions.id),
    settings: jsonb().$type<DeploymentSettings>().notNull(),
    status: text({ enum: ["active", "stopped"] })
      .notNull()
      .default("active"),
    /** Bumped on every change: inference replicas reload when it moves. */
    revision: integer().notNull().default(1),
    createdBy: uuid().references(() => users.id),
    createdAt,
    updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("deployments_workspace_name_key").on(t.workspaceId, t.name), index("deployments_model_idx").on(t.modelId)],
);

export const DEPLOYMENT_EVENT_KINDS = [
  "deployed",
  "traffic_changed",
  "canary_promoted",
  "rolled_back",
  "canary_rolled_back",
  "alias_followed",
  "follow_changed",
  "settings_changed",
  "stopped",
  "started",
  "rollout_live",
  "rollout_failed",
  "rollout_reverted",
] as const;

export const deploymentEvents = pgTable(
  "deployment_events",
  {
    id: uuid().primaryKey().defaultRandom(),
    workspaceId: uuid()
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    deploymentId: uuid()
      .notNull()
      .references(() => deployments.id, { onDelete: "cascade" }),
    kind: text({ enum: DEPLOYMENT_EVENT_KINDS }).notNull(),
    /** One sentence for people, and the versions and split after the change. */
    summary: text().notNull(),
    detail: jsonb().$type<Record<string, unknown>>().notNull().default({}),
    actorLabel: text(),
    at: createdAt,
  },
  (t) => [index("deployment_events_deployment_idx").on(t.deploymentId, t.at)],
);

/**
 * A change of what a deployment serves, as a fact: pending until every ready inference
 * replica reports serving the deployment's revision, failed with the replica's reason
 * otherwise (the deployment is then reverted to what it served before).
 */
export const rollouts = pgTable(
  "rollouts",
  {
    id: uuid().primaryKey().defaultRandom(),
    workspaceId: uuid()
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    deploymentId: uuid()
      .notNull()
      .references(() => deployments.id, { onDelete: "cascade" }),
    /** The deployment revision this rollout brings live. */
    revision: integer().notNull(),
    /** The deployment event kind that caused it (deployed, alias_followed, canary_promoted, rolled_back…). */
    cause: text().notNull(),
    primaryVersionId: uuid()
      .notNull()
      .references(() => modelVersions.id),
    canaryVersionId: uuid().references(() => modelVersions.id),
    canaryPercent: integer().notNull().default(0),
    shadowVersionId: uuid().references(() => modelVersions.id),
    /** What served before (the revert target on failure). */
    fromRevision: integer(),
    fromPrimaryVersionId: uuid().references(() => modelVersions.id),
    fromCanaryVersionId: uuid().references(() => modelVersions.id),
    fromCanaryPercent: integer().notNull().default(0),
    fromShadowVersionId: uuid().references(() => modelVersions.id),
    /** Emergency rollback: the reason given (null for an ordinary change). */
    emergencyReason: text(),
    status: text({ enum: ["pending", "live", "failed", "superseded"] })
      .notNull()
      .default("pending"),
    /** Why it failed, and which replica said so. */
    reason: text(),
    failedReplica: text(),
    /** Replicas that reported serving this revision: { replica: at }. */
    reports: jsonb().$type<Record<string, string>>().notNull().default({}),
    actorLabel: text(),
    createdAt,
    settledAt: timestamp({ withTimezone: true }),
  },
  (t) => [
    uniqueIndex("rollouts_revision_key").on(t.deploymentId, t.revision),
    index("rollouts_pending_idx")
      .on(t.status)
      .where(sql`status = 'pending'`),
  ],
);

/**
 * Inference replicas and what each serves (telemetry written by the replicas themselves,
 * not audited): a heartbeat, and per deployment the revision and versions loaded or the
 * error that stopped a revision from loading.
 */
export const inferenceReplicas = pgTable("inference_replicas", {
  replica: text().primaryKey(),
  hostname: text().notNull(),
  pid: integer().notNull(),
  startedAt: timestamp({ withTimezone: true }).notNull(),
  lastSeenAt: timestamp({ withTimezone: true }).notNull(),
  ready: boolean().notNull().default(false),
  stoppedAt: timestamp({ withTimezone: true }),
});

export const replicaDeployments = pgTable(
  "replica_deployments",
  {
    replica: text().notNull(),
    deploymentId: uuid()
      .notNull()
      .references(() => deployments.id, { onDelete: "cascade" }),
    workspaceId: uuid()
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    /** The revision this replica serves now. */
    revision: integer().notNull(),
    primaryVersionId: uuid(),
    canaryVersionId: uuid(),
    shadowVersionId: uuid(),
    /** The newest revision it tried and could not load, with the runtime's reason. */
    failedRevision: integer(),
    error: text(),
    reportedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.replica, t.deploymentId] }), index("replica_deployments_deployment_idx").on(t.deploymentId)],
);

/** Keys that may call one deployment's predict endpoint, and nothing else. */
export const deploymentKeys = pgTable(
  "deployment_keys",
  {
    id: uuid().primaryKey().defaultRandom(),
    workspaceId: uuid()
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    deploymentId: uuid()
      .notNull()
      .references(() => deployments.id, { onDelete: "cascade" }),
    name: text().notNull(),
    keyHash: text().notNull(),
    prefix: text().notNull(),
    createdBy: uuid().references(() => users.id),
    createdAt,
    lastUsedAt: timestamp({ withTimezone: true }),
    revokedAt: timestamp({ withTimezone: true }),
  },
  (t) => [uniqueIndex("deployment_keys_hash_key").on(t.keyHash)],
);

/**
 * Every prediction, written in batches off the request path. Range-partitioned by day
 * in SQL (see the migration); this definition is for queries.
 */
export const predictionLogs = pgTable(
  "prediction_logs",
  {
    at: timestamp({ withTimezone: true }).notNull(),
    requestId: text().notNull(),
    workspaceId: uuid().notNull(),
    deploymentId: uuid().notNull(),
    modelVersionId: uuid().notNull(),
    role: text({ enum: ["primary", "canary", "shadow"] }).notNull(),
    status: text({ enum: ["ok", "error"] }).notNull(),
    latencyMs: real().notNull(),
    rows: integer().notNull(),
    inputs: jsonb(),
    outputs: jsonb(),
    error: text(),
  },
  (t) => [index("prediction_logs_deployment_at_idx").on(t.deploymentId, t.at)],
);

/** Ground truth posted later, joined to predictions by request id. */
export const predictionFeedback = pgTable(
  "prediction_feedback",
  {
    requestId: text().notNull(),
    workspaceId: uuid()
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    deploymentId: uuid()
      .notNull()
      .references(() => deployments.id, { onDelete: "cascade" }),
    label: jsonb().notNull(),
    at: createdAt,
    /** How many times a later label replaced an earlier one for this request (the latest wins). */
    corrections: integer().notNull().default(0),
  },
  (t) => [uniqueIndex("prediction_feedback_request_key").on(t.deploymentId, t.requestId)],
);

export type PredictionLogRow = typeof predictionLogs.$inferInsert;

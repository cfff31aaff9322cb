import { sql } from "drizzle-orm";
import { bigint, bigserial, boolean, doublePrecision, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { users, workspaces } from "./identity";
import { modelVersions } from "./registry";

const createdAt = timestamp({ withTimezone: true }).notNull().defaultNow();

export const RUN_STATUSES = ["queued", "running", "passed", "warned", "failed", "cancelled"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const STEP_STATUSES = ["pending", "queued", "running", "passed", "warned", "failed", "skipped", "cancelled"] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];
export const CHECK_STATUSES = ["pass", "warn", "fail"] as const;
export type CheckStatus = (typeof CHECK_STATUSES)[number];
export const TRIGGERS = ["model_version", "manual", "schedule", "alert", "rerun"] as const;
export type Trigger = (typeof TRIGGERS)[number];

/** A named pipeline; its YAML lives in versions, the latest one is current. */
export const pipelines = pgTable(
  "pipelines",
  {
    id: uuid().primaryKey().defaultRandom(),
    workspaceId: uuid()
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    name: text().notNull(),
    currentVersion: integer().notNull(),
    /** Copied from the current version so triggers can find pipelines with one indexed query. */
    onModelVersion: boolean().notNull().default(false),
    schedule: text(),
    createdBy: uuid().references(() => users.id),
    createdAt,
    updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("pipelines_workspace_name_key").on(t.workspaceId, t.name)],
);

export const pipelineVersions = pgTable(
  "pipeline_versions",
  {
    id: uuid().primaryKey().defaultRandom(),
    workspaceId: uuid()
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    pipelineId: uuid()
      .notNull()
      .references(() => pipelines.id, { onDelete: "cascade" }),
    version: integer().notNull(),
    yaml: text().notNull(),
    /** The validated, normalised definition (see server/shared/pipeline-spec.ts). */
    spec: jsonb().$type<unknown>().notNull(),
    createdBy: uuid().references(() => users.id),
    createdAt,
  },
  (t) => [uniqueIndex("pipeline_versions_number_key").on(t.pipelineId, t.version)],
);

export const pipelineRuns = pgTable(
  "pipeline_runs",
  {
    id: uuid().primaryKey().defaultRandom(),
    workspaceId: uuid()
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    pipelineId: uuid()
      .notNull()
      .references(() => pipelines.id, { onDelete: "cascade" }),
    pipelineVersionId: uuid()
      .notNull()
      .references(() => pipelineVersions.id, { onDelete: "cascade" }),
    /** Per workspace, for people: "run #42". */
    number: integer().notNull(),
    modelVersionId: uuid().references(() => modelVersions.id, { onDelete: "cascade" }),
    trigger: text({ enum: TRIGGERS }).notNull(),
    /** What caused it: the alert, the schedule slot, the run it repeats. */
    triggerRef: text(),
    status: text({ enum: RUN_STATUSES }).notNull().default("queued"),
    cancelRequested: boolean().notNull().default(false),
    createdBy: uuid().references(() => users.id),
    createdAt,
    startedAt: timestamp({ withTimezone: true }),
    finishedAt: timestamp({ withTimezone: true }),
  },
  (t) => [
    uniqueIndex("pipeline_runs_number_key").on(t.workspaceId, t.number),
    index("pipeline_runs_workspace_created_idx").on(t.workspaceId, t.createdAt),
    index("pipeline_runs_model_version_idx").on(t.modelVersionId),
    // One scheduled run per pipeline and slot, however many workers tick.
    uniqueIndex("pipeline_runs_schedule_slot_key")
      .on(t.pipelineId, t.triggerRef)
      .where(sql`"trigger" = 'schedule'`),
  ],
);

export const stepRuns = pgTable(
  "step_runs",
  {
    id: uuid().primaryKey().defaultRandom(),
    workspaceId: uuid()
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    runId: uuid()
      .notNull()
      .references(() => pipelineRuns.id, { onDelete: "cascade" }),
    key: text().notNull(),
    type: text().notNull(),
    needs: text().array().notNull(),
    status: text({ enum: STEP_STATUSES }).notNull().default("pending"),
    attempt: integer().notNull().default(0),
    maxAttempts: integer().notNull().default(3),
    /** The worker holding the step, and until when: a dead worker's lease runs out and the step is retried. */
    leaseOwner: text(),
    leaseExpiresAt: timestamp({ withTimezone: true }),
    startedAt: timestamp({ withTimezone: true }),
    finishedAt: timestamp({ withTimezone: true }),
    /** Why it failed or was skipped, in a sentence. */
    reason: text(),
    /** Figures and chart data the step produced (metrics, curves, tables). */
    outputs: jsonb().$type<Record<string, unknown>>(),
  },
  (t) => [uniqueIndex("step_runs_run_key").on(t.runId, t.key), index("step_runs_lease_idx").on(t.status, t.leaseExpiresAt)],
);

export const stepLogs = pgTable(
  "step_logs",
  {
    id: bigserial({ mode: "number" }).primaryKey(),
    stepRunId: uuid()
      .notNull()
      .references(() => stepRuns.id, { onDelete: "cascade" }),
    attempt: integer().notNull(),
    stream: text({ enum: ["stdout", "stderr", "system"] }).notNull(),
    line: text().notNull(),
    at: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("step_logs_step_idx").on(t.stepRunId, t.id)],
);

export const checks = pgTable(
  "checks",
  {
    id: uuid().primaryKey().defaultRandom(),
    workspaceId: uuid()
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    runId: uuid()
      .notNull()
      .references(() => pipelineRuns.id, { onDelete: "cascade" }),
    stepRunId: uuid()
      .notNull()
      .references(() => stepRuns.id, { onDelete: "cascade" }),
    modelVersionId: uuid().references(() => modelVersions.id, { onDelete: "cascade" }),
    /** `step.check`, unique per run: a retried step cannot record a check twice. */
    name: text().notNull(),
    status: text({ enum: CHECK_STATUSES }).notNull(),
    value: doublePrecision(),
    /** The threshold as people read it, for example "≥ 0.70 (warn < 0.75)". */
    threshold: text(),
    message: text().notNull(),
    required: boolean().notNull().default(true),
    createdAt,
  },
  (t) => [uniqueIndex("checks_run_name_key").on(t.runId, t.name), index("checks_model_version_idx").on(t.modelVersionId)],
);

/** Files a command step wrote to its output folder, kept in the artifact store. */
export const runArtifacts = pgTable(
  "run_artifacts",
  {
    id: uuid().primaryKey().defaultRandom(),
    workspaceId: uuid()
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    runId: uuid()
      .notNull()
      .references(() => pipelineRuns.id, { onDelete: "cascade" }),
    stepRunId: uuid()
      .notNull()
      .references(() => stepRuns.id, { onDelete: "cascade" }),
    path: text().notNull(),
    sha256: text().notNull(),
    sizeBytes: bigint({ mode: "number" }).notNull(),
    modelVersionId: uuid().references(() => modelVersions.id, { onDelete: "set null" }),
    createdAt,
  },
  (t) => [uniqueIndex("run_artifacts_step_path_key").on(t.stepRunId, t.path)],
);

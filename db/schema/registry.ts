import { sql } from "drizzle-orm";
import { bigint, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { roleEnum, users, workspaces } from "./identity";

const createdAt = timestamp({ withTimezone: true }).notNull().defaultNow();

export type ColumnSchema = { name: string; type: string; logical: "numeric" | "categorical" | "boolean" | "temporal" | "other" };
export type ColumnProfile = {
  name: string;
  type: string;
  logical: ColumnSchema["logical"];
  count: number;
  nulls: number;
  distinct?: number;
  min?: number | string | null;
  max?: number | string | null;
  mean?: number | null;
  std?: number | null;
  quantiles?: { p01: number | null; p25: number | null; p50: number | null; p75: number | null; p99: number | null };
  histogram?: { edges: number[]; counts: number[] };
  top?: { value: string; count: number }[];
};
export type DatasetProfile = { rows: number; columns: ColumnProfile[] };

export const datasets = pgTable(
  "datasets",
  {
    id: uuid().primaryKey().defaultRandom(),
    workspaceId: uuid()
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    name: text().notNull(),
    description: text(),
    createdBy: uuid().references(() => users.id),
    createdAt,
    updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("datasets_workspace_name_key").on(t.workspaceId, t.name), index("datasets_workspace_idx").on(t.workspaceId)],
);

export const datasetVersions = pgTable(
  "dataset_versions",
  {
    id: uuid().primaryKey().defaultRandom(),
    workspaceId: uuid()
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    datasetId: uuid()
      .notNull()
      .references(() => datasets.id, { onDelete: "cascade" }),
    version: integer().notNull(),
    sha256: text().notNull(),
    format: text({ enum: ["csv", "parquet"] }).notNull(),
    filename: text().notNull(),
    sizeBytes: bigint({ mode: "number" }).notNull(),
    rowCount: bigint({ mode: "number" }).notNull(),
    schema: jsonb().$type<ColumnSchema[]>().notNull(),
    profile: jsonb().$type<DatasetProfile>().notNull(),
    createdBy: uuid().references(() => users.id),
    createdAt,
  },
  (t) => [
    uniqueIndex("dataset_versions_number_key").on(t.datasetId, t.version),
    uniqueIndex("dataset_versions_sha_key").on(t.datasetId, t.sha256),
    index("dataset_versions_workspace_idx").on(t.workspaceId),
  ],
);

export type OnnxValueInfo = { name: string; elemType: string; shape: (number | string | null)[] | null };
export type OnnxSignature = {
  irVersion: number;
  opsets: { domain: string; version: number }[];
  producer: { name: string; version: string };
  graphName: string;
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  opCounts: Record<string, number>;
  nodeCount: number;
  initializerBytes: number;
  initializerCount: number;
  metadata: Record<string, string>;
  runtime: { loadable: boolean; error?: string; inputNames?: string[]; outputNames?: string[] };
};

export const models = pgTable(
  "models",
  {
    id: uuid().primaryKey().defaultRandom(),
    workspaceId: uuid()
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    name: text().notNull(),
    description: text(),
    createdBy: uuid().references(() => users.id),
    // Model inventory (model risk management): who answers for it, what it is for, how risky.
    ownerId: uuid().references(() => users.id),
    intendedUse: text(),
    /** Risk tier from the questionnaire (server/governance/inventory): high, medium or low; null until assessed. */
    riskTier: text({ enum: ["high", "medium", "low"] }),
    riskRationale: text(),
    /** The questionnaire's answers, by question id. */
    riskAnswers: jsonb().$type<Record<string, unknown>>(),
    /** Revalidate every this many days (null: no cadence set). */
    revalidationDays: integer(),
    /** When the model was last revalidated (an approved review or a passing validation of its serving version). */
    lastRevalidatedAt: timestamp({ withTimezone: true }),
    createdAt,
    updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("models_workspace_name_key").on(t.workspaceId, t.name), index("models_workspace_idx").on(t.workspaceId)],
);

export const modelVersions = pgTable(
  "model_versions",
  {
    id: uuid().primaryKey().defaultRandom(),
    workspaceId: uuid()
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    modelId: uuid()
      .notNull()
      .references(() => models.id, { onDelete: "cascade" }),
    version: integer().notNull(),
    sha256: text().notNull(),
    sizeBytes: bigint({ mode: "number" }).notNull(),
    filename: text().notNull(),
    signature: jsonb().$type<OnnxSignature>().notNull(),
    description: text(),
    params: jsonb().$type<Record<string, string | number | boolean>>().notNull().default({}),
    metrics: jsonb().$type<Record<string, number>>().notNull().default({}),
    tags: text()
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    gitCommit: text(),
    parentVersionId: uuid(),
    /** The pipeline run whose command step produced this version, if any. */
    sourceRunId: uuid(),
    createdBy: uuid().references(() => users.id),
    createdAt,
  },
  (t) => [
    uniqueIndex("model_versions_number_key").on(t.modelId, t.version),
    index("model_versions_workspace_idx").on(t.workspaceId),
    index("model_versions_sha_idx").on(t.sha256),
  ],
);

/** Lineage: which dataset versions a model version was trained or evaluated on. */
export const modelVersionDatasets = pgTable(
  "model_version_datasets",
  {
    workspaceId: uuid()
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    modelVersionId: uuid()
      .notNull()
      .references(() => modelVersions.id, { onDelete: "cascade" }),
    datasetVersionId: uuid()
      .notNull()
      .references(() => datasetVersions.id, { onDelete: "restrict" }),
    role: text({ enum: ["train", "eval"] }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.modelVersionId, t.datasetVersionId, t.role] }), index("mvd_workspace_idx").on(t.workspaceId)],
);

export const modelAliases = pgTable(
  "model_aliases",
  {
    id: uuid().primaryKey().defaultRandom(),
    workspaceId: uuid()
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    modelId: uuid()
      .notNull()
      .references(() => models.id, { onDelete: "cascade" }),
    alias: text().notNull(),
    modelVersionId: uuid()
      .notNull()
      .references(() => modelVersions.id, { onDelete: "cascade" }),
    updatedBy: uuid().references(() => users.id),
    updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("model_aliases_model_alias_key").on(t.modelId, t.alias), index("model_aliases_workspace_idx").on(t.workspaceId)],
);

/**
 * Who held each alias and when: one row per holding, closed (untilAt) when the alias moves
 * on. Emergency rollbacks look here (a target must have held the alias recently).
 */
export const aliasHistory = pgTable(
  "alias_history",
  {
    id: uuid().primaryKey().defaultRandom(),
    workspaceId: uuid()
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    modelId: uuid()
      .notNull()
      .references(() => models.id, { onDelete: "cascade" }),
    alias: text().notNull(),
    modelVersionId: uuid()
      .notNull()
      .references(() => modelVersions.id, { onDelete: "cascade" }),
    /** How it got there: { review: 3 } | { promote: "credit-prod" } | { seed: true } | { direct: true }. */
    via: jsonb().$type<Record<string, unknown>>().notNull().default({}),
    fromAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    untilAt: timestamp({ withTimezone: true }),
    movedBy: uuid().references(() => users.id),
  },
  (t) => [index("alias_history_model_alias_idx").on(t.modelId, t.alias, t.fromAt)],
);

/** API tokens: shown once, stored as sha256, scoped to one workspace and a role. */
export const apiTokens = pgTable(
  "api_tokens",
  {
    id: uuid().primaryKey().defaultRandom(),
    workspaceId: uuid()
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    name: text().notNull(),
    tokenHash: text().notNull(),
    /** The first characters of the token, shown to tell tokens apart. */
    prefix: text().notNull(),
    role: roleEnum().notNull(),
    createdBy: uuid()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt,
    lastUsedAt: timestamp({ withTimezone: true }),
    expiresAt: timestamp({ withTimezone: true }),
    revokedAt: timestamp({ withTimezone: true }),
  },
  (t) => [uniqueIndex("api_tokens_hash_key").on(t.tokenHash), index("api_tokens_workspace_idx").on(t.workspaceId)],
);

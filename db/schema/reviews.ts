import { sql } from "drizzle-orm";
import { boolean, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { roleEnum, users, workspaces } from "./identity";
import { modelVersions, models } from "./registry";

const createdAt = timestamp({ withTimezone: true }).notNull().defaultNow();

/** What a policy demands before a protected alias may move (server/reviews/policy.ts). */
export type PolicyRules = {
  /** Approvals by role, e.g. one reviewer and one compliance_officer. */
  requiredApprovals: { role: "reviewer" | "compliance_officer" | "admin" | "owner"; count: number }[];
  /** Distinct people who must approve, whatever their roles. */
  minDistinctApprovers: number;
  /** Checks of the version's latest validation run that must pass; ["*"] = every required check. */
  requiredChecks: string[];
  /** May the person who opened the request (or uploaded the version) approve it? */
  allowRequesterApproval: boolean;
  /** An approval older than this no longer counts; null = no expiry. */
  approvalValidDays: number | null;
};

/** Versioned per workspace and alias: the newest version governs; every save is a new row. */
export const approvalPolicies = pgTable(
  "approval_policies",
  {
    id: uuid().primaryKey().defaultRandom(),
    workspaceId: uuid().notNull().references(() => workspaces.id, { onDelete: "cascade" }),
    alias: text().notNull(),
    version: integer().notNull(),
    rules: jsonb().$type<PolicyRules>().notNull(),
    /** False: the alias is no longer protected (a policy can be switched off, not erased). */
    active: boolean().notNull().default(true),
    createdBy: uuid().references(() => users.id),
    createdAt,
  },
  (t) => [uniqueIndex("approval_policies_version_key").on(t.workspaceId, t.alias, t.version)],
);

/** The model card of a version: markdown, every edit a new revision. */
export const modelCardRevisions = pgTable(
  "model_card_revisions",
  {
    id: uuid().primaryKey().defaultRandom(),
    workspaceId: uuid().notNull().references(() => workspaces.id, { onDelete: "cascade" }),
    modelVersionId: uuid().notNull().references(() => modelVersions.id, { onDelete: "cascade" }),
    revision: integer().notNull(),
    markdown: text().notNull(),
    sha256: text().notNull(),
    editedBy: uuid().references(() => users.id),
    createdAt,
  },
  (t) => [uniqueIndex("model_card_revisions_key").on(t.modelVersionId, t.revision)],
);

export const reviewRequests = pgTable(
  "review_requests",
  {
    id: uuid().primaryKey().defaultRandom(),
    workspaceId: uuid().notNull().references(() => workspaces.id, { onDelete: "cascade" }),
    /** Per workspace, for humans: "#12". */
    number: integer().notNull(),
    modelId: uuid().notNull().references(() => models.id, { onDelete: "cascade" }),
    modelVersionId: uuid().notNull().references(() => modelVersions.id, { onDelete: "cascade" }),
    alias: text().notNull(),
    summary: text().notNull(),
    status: text({ enum: ["open", "approved", "rejected", "withdrawn"] }).notNull().default("open"),
    requestedBy: uuid().notNull().references(() => users.id),
    /** The version that held the alias when the request was opened (what it is compared with). */
    baselineVersionId: uuid().references(() => modelVersions.id),
    closedAt: timestamp({ withTimezone: true }),
    closedBy: uuid().references(() => users.id),
    closedReason: text(),
    /** The policy version that was satisfied when the alias moved. */
    policyVersion: integer(),
    createdAt,
    updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("review_requests_number_key").on(t.workspaceId, t.number),
    // One open request per version and alias.
    uniqueIndex("review_requests_open_key").on(t.modelVersionId, t.alias).where(sql`status = 'open'`),
    index("review_requests_workspace_idx").on(t.workspaceId, t.status),
  ],
);

export const reviewAssignees = pgTable(
  "review_assignees",
  {
    requestId: uuid().notNull().references(() => reviewRequests.id, { onDelete: "cascade" }),
    userId: uuid().notNull().references(() => users.id),
    createdAt,
  },
  (t) => [uniqueIndex("review_assignees_key").on(t.requestId, t.userId)],
);

/**
 * An e-signature: who (name, id, role at the time), what it means, when (UTC), and the
 * artifact and evidence it was given for. Never updated or deleted (a trigger refuses it);
 * `recordHash` binds every field and the request id, so it cannot be moved to another record.
 */
export const reviewSignatures = pgTable(
  "review_signatures",
  {
    id: uuid().primaryKey().defaultRandom(),
    workspaceId: uuid().notNull().references(() => workspaces.id, { onDelete: "cascade" }),
    requestId: uuid().notNull().references(() => reviewRequests.id, { onDelete: "cascade" }),
    signerId: uuid().notNull().references(() => users.id),
    signerName: text().notNull(),
    signerEmail: text().notNull(),
    role: roleEnum().notNull(),
    decision: text({ enum: ["approve", "reject"] }).notNull(),
    meaning: text().notNull(),
    reason: text(),
    artifactSha256: text().notNull(),
    evidenceHash: text().notNull(),
    method: text({ enum: ["password", "oidc"] }).notNull(),
    signedAt: timestamp({ withTimezone: true }).notNull(),
    recordHash: text().notNull(),
  },
  (t) => [index("review_signatures_request_idx").on(t.requestId), uniqueIndex("review_signatures_record_key").on(t.recordHash)],
);

/** "Request changes": blocks approval until the same reviewer clears it. */
export const reviewChangeRequests = pgTable(
  "review_change_requests",
  {
    id: uuid().primaryKey().defaultRandom(),
    requestId: uuid().notNull().references(() => reviewRequests.id, { onDelete: "cascade" }),
    reviewerId: uuid().notNull().references(() => users.id),
    reason: text().notNull(),
    createdAt,
    clearedAt: timestamp({ withTimezone: true }),
  },
  (t) => [index("review_change_requests_request_idx").on(t.requestId)],
);

/** Threaded comments: a thread is its root comment (threadId = its own id) and the replies. */
export const reviewComments = pgTable(
  "review_comments",
  {
    id: uuid().primaryKey().defaultRandom(),
    workspaceId: uuid().notNull().references(() => workspaces.id, { onDelete: "cascade" }),
    requestId: uuid().notNull().references(() => reviewRequests.id, { onDelete: "cascade" }),
    threadId: uuid().notNull(),
    /** What the thread is about: "general", "card", "check:<name>", "metric:<name>", "signature", "lineage". */
    anchor: text().notNull().default("general"),
    authorId: uuid().notNull().references(() => users.id),
    body: text().notNull(),
    editedAt: timestamp({ withTimezone: true }),
    /** On the root only. */
    resolvedAt: timestamp({ withTimezone: true }),
    resolvedBy: uuid().references(() => users.id),
    createdAt,
  },
  (t) => [index("review_comments_request_idx").on(t.requestId, t.createdAt), index("review_comments_thread_idx").on(t.threadId)],
);

/** Earlier bodies of an edited comment. */
export const reviewCommentEdits = pgTable(
  "review_comment_edits",
  {
    id: uuid().primaryKey().defaultRandom(),
    commentId: uuid().notNull().references(() => reviewComments.id, { onDelete: "cascade" }),
    body: text().notNull(),
    replacedAt: createdAt,
  },
  (t) => [index("review_comment_edits_comment_idx").on(t.commentId)],
);

/** A user's inbox. */
export const notifications = pgTable(
  "notifications",
  {
    id: uuid().primaryKey().defaultRandom(),
    userId: uuid().notNull().references(() => users.id, { onDelete: "cascade" }),
    workspaceId: uuid().references(() => workspaces.id, { onDelete: "cascade" }),
    kind: text({ enum: ["mention", "review_assigned", "approval_needed", "decision", "changes_requested", "alert"] }).notNull(),
    title: text().notNull(),
    body: text(),
    link: text(),
    actorLabel: text(),
    readAt: timestamp({ withTimezone: true }),
    emailedAt: timestamp({ withTimezone: true }),
    createdAt,
  },
  (t) => [index("notifications_user_idx").on(t.userId, t.createdAt), index("notifications_unread_idx").on(t.userId).where(sql`read_at is null`)],
);

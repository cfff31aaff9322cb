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
  /**
   * Canaries before approval: a version with an open review for this alias may take up to
   * maxPercent of traffic as a canary. Absent or null: only approved versions reach callers.
   */
  canaryBeforeApproval?: { maxPercent: number } | null;
};

/** Versioned per workspace and alias: the newest version governs; every save is a new row. */
export const approvalPolicies = pgTable(
  "approval_policies",
  {
    id: uuid().primaryKey().defaultRandom(),
    workspaceId: uuid()
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    alias: text().notNull(),
    version: integer().notNull(),
    rules: jsonb().$type<PolicyRules>().notNull(),
    /** False: the alias is no longer protected (a policy can be switched off, not erased). */
    active: boolean().notNull().default(true),
    createdBy: uuid().references(() => users.id),
    /** The second admin or owner who approved this version (two-person rule); null for the first policy of an alias. */
    approvedBy: uuid().references(() => users.id),
    createdAt,
  },
  (t) => [uniqueIndex("approval_policies_version_key").on(t.workspaceId, t.alias, t.version)],
);

/**
 * A proposed change to the policy of a protected alias (two-person rule): it applies only
 * when another admin or owner approves it; until then the current policy governs.
 */
export const policyChanges = pgTable(
  "policy_changes",
  {
    id: uuid().primaryKey().defaultRandom(),
    workspaceId: uuid()
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    alias: text().notNull(),
    rules: jsonb().$type<PolicyRules>().notNull(),
    active: boolean().notNull(),
    /** The policy version it was proposed against (a newer save makes it stale). */
    baseVersion: integer().notNull(),
    reason: text(),
    status: text({ enum: ["pending", "approved", "rejected", "withdrawn", "stale"] })
      .notNull()
      .default("pending"),
    proposedBy: uuid()
      .notNull()
      .references(() => users.id),
    decidedBy: uuid().references(() => users.id),
    decidedAt: timestamp({ withTimezone: true }),
    decisionNote: text(),
    /** The approval_policies version written when approved. */
    appliedVersion: integer(),
    createdAt,
  },
  (t) => [
    index("policy_changes_workspace_idx").on(t.workspaceId, t.status),
    uniqueIndex("policy_changes_pending_key")
      .on(t.workspaceId, t.alias)
      .where(sql`status = 'pending'`),
  ],
);

/** The model card of a version: markdown, every edit a new revision. */
export const modelCardRevisions = pgTable(
  "model_card_revisions",
  {
    id: uuid().primaryKey().defaultRandom(),
    workspaceId: uuid()
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    modelVersionId: uuid()
      .notNull()
      .references(() => modelVersions.id, { onDelete: "cascade" }),
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
    workspaceId: uuid()
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    /** Per workspace, for humans: "#12". */
    number: integer().notNull(),
    modelId: uuid()
      .notNull()
      .references(() => models.id, { onDelete: "cascade" }),
    modelVersionId: uuid()
      .notNull()
      .references(() => modelVersions.id, { onDelete: "cascade" }),
    alias: text().notNull(),
    summary: text().notNull(),
    status: text({ enum: ["open", "approved", "rejected", "withdrawn"] })
      .notNull()
      .default("open"),
    requestedBy: uuid()
      .notNull()
      .references(() => users.id),
    /** The version that held the alias when the request was opened (what it is compared with). */
    baselineVersionId: uuid().references(() => modelVersions.id),
    closedAt: timestamp({ withTimezone: true }),
    closedBy: uuid().references(() => users.id),
    closedReason: text(),
    /** The policy version that was satisfied when the alias moved. */
    policyVersion: integer(),
    /**
     * Set when the alias moved to another version while this request was open: its
     * approvals no longer count and signing is refused until the requester re-bases it.
     */
    supersededAt: timestamp({ withTimezone: true }),
    /** The version that held the alias when this request was superseded. */
    supersededByVersionId: uuid().references(() => modelVersions.id),
    /** Incremented by each re-base; only signatures of the current round count. */
    round: integer().notNull().default(0),
    createdAt,
    updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("review_requests_number_key").on(t.workspaceId, t.number),
    // One open request per version and alias.
    uniqueIndex("review_requests_open_key")
      .on(t.modelVersionId, t.alias)
      .where(sql`status = 'open'`),
    index("review_requests_workspace_idx").on(t.workspaceId, t.status),
  ],
);

export const reviewAssignees = pgTable(
  "review_assignees",
  {
    requestId: uuid()
      .notNull()
      .references(() => reviewRequests.id, { onDelete: "cascade" }),
    userId: uuid()
      .notNull()
      .references(() => users.id),
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
    workspaceId: uuid()
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    requestId: uuid()
      .notNull()
      .references(() => reviewRequests.id, { onDelete: "cascade" }),
    signerId: uuid()
      .notNull()
      .references(() => users.id),
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
    /** The version holding the alias when this signature was given (null: nobody held it). */
    aliasHolderVersionId: uuid(),
    /** The request's re-base round this signature belongs to. */
    round: integer().notNull().default(0),
  },
  (t) => [index("review_signatures_request_idx").on(t.requestId), uniqueIndex("review_signatures_record_key").on(t.recordHash)],
);

/** "Request changes": blocks approval until the same reviewer clears it. */
export const reviewChangeRequests = pgTable(
  "review_change_requests",
  {
    id: uuid().primaryKey().defaultRandom(),
    requestId: uuid()
      .notNull()
      .references(() => reviewRequests.id, { onDelete: "cascade" }),
    reviewerId: uuid()
      .notNull()
      .references(() => users.id),
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
    workspaceId: uuid()
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    requestId: uuid()
      .notNull()
      .references(() => reviewRequests.id, { onDelete: "cascade" }),
    threadId: uuid().notNull(),
    /** What the thread is about: "general", "card", "check:<name>", "metric:<name>", "signature", "lineage". */
    anchor: text().notNull().default("general"),
    authorId: uuid()
      .notNull()
      .references(() => users.id),
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
    commentId: uuid()
      .notNull()
      .references(() => reviewComments.id, { onDelete: "cascade" }),
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
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    workspaceId: uuid().references(() => workspaces.id, { onDelete: "cascade" }),
    kind: text({ enum: ["mention", "review_assigned", "approval_needed", "decision", "changes_requested", "alert", "revalidation"] }).notNull(),
    title: text().notNull(),
    body: text(),
    link: text(),
    actorLabel: text(),
    readAt: timestamp({ withTimezone: true }),
    emailedAt: timestamp({ withTimezone: true }),
    createdAt,
  },
  (t) => [
    index("notifications_user_idx").on(t.userId, t.createdAt),
    index("notifications_unread_idx")
      .on(t.userId)
      .where(sql`read_at is null`),
  ],
);

/**
 * A signature waiting for a fresh single-sign-on login (server/reviews/sso-signing.ts): the
 * decision and meaning are fixed when it starts; the identity provider's callback finds it by
 * `state`, checks the new login (nonce, PKCE, `auth_time` after `createdAt`, same person) and
 * signs with it. Short-lived sign-in state, not governed state: the signature (or the refusal)
 * is what is audited.
 */
export const signingChallenges = pgTable(
  "signing_challenges",
  {
    id: uuid().primaryKey().defaultRandom(),
    workspaceId: uuid()
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    requestId: uuid()
      .notNull()
      .references(() => reviewRequests.id, { onDelete: "cascade" }),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    decision: text({ enum: ["approve", "reject"] }).notNull(),
    meaning: text().notNull(),
    reason: text(),
    /** sha256 of the OAuth `state`; the state itself only travels through the browser. */
    stateHash: text().notNull(),
    nonce: text().notNull(),
    codeVerifier: text().notNull(),
    /** Where the browser goes afterwards: a path of this app, or a CLI's loopback address. */
    returnTo: text(),
    status: text({ enum: ["pending", "completing", "confirming", "signed", "refused"] })
      .notNull()
      .default("pending"),
    error: text(),
    outcome: text({ enum: ["signed", "approved", "rejected"] }),
    signatureId: uuid(),
    /**
     * After the provider's login: sha256 of the confirmation cookie set in the browser that
     * logged in; the signature is recorded only when that browser confirms what it signs.
     */
    confirmHash: text(),
    /** The provider's `auth_time` and issuer of the login, kept until the signer confirms. */
    authTime: timestamp({ withTimezone: true }),
    issuer: text(),
    createdAt,
    expiresAt: timestamp({ withTimezone: true }).notNull(),
    completedAt: timestamp({ withTimezone: true }),
  },
  (t) => [uniqueIndex("signing_challenges_state_key").on(t.stateHash), index("signing_challenges_user_idx").on(t.userId)],
);

import { relations, sql } from "drizzle-orm";
import { boolean, index, integer, pgEnum, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
// Relative: drizzle-kit loads the schema without the ~ alias.
import { ROLES } from "../../server/shared/permissions";

/** The roles (and their order, lowest first) are defined with the permission table, which the browser also loads. */
export { ROLES, type Role } from "../../server/shared/permissions";

export const roleEnum = pgEnum("role", ROLES);

const timestamps = {
  createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
};

export const users = pgTable(
  "users",
  {
    id: uuid().primaryKey().defaultRandom(),
    /** Stored lower-cased; the unique index makes sign-up races fail cleanly. */
    email: text().notNull(),
    name: text().notNull(),
    /** argon2id PHC string; null for accounts that only sign in through OIDC. */
    passwordHash: text(),
    lastSignInAt: timestamp({ withTimezone: true }),
    /** A deactivated account cannot sign in, sign, or use a live session or token. */
    deactivatedAt: timestamp({ withTimezone: true }),
    /** In every session token; bumping it ends every live session of the account at once. */
    sessionVersion: integer().notNull().default(0),
    /** May deactivate and reactivate accounts (the first account of an instance is one). */
    instanceAdmin: boolean().notNull().default(false),
    ...timestamps,
  },
  (t) => [uniqueIndex("users_email_key").on(t.email)],
);

/**
 * One row per signed-in browser session; its id is the `sid` claim of the session token.
 * A token whose row is gone (signed out, password changed, "sign out everywhere") or past
 * `expires_at` (an absolute lifetime, however often the cookie is refreshed) is refused.
 */
export const authSessions = pgTable(
  "auth_sessions",
  {
    id: uuid().primaryKey().defaultRandom(),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp({ withTimezone: true }).notNull(),
  },
  (t) => [index("auth_sessions_user_idx").on(t.userId)],
);

export const workspaces = pgTable(
  "workspaces",
  {
    id: uuid().primaryKey().defaultRandom(),
    slug: text().notNull(),
    name: text().notNull(),
    /** How long prediction logs are kept. Audit events are never removed by retention. */
    predictionRetentionDays: integer().notNull().default(90),
    /** Compliance frameworks this workspace reports against (ids of server/shared/frameworks/*.json); some set a retention floor. */
    frameworks: text()
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    /** Whether viewers may download model and dataset files (every other role with registry:read always may). */
    viewerDownloads: boolean().notNull().default(true),
    ...timestamps,
  },
  (t) => [uniqueIndex("workspaces_slug_key").on(t.slug)],
);

export const memberships = pgTable(
  "memberships",
  {
    id: uuid().primaryKey().defaultRandom(),
    workspaceId: uuid()
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    role: roleEnum().notNull(),
    ...timestamps,
  },
  (t) => [uniqueIndex("memberships_workspace_user_key").on(t.workspaceId, t.userId), index("memberships_user_idx").on(t.userId)],
);

export const invitations = pgTable(
  "invitations",
  {
    id: uuid().primaryKey().defaultRandom(),
    workspaceId: uuid()
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    email: text().notNull(),
    role: roleEnum().notNull(),
    /** sha256 of the token in the link; the token itself is shown once and never stored. */
    tokenHash: text().notNull(),
    invitedBy: uuid()
      .notNull()
      .references(() => users.id),
    expiresAt: timestamp({ withTimezone: true }).notNull(),
    acceptedAt: timestamp({ withTimezone: true }),
    acceptedBy: uuid().references(() => users.id),
    revokedAt: timestamp({ withTimezone: true }),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("invitations_token_hash_key").on(t.tokenHash),
    index("invitations_workspace_idx").on(t.workspaceId),
    // At most one open invitation per address and workspace.
    uniqueIndex("invitations_open_key")
      .on(t.workspaceId, t.email)
      .where(sql`accepted_at is null and revoked_at is null`),
  ],
);

export const usersRelations = relations(users, ({ many }) => ({ memberships: many(memberships) }));
export const workspacesRelations = relations(workspaces, ({ many }) => ({
  memberships: many(memberships),
  invitations: many(invitations),
}));
export const membershipsRelations = relations(memberships, ({ one }) => ({
  workspace: one(workspaces, { fields: [memberships.workspaceId], references: [workspaces.id] }),
  user: one(users, { fields: [memberships.userId], references: [users.id] }),
}));
export const invitationsRelations = relations(invitations, ({ one }) => ({
  workspace: one(workspaces, { fields: [invitations.workspaceId], references: [workspaces.id] }),
}));

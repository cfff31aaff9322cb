import { sql } from "drizzle-orm";
import { boolean, check, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { users } from "./identity";

export const WORKSPACE_CREATION = ["anyone", "admins"] as const;
export const COMMAND_STEP_MODES = ["all", "selected", "none"] as const;

/**
 * The instance's own settings, changed by instance administrators (Settings › Instance) and
 * audited in the instance chain. One row at most (id is always 'instance'); a missing row
 * or a null field means the default. An environment variable, where one exists, wins over
 * the row (server/instance/settings.service.ts).
 */
export const instanceSettings = pgTable(
  "instance_settings",
  {
    id: text().primaryKey().default("instance"),
    /** null: open until the instance has its first administrator, closed afterwards. */
    signupOpen: boolean(),
    /** Lower-case e-mail domains sign-up is limited to; empty means any domain. */
    signupDomains: text()
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    workspaceCreation: text({ enum: WORKSPACE_CREATION }).notNull().default("anyone"),
    commandSteps: text({ enum: COMMAND_STEP_MODES }).notNull().default("all"),
    /** The workspaces command steps may run in when commandSteps is 'selected'. */
    commandStepWorkspaces: uuid()
      .array()
      .notNull()
      .default(sql`'{}'::uuid[]`),
    updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    updatedBy: uuid().references(() => users.id, { onDelete: "set null" }),
  },
  (t) => [
    check("instance_settings_single_row", sql`${t.id} = 'instance'`),
    check("instance_settings_workspace_creation", sql`${t.workspaceCreation} in ('anyone', 'admins')`),
    check("instance_settings_command_steps", sql`${t.commandSteps} in ('all', 'selected', 'none')`),
  ],
);

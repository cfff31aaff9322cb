import { z } from "zod";

/** Isomorphic: the Settings › Instance form validates with the same schema the server saves with. */
export const WORKSPACE_CREATION = ["anyone", "admins"] as const;
export const COMMAND_STEP_MODES = ["all", "selected", "none"] as const;

export const EmailDomain = z
  .string()
  .trim()
  .toLowerCase()
  .transform((d) => d.replace(/^@/, ""))
  .pipe(
    z
      .string()
      .max(253, "A domain has at most 253 characters.")
      .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, "Enter a domain such as example.com (no @, no spaces)."),
  );

export const UpdateInstanceSettingsInput = z
  .object({
    signupOpen: z.boolean(),
    signupDomains: z.array(EmailDomain).max(100, "At most 100 domains."),
    workspaceCreation: z.enum(WORKSPACE_CREATION, { error: "Choose anyone or admins." }),
    commandSteps: z.enum(COMMAND_STEP_MODES, { error: "Choose all, selected or none." }),
    commandStepWorkspaces: z.array(z.uuid("Each workspace must be a UUID.")).max(10_000),
  })
  .partial()
  .strict();
export type UpdateInstanceSettingsInput = z.infer<typeof UpdateInstanceSettingsInput>;

/** Which environment variable pins a setting (the page shows it locked). */
export const SETTING_ENV = {
  signupOpen: "SIGNUP",
  signupDomains: "SIGNUP_DOMAINS",
  workspaceCreation: "WORKSPACE_CREATION",
  commandSteps: "COMMAND_STEPS",
  commandStepWorkspaces: "COMMAND_STEPS",
} as const;
export type SettingKey = keyof typeof SETTING_ENV;

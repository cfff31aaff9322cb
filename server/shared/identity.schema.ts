import { z } from "zod";
import { ROLES } from "./permissions";

// Isomorphic: forms import these for client-side validation with the same messages.

const COMMON_PASSWORDS = new Set([
  "password1234",
  "passwordpassword",
  "123456789012",
  "qwertyuiopas",
  "letmeinletmein",
  "iloveyou1234",
  "administrator",
  "welcome12345",
  "changeme1234",
  "steward12345",
]);

export const Email = z
  .string({ error: "E-mail is required." })
  .trim()
  .toLowerCase()
  .max(254, "E-mail must be at most 254 characters.")
  .pipe(z.email("Enter a valid e-mail address, like ada@example.com."));

export const Password = z
  .string({ error: "Password is required." })
  .min(12, "Password must be at least 12 characters.")
  .max(256, "Password must be at most 256 characters.")
  .refine((p) => !COMMON_PASSWORDS.has(p.toLowerCase()), "This password is too common; choose another.")
  .refine((p) => new Set(p).size >= 5, "Password is too repetitive; use more different characters.");

export const PersonName = z.string({ error: "Name is required." }).trim().min(1, "Name is required.").max(80, "Name must be at most 80 characters.");

export const RoleInput = z.enum(ROLES, {
  error: () => `Role must be one of: ${ROLES.join(", ")}.`,
});

export const SignUpInput = z
  .object({ name: PersonName, email: Email, password: Password })
  .refine((v) => !v.password.toLowerCase().includes(v.email.split("@")[0]!.toLowerCase()), {
    path: ["password"],
    message: "Password must not contain your e-mail address.",
  });
export type SignUpInput = z.infer<typeof SignUpInput>;

export const SignInInput = z.object({
  email: Email,
  password: z.string().min(1, "Password is required.").max(256, "Password must be at most 256 characters."),
});
export type SignInInput = z.infer<typeof SignInInput>;

export const RESERVED_SLUGS = new Set(["new", "api", "admin", "settings", "w", "invite", "signin", "signup"]);

export const WorkspaceName = z
  .string({ error: "Workspace name is required." })
  .trim()
  .min(2, "Workspace name must be at least 2 characters.")
  .max(60, "Workspace name must be at most 60 characters.");

export const WorkspaceSlug = z
  .string()
  .trim()
  .toLowerCase()
  .min(3, "URL name must be at least 3 characters.")
  .max(40, "URL name must be at most 40 characters.")
  .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, "URL name may use lower-case letters, digits and single hyphens.")
  .refine((s) => !RESERVED_SLUGS.has(s), "This URL name is reserved; choose another.");

export const CreateWorkspaceInput = z.object({ name: WorkspaceName, slug: WorkspaceSlug.optional() });
export type CreateWorkspaceInput = z.infer<typeof CreateWorkspaceInput>;

export const WorkspaceIdInput = z.object({ workspaceId: z.uuid("workspaceId must be a UUID.") });

export const SetRetentionInput = WorkspaceIdInput.extend({
  predictionRetentionDays: z
    .number({ error: "Retention must be a number of days." })
    .int("Retention must be a whole number of days.")
    .min(1, "Retention must be at least 1 day.")
    .max(3650, "Retention must be at most 3650 days (10 years)."),
});
export type SetRetentionInput = z.infer<typeof SetRetentionInput>;

export const SetViewerDownloadsInput = WorkspaceIdInput.extend({ viewerDownloads: z.boolean({ error: "viewerDownloads must be true or false." }) });
export type SetViewerDownloadsInput = z.infer<typeof SetViewerDownloadsInput>;

export const RenameWorkspaceInput = WorkspaceIdInput.extend({ name: WorkspaceName });
export type RenameWorkspaceInput = z.infer<typeof RenameWorkspaceInput>;

export const InviteMemberInput = WorkspaceIdInput.extend({ email: Email, role: RoleInput });
export type InviteMemberInput = z.infer<typeof InviteMemberInput>;

export const RevokeInvitationInput = WorkspaceIdInput.extend({ invitationId: z.uuid("invitationId must be a UUID.") });

export const ChangeRoleInput = WorkspaceIdInput.extend({ userId: z.uuid("userId must be a UUID."), role: RoleInput });
export type ChangeRoleInput = z.infer<typeof ChangeRoleInput>;

export const RemoveMemberInput = WorkspaceIdInput.extend({ userId: z.uuid("userId must be a UUID.") });

export const InvitationToken = z
  .string({ error: "Invitation token is required." })
  .regex(/^[A-Za-z0-9_-]{43}$/, "This invitation link is malformed; ask for a new one.");
export const InvitationTokenInput = z.object({ token: InvitationToken });

export function slugify(name: string): string {
  const s = name
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40)
    .replace(/-+$/g, "");
  return s.length >= 3 ? s : `${s || "ws"}-${Math.random().toString(36).slice(2, 6)}`;
}

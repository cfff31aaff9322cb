import { z } from "zod";
import { RoleInput, WorkspaceIdInput } from "~/server/shared/identity.schema";

// Isomorphic: the upload forms, the REST layer and the CLI validate with these.

export const RegistryName = z
  .string({ error: "Name is required." })
  .trim()
  .min(1, "Name is required.")
  .max(100, "Name must be at most 100 characters.")
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]*$/,
    "Name may use letters, digits, '.', '_' and '-' and must start with a letter or digit (no slashes, spaces or control characters).",
  );

export const AliasName = z
  .string({ error: "Alias is required." })
  .trim()
  .regex(/^[a-z][a-z0-9_-]{0,39}$/, "Alias must be 1-40 lower-case letters, digits, '_' or '-', starting with a letter.");

export const VersionNumber = z.coerce
  .number({ error: "Version must be a number." })
  .int("Version must be a whole number.")
  .positive("Version must be 1 or more.");

/** `name@version`, as the CLI and the API write references to dataset and model versions. */
export const VersionRef = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*@\d+$/, "A version reference looks like name@3.")
  .transform((s) => {
    const at = s.lastIndexOf("@");
    return { name: s.slice(0, at), version: Number(s.slice(at + 1)) };
  });

const Markdown = z.string().max(50_000, "Description must be at most 50,000 characters.");

export const DatasetUploadMeta = z.object({
  description: Markdown.optional(),
});
export type DatasetUploadMeta = z.infer<typeof DatasetUploadMeta>;

export const ModelUploadMeta = z.object({
  description: Markdown.optional(),
  params: z
    .record(z.string().min(1).max(100), z.union([z.string().max(1000), z.number(), z.boolean()]), {
      error: "params must be an object of names to strings, numbers or booleans.",
    })
    .optional(),
  metrics: z
    .record(z.string().min(1).max(100), z.number().finite("Metric values must be finite numbers."), {
      error: "metrics must be an object of names to numbers.",
    })
    .optional(),
  tags: z.array(z.string().trim().min(1).max(40, "A tag must be at most 40 characters.")).max(20, "At most 20 tags.").optional(),
  gitCommit: z
    .string()
    .trim()
    .regex(/^[0-9a-f]{7,40}$/i, "gitCommit must be a hexadecimal commit hash of 7 to 40 characters.")
    .optional(),
  datasets: z
    .array(z.object({ ref: VersionRef, role: z.enum(["train", "eval"], { error: "A dataset's role is train or eval." }) }))
    .max(20)
    .optional(),
  /** A version number of the same model, or another model's `name@version`. */
  parent: z.union([VersionNumber, VersionRef]).optional(),
});
export type ModelUploadMeta = z.input<typeof ModelUploadMeta>;

export const DatasetRef = WorkspaceIdInput.extend({ name: RegistryName });
export const DatasetVersionRef = DatasetRef.extend({ version: VersionNumber });
export const ModelRef = WorkspaceIdInput.extend({ name: RegistryName });
export const ModelVersionRef = ModelRef.extend({ version: VersionNumber });
export const SetAliasInput = ModelRef.extend({ alias: AliasName, version: VersionNumber });
export type SetAliasInput = z.infer<typeof SetAliasInput>;
export const RemoveAliasInput = ModelRef.extend({ alias: AliasName });
export const CompareInput = ModelRef.extend({ a: VersionNumber, b: VersionNumber });

export const CreateTokenInput = WorkspaceIdInput.extend({
  name: z.string().trim().min(1, "Token name is required.").max(60, "Token name must be at most 60 characters."),
  role: RoleInput,
  expiresInDays: z.number().int().min(1).max(3650).optional(),
});
export type CreateTokenInput = z.infer<typeof CreateTokenInput>;
export const RevokeTokenInput = WorkspaceIdInput.extend({ tokenId: z.uuid("tokenId must be a UUID.") });

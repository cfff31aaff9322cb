import { z } from "zod";
import { WorkspaceIdInput } from "~/server/shared/identity.schema";
import { RegistryName, VersionNumber } from "~/server/shared/registry.schema";

// Isomorphic: the tRPC router, the REST routes and the CLI validate with these.

export const PipelineName = z
  .string({ error: "Pipeline name is required." })
  .trim()
  .regex(/^[a-z][a-z0-9_-]{0,59}$/, "Pipeline name must be 1-60 lower-case letters, digits, '_' or '-', starting with a letter.");

export const PipelineRef = WorkspaceIdInput.extend({ name: PipelineName, version: VersionNumber.optional() });
export const SavePipelineInput = WorkspaceIdInput.extend({
  name: PipelineName,
  yaml: z.string().max(100_000, "A pipeline definition must be at most 100,000 characters."),
});
export const StartRunInput = WorkspaceIdInput.extend({ pipeline: PipelineName, model: RegistryName.optional(), version: VersionNumber.optional() });
export const RunRef = WorkspaceIdInput.extend({ runId: z.uuid("runId must be a UUID.") });
export const RunsFilter = WorkspaceIdInput.extend({
  pipeline: PipelineName.optional(),
  model: RegistryName.optional(),
  version: VersionNumber.optional(),
  limit: z.number().int().min(1).max(500).optional(),
});
export const LogsInput = WorkspaceIdInput.extend({ stepRunId: z.uuid("stepRunId must be a UUID."), afterId: z.number().int().min(0).default(0) });
export const VersionValidationInput = WorkspaceIdInput.extend({ name: RegistryName, version: VersionNumber });

import "server-only";
import { z } from "zod";
import { Email } from "~/server/identity/identity.schema";
import * as ds from "~/server/registry/datasets.service";
import * as ms from "~/server/registry/models.service";
import { AliasName, RegistryName, VersionNumber } from "~/server/registry/registry.schema";
import * as tokens from "~/server/tokens/tokens.service";
import { publicKeyInfo } from "~/server/audit/checkpoints.service";
import { exportAudit, ExportAuditInput } from "~/server/audit/export.service";
import { AppError } from "~/server/errors";
import { reportPdf } from "~/server/governance/report-pdf";
import { buildReport } from "~/server/governance/report.service";
import * as pipelineDefs from "~/server/pipelines/definitions.service";
import { PipelineName } from "~/server/pipelines/pipelines.schema";
import * as pipelineRuns from "~/server/pipelines/runs.service";
import * as reviews from "~/server/reviews/reviews.service";
import { route, type Upload } from "./rest";

const Ws = z.object({ workspace: z.string().min(1).max(60) });
const WsName = Ws.extend({ name: RegistryName });
const WsNameVersion = WsName.extend({ version: VersionNumber });
const WsNameAlias = WsName.extend({ alias: AliasName });

/** The optional `metadata` part, as JSON; the service validates it. */
function metadataField(u: Upload): unknown {
  const raw = u.fields.metadata;
  if (raw === undefined) return {};
  try {
    return JSON.parse(raw);
  } catch {
    throw new AppError("INVALID", 'The "metadata" part must be JSON.', { field: "metadata" });
  }
}

const RunId = Ws.extend({ runId: z.uuid("runId must be a UUID.") });

export const REST_ROUTES = [
  route({
    method: "GET",
    path: "/workspaces/{workspace}/audit/export",
    tag: "audit",
    summary: "Stream the audit trail (optionally filtered by actor, action, from, to) as NDJSON with signed checkpoints and the public key, or as CSV.",
    permission: "audit:export",
    params: Ws,
    query: ExportAuditInput,
    handler: async ({ actor, query, meta }) => {
      const { stream, filename, contentType } = await exportAudit(actor, query, meta);
      return new Response(stream, { headers: { "content-type": contentType, "content-disposition": `attachment; filename="${filename}"`, "cache-control": "no-store" } });
    },
  }),
  route({
    method: "GET",
    path: "/audit/public-key",
    tag: "audit",
    summary: "The Ed25519 public key that signs audit checkpoints (PEM), for offline verification.",
    permission: null,
    handler: async () => publicKeyInfo(),
  }),
  route({
    method: "POST",
    path: "/auth/token",
    tag: "auth",
    summary: "Exchange e-mail and password for an API token in one workspace (what `steward login` does).",
    permission: null,
    status: 201,
    body: z.object({ email: Email, password: z.string().min(1).max(256), workspace: z.string().min(1).max(60), name: z.string().trim().min(1).max(60).default("steward CLI") }),
    handler: ({ body, meta }) => tokens.tokenFromPassword(body, meta),
  }),
  route({
    method: "GET",
    path: "/me",
    tag: "auth",
    summary: "Which workspace and role the calling API token acts in.",
    permission: null,
    handler: async ({ actor }) => {
      if (!actor) throw new AppError("UNAUTHORIZED", "Send an API token: Authorization: Bearer <token>.");
      const t = actor as typeof actor & { workspaceSlug?: string };
      return { userId: actor.userId, email: actor.email, workspaceId: actor.workspaceId, workspace: t.workspaceSlug ?? null, role: actor.role };
    },
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/me",
    tag: "auth",
    summary: "Who the caller is in this workspace, and with which role.",
    permission: "workspace:read",
    params: Ws,
    handler: async ({ actor }) => ({ userId: actor.userId, email: actor.email, workspaceId: actor.workspaceId, role: actor.role }),
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/datasets",
    tag: "datasets",
    summary: "List datasets with their version counts.",
    permission: "registry:read",
    params: Ws,
    handler: ({ actor }) => ds.listDatasets(actor),
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/datasets/{name}",
    tag: "datasets",
    summary: "A dataset and its versions.",
    permission: "registry:read",
    params: WsName,
    handler: ({ actor, params }) => ds.getDataset(actor, params.name),
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/datasets/{name}/versions/{version}",
    tag: "datasets",
    summary: "One dataset version with its schema and profile.",
    permission: "registry:read",
    params: WsNameVersion,
    handler: ({ actor, params }) => ds.getDatasetVersion(actor, params.name, params.version),
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/datasets/{name}/versions",
    tag: "datasets",
    summary: "Upload a CSV or Parquet file as a new version (multipart: optional `metadata` JSON part first, then `file`). The same bytes return the existing version with 200.",
    permission: "model:write",
    params: WsName,
    multipart: { fields: { metadata: "JSON: { description? }" }, file: "file" },
    status: 201,
    handler: async ({ actor, params, meta, upload }) => {
      const result = await upload((u) =>
        ds.uploadDatasetVersion(actor, { name: params.name, filename: u.filename, meta: metadataField(u) }, u.stream, meta),
      );
      return Response.json(result, { status: result.created ? 201 : 200 });
    },
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/models",
    tag: "models",
    summary: "List models with their latest version and aliases.",
    permission: "registry:read",
    params: Ws,
    handler: ({ actor }) => ms.listModels(actor),
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/models/{name}",
    tag: "models",
    summary: "A model, its versions, aliases and lineage.",
    permission: "registry:read",
    params: WsName,
    handler: ({ actor, params }) => ms.getModel(actor, params.name),
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/models/{name}/versions/{version}",
    tag: "models",
    summary: "One model version with its ONNX signature and metadata.",
    permission: "registry:read",
    params: WsNameVersion,
    handler: ({ actor, params }) => ms.getModelVersion(actor, params.name, params.version),
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/models/{name}/versions",
    tag: "models",
    summary:
      "Upload an ONNX file as the next version (multipart: optional `metadata` JSON part first — description, params, metrics, tags, gitCommit, datasets [{ref: 'name@version', role: 'train'|'eval'}], parent — then `file`).",
    permission: "model:write",
    params: WsName,
    multipart: { fields: { metadata: "JSON: { description?, params?, metrics?, tags?, gitCommit?, datasets?, parent? }" }, file: "file" },
    status: 201,
    handler: async ({ actor, params, meta, upload }) => {
      const result = await upload((u) =>
        ms.uploadModelVersion(actor, { name: params.name, filename: u.filename, meta: metadataField(u) }, u.stream, meta),
      );
      return Response.json(result, { status: result.created ? 201 : 200 });
    },
  }),
  route({
    method: "PUT",
    path: "/workspaces/{workspace}/models/{name}/aliases/{alias}",
    tag: "models",
    summary: "Point an alias at a version. Aliases protected by an approval policy (staging and production by default) are refused: open a review instead.",
    permission: "model:alias",
    params: WsNameAlias,
    body: z.object({ version: VersionNumber }),
    handler: ({ actor, params, body, meta }) =>
      ms.setAlias(actor, { workspaceId: actor.workspaceId, name: params.name, alias: params.alias, version: body.version }, meta),
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/reviews",
    tag: "reviews",
    summary: "Open a review request: propose a model version for a protected alias. It moves when the alias's approval policy is satisfied (signatures are given in the review room).",
    permission: "review:participate",
    params: Ws,
    body: z.object({ model: RegistryName, version: VersionNumber, alias: AliasName, summary: z.string(), assignees: z.array(z.uuid()).optional() }),
    handler: async ({ actor, body, meta }) => Response.json(await reviews.openReview(actor, body, meta), { status: 201 }),
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/reviews/{number}",
    tag: "reviews",
    summary: "A review request: status, policy checklist, signatures (with their record hashes), checks and discussion.",
    permission: "registry:read",
    params: Ws.extend({ number: z.coerce.number().int().positive("number must be the review's number (1, 2, …).") }),
    handler: ({ actor, params }) => reviews.getRoom(actor, params.number),
  }),
  route({
    method: "DELETE",
    path: "/workspaces/{workspace}/models/{name}/aliases/{alias}",
    tag: "models",
    summary: "Remove an alias.",
    permission: "model:alias",
    params: WsNameAlias,
    handler: ({ actor, params, meta }) => ms.removeAlias(actor, { name: params.name, alias: params.alias }, meta),
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/models/{name}/versions/{version}/report",
    tag: "governance",
    summary: "The compliance report of a model version: JSON (default) or PDF (?format=pdf), with a manifest of hashes tying it to the artifact and the audit chain.",
    permission: "registry:read",
    params: WsNameVersion,
    query: z.object({ format: z.enum(["json", "pdf"]).default("json") }),
    handler: async ({ actor, params, query }) => {
      const report = await buildReport(actor, params.name, params.version);
      if (query.format === "json") return report;
      const pdf = await reportPdf(report);
      return new Response(new Uint8Array(pdf), {
        headers: {
          "content-type": "application/pdf",
          "content-disposition": `attachment; filename="report-${params.name}-v${params.version}.pdf"`,
          "x-steward-manifest-sha256": report.manifestHash,
        },
      });
    },
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/models/{name}/compare",
    tag: "models",
    summary: "Compare two versions: metadata, metric deltas, signature and op differences, size.",
    permission: "registry:read",
    params: WsName,
    query: z.object({ a: VersionNumber, b: VersionNumber }),
    handler: ({ actor, params, query }) => ms.compareVersions(actor, params.name, query.a, query.b),
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/pipelines",
    tag: "pipelines",
    summary: "Pipeline definitions: name, current version, triggers.",
    permission: "registry:read",
    params: Ws,
    handler: ({ actor }) => pipelineDefs.listPipelines(actor),
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/pipelines/{pipeline}",
    tag: "pipelines",
    summary: "A pipeline's current YAML, parsed definition and version history.",
    permission: "registry:read",
    params: Ws.extend({ pipeline: PipelineName }),
    handler: ({ actor, params }) => pipelineDefs.getPipeline(actor, params.pipeline),
  }),
  route({
    method: "PUT",
    path: "/workspaces/{workspace}/pipelines/{pipeline}",
    tag: "pipelines",
    summary: "Create a pipeline or save a new version of it from YAML (command steps: admins only).",
    permission: "pipeline:define",
    params: Ws.extend({ pipeline: PipelineName }),
    body: z.object({ yaml: z.string().max(100_000) }),
    handler: ({ actor, params, body, meta }) => pipelineDefs.savePipeline(actor, { name: params.pipeline, yaml: body.yaml }, meta),
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/pipelines/{pipeline}/runs",
    tag: "pipelines",
    summary: "Start a run of the pipeline on a model version (version defaults to the one behind `production`).",
    permission: "pipeline:run",
    params: Ws.extend({ pipeline: PipelineName }),
    body: z.object({ model: RegistryName.optional(), version: VersionNumber.optional() }),
    status: 201,
    handler: ({ actor, params, body, meta }) => pipelineRuns.startManualRun(actor, { pipeline: params.pipeline, ...body }, meta),
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/runs",
    tag: "pipelines",
    summary: "Recent runs, newest first; filter by pipeline, model and version.",
    permission: "registry:read",
    params: Ws,
    query: z.object({ pipeline: PipelineName.optional(), model: RegistryName.optional(), version: VersionNumber.optional(), limit: z.coerce.number().int().min(1).max(500).optional() }),
    handler: ({ actor, query }) => pipelineRuns.listRuns(actor, query),
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/runs/{runId}",
    tag: "pipelines",
    summary: "One run: its steps (status, times, outputs), checks and artifacts.",
    permission: "registry:read",
    params: RunId,
    handler: ({ actor, params }) => pipelineRuns.getRun(actor, params.runId),
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/runs/{runId}/cancel",
    tag: "pipelines",
    summary: "Cancel a queued or running run.",
    permission: "pipeline:run",
    params: RunId,
    handler: async ({ actor, params, meta }) => {
      await pipelineRuns.cancelRun(actor, params.runId, meta);
      return { cancelled: true };
    },
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/models/{name}/versions/{version}/validation",
    tag: "pipelines",
    summary: "The latest validation run of a model version (the `validate` pipeline first) with its checks — what `steward runs wait` polls.",
    permission: "registry:read",
    params: WsNameVersion,
    handler: async ({ actor, params }) => ({ run: await pipelineRuns.latestValidation(actor, params.name, params.version) }),
  }),
];

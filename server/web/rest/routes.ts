import "server-only";
import { z } from "zod";
import { Email } from "~/server/shared/identity.schema";
import * as ds from "~/server/registry/datasets.service";
import * as ms from "~/server/registry/models.service";
import { AliasName, CompareInput, SetAliasInput, VersionNumber } from "~/server/shared/registry.schema";
import { tokenFromPassword } from "~/server/tokens/login.service";
import { publicKeyInfo, publishedCheckpoints } from "~/server/audit/checkpoints.service";
import { exportAudit, ExportAuditInput } from "~/server/audit/export.service";
import { AppError } from "~/server/errors";
import { inventoryCsv } from "~/server/governance/inventory.csv";
import { InventoryData, InventoryFilter, RevalidationData } from "~/server/shared/inventory.schema";
import * as inventory from "~/server/governance/inventory.service";
import { getFrameworks, setFrameworks } from "~/server/governance/frameworks.service";
import { FrameworksBody } from "~/server/shared/governance.schema";
import { reportPdf } from "~/server/governance/report-pdf";
import { buildReport } from "~/server/governance/report.service";
import * as pipelineDefs from "~/server/pipelines/definitions.service";
import { PipelineName, RunRef, RunsFilter, SavePipelineInput, StartRunInput } from "~/server/shared/pipelines.schema";
import * as pipelineRuns from "~/server/pipelines/runs.service";
import * as runQueries from "~/server/pipelines/runs.queries";
import * as policies from "~/server/reviews/policies.service";
import * as reviews from "~/server/reviews/requests.service";
import * as reviewQueries from "~/server/reviews/reviews.queries";
import * as deployments from "~/server/serving/deployments.service";
import * as rollouts from "~/server/serving/rollouts.service";
import { FILE_ROUTES } from "./file-routes";
import { WEBHOOK_ROUTES } from "./webhook-routes";
import { cursorKey, PageQuery, paged } from "./pagination";
import { OPERATIONS_ROUTES } from "./operations-routes";
import { Ws, WsDeployment, WsName, WsNameAlias, WsNameVersion, WsReview } from "./params";
import { PEOPLE_ROUTES } from "./people-routes";
import { UPLOAD_ROUTES } from "./upload-routes";
import { route, type Upload } from "./rest";

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

const RunId = Ws.extend(RunRef.pick({ runId: true }).shape);

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
      return new Response(stream, {
        headers: { "content-type": contentType, "content-disposition": `attachment; filename="${filename}"`, "cache-control": "no-store" },
      });
    },
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/audit/checkpoints",
    tag: "audit",
    summary:
      "The chain's signed checkpoints as published in the artifact store (not read from the database), newest first, with every key that verifies them: `steward audit verify --published <this URL>`.",
    permission: "audit:read",
    params: Ws,
    handler: ({ actor }) => publishedCheckpoints(actor.workspaceId),
  }),
  route({
    method: "GET",
    path: "/audit/public-key",
    tag: "audit",
    summary:
      "The Ed25519 public key that signs audit checkpoints (PEM), for offline verification, and in `keys` every key that verifies them (retired ones too).",
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
    body: z.object({
      email: Email,
      password: z.string().min(1).max(256),
      workspace: z.string().min(1).max(60),
      name: z.string().trim().min(1).max(60).default("steward CLI"),
    }),
    handler: ({ body, meta }) => tokenFromPassword(body, meta),
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
    summary:
      "Datasets by name with their version counts: pages of `limit` (default 100); the X-Next-Cursor header (and a Link rel=next) holds the `cursor` of the next page, absent on the last.",
    permission: "registry:read",
    trpc: "datasets.list",
    params: Ws,
    query: PageQuery,
    handler: async ({ actor, query, url, meta }) => {
      const rows = await ds.listDatasets(actor, { after: cursorKey.string("datasets", query.cursor), limit: query.limit + 1 });
      return paged(rows, query.limit, "datasets", (d) => d.name, url, meta.requestId!);
    },
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/datasets/{name}",
    tag: "datasets",
    summary: "A dataset and its versions.",
    permission: "registry:read",
    trpc: "datasets.byName",
    params: WsName,
    handler: ({ actor, params }) => ds.getDataset(actor, params.name),
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/datasets/{name}/versions/{version}",
    tag: "datasets",
    summary: "One dataset version with its schema and profile.",
    permission: "registry:read",
    trpc: "datasets.version",
    params: WsNameVersion,
    handler: ({ actor, params }) => ds.getDatasetVersion(actor, params.name, params.version),
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/datasets/{name}/versions",
    tag: "datasets",
    summary:
      "Upload a CSV or Parquet file as a new version (multipart: optional `metadata` JSON part first, then `file`). The same bytes return the existing version with 200.",
    permission: "model:write",
    params: WsName,
    multipart: { fields: { metadata: "JSON: { description? }" }, file: "file" },
    status: 201,
    handler: async ({ actor, params, meta, upload }) => {
      const result = await upload((u) => ds.uploadDatasetVersion(actor, { name: params.name, filename: u.filename, meta: metadataField(u) }, u.stream, meta));
      return Response.json(result, { status: result.created ? 201 : 200 });
    },
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/models",
    tag: "models",
    summary:
      "Models by name, with their latest version and aliases: pages of `limit` (default 100); the X-Next-Cursor header (and a Link rel=next) holds the `cursor` of the next page, absent on the last.",
    permission: "registry:read",
    trpc: "models.list",
    params: Ws,
    query: PageQuery,
    handler: async ({ actor, query, url, meta }) => {
      const rows = await ms.listModels(actor, { after: cursorKey.string("models", query.cursor), limit: query.limit + 1 });
      return paged(rows, query.limit, "models", (m) => m.name, url, meta.requestId!);
    },
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/models/{name}",
    tag: "models",
    summary: "A model, its versions, aliases and lineage.",
    permission: "registry:read",
    trpc: "models.byName",
    params: WsName,
    handler: ({ actor, params }) => ms.getModel(actor, params.name),
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/models/{name}/versions/{version}",
    tag: "models",
    summary: "One model version with its ONNX signature and metadata.",
    permission: "registry:read",
    trpc: "models.version",
    params: WsNameVersion,
    handler: ({ actor, params }) => ms.getModelVersion(actor, params.name, params.version),
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/models/{name}/versions",
    tag: "models",
    summary:
      "A model's versions, newest first: metrics, params, tags, loadable, who and when. `filter` narrows them, MLflow-style: clauses joined by `and`, each `metrics.<name> <op> <number>` (op = != < <= > >=), `params.<name> = '<text>'`, `tag = '<text>'` or `loadable = true|false`, e.g. `metrics.auc >= 0.8 and tag = 'candidate'`. Pages of `limit` (default 100): the X-Next-Cursor header (and a Link rel=next) holds the `cursor` of older versions.",
    permission: "registry:read",
    trpc: "models.versions",
    params: WsName,
    query: PageQuery.extend({ filter: z.string().max(2000).optional() }),
    handler: async ({ actor, params, query, url, meta }) => {
      const rows = await ms.listModelVersions(actor, params.name, {
        filter: query.filter,
        before: cursorKey.number("versions", query.cursor),
        limit: query.limit + 1,
      });
      return paged(rows, query.limit, "versions", (v) => v.version, url, meta.requestId!);
    },
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/models/{name}/versions",
    tag: "models",
    summary:
      "Upload an ONNX file, or a .zip/.tar/.tar.gz bundle of model.onnx and its external data files (docs/SERVING.md), as the next version (multipart: optional `metadata` JSON part first — description, params, metrics, tags, gitCommit, datasets [{ref: 'name@version', role: 'train'|'eval'}], parent — then `file`).",
    permission: "model:write",
    params: WsName,
    multipart: { fields: { metadata: "JSON: { description?, params?, metrics?, tags?, gitCommit?, datasets?, parent? }" }, file: "file" },
    status: 201,
    handler: async ({ actor, params, meta, upload }) => {
      const result = await upload((u) => ms.uploadModelVersion(actor, { name: params.name, filename: u.filename, meta: metadataField(u) }, u.stream, meta));
      return Response.json(result, { status: result.created ? 201 : 200 });
    },
  }),
  route({
    method: "PUT",
    path: "/workspaces/{workspace}/models/{name}/aliases/{alias}",
    tag: "models",
    summary: "Point an alias at a version. Aliases protected by an approval policy (staging and production by default) are refused: open a review instead.",
    permission: "model:alias",
    trpc: "models.setAlias",
    params: WsNameAlias,
    body: SetAliasInput.pick({ version: true }),
    handler: ({ actor, params, body, meta }) =>
      ms.setAlias(actor, { workspaceId: actor.workspaceId, name: params.name, alias: params.alias, version: body.version }, meta),
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/reviews",
    tag: "reviews",
    summary:
      "Open a review request: propose a model version for a protected alias. It moves when the alias's approval policy is satisfied (signatures are given in the review room).",
    permission: "review:participate",
    trpc: "reviews.open",
    params: Ws,
    // JSON clients may send the version as text, as in paths.
    body: reviews.OpenReviewInput.extend({ version: VersionNumber }),
    handler: async ({ actor, body, meta }) => Response.json(await reviews.openReview(actor, body, meta), { status: 201 }),
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/reviews/{number}",
    tag: "reviews",
    summary: "A review request: status, policy checklist, signatures (with their record hashes), checks and discussion.",
    permission: "registry:read",
    trpc: "reviews.get",
    params: WsReview,
    handler: ({ actor, params }) => reviewQueries.getRoom(actor, params.number),
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/reviews/{number}/rebase",
    tag: "reviews",
    summary:
      "Re-base a superseded review request on the version that holds its alias now (the requester or an admin): signatures of earlier rounds no longer count and the approvers are asked again.",
    permission: "review:participate",
    trpc: "reviews.rebase",
    params: WsReview,
    handler: ({ actor, params, meta }) => reviews.rebaseReview(actor, { number: params.number }, meta),
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/policies",
    tag: "reviews",
    summary: "Approval policies per alias (defaults included), with their history and the change waiting for a second admin or owner, if any.",
    permission: "registry:read",
    trpc: "policies.list",
    params: Ws,
    handler: ({ actor }) => policies.listPolicies(actor),
  }),
  route({
    method: "PUT",
    path: "/workspaces/{workspace}/policies/{alias}",
    tag: "reviews",
    summary:
      "Change an alias's approval policy. On a protected alias this proposes the change ({ pending: true, changeId }): it applies only when another admin or owner approves it. An alias that is not protected gets its policy at once.",
    permission: "workspace:update",
    trpc: "policies.save",
    params: Ws.extend({ alias: AliasName }),
    body: z.object({ rules: z.unknown(), active: z.boolean().optional(), reason: z.string().optional() }),
    handler: ({ actor, params, body, meta }) => policies.savePolicy(actor, { alias: params.alias, ...body }, meta),
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/policy-changes/{id}/decision",
    tag: "reviews",
    summary:
      "Approve or reject a pending policy change (an admin or owner who did not propose it). Approving applies it as the policy's next version; a change proposed against an older version is refused as stale (409).",
    permission: "workspace:update",
    trpc: "policies.decide",
    params: Ws.extend({ id: z.string() }),
    body: policies.DecidePolicyChangeInput.omit({ id: true }),
    handler: ({ actor, params, body, meta }) => policies.decidePolicyChange(actor, { id: params.id, ...body }, meta),
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/policy-changes/{id}/withdraw",
    tag: "reviews",
    summary: "Withdraw a pending policy change you proposed.",
    permission: "workspace:update",
    trpc: "policies.withdraw",
    params: Ws.extend({ id: z.string() }),
    handler: ({ actor, params, meta }) => policies.withdrawPolicyChange(actor, { id: params.id }, meta),
  }),
  route({
    method: "DELETE",
    path: "/workspaces/{workspace}/models/{name}/aliases/{alias}",
    tag: "models",
    summary: "Remove an alias.",
    permission: "model:alias",
    trpc: "models.removeAlias",
    params: WsNameAlias,
    handler: ({ actor, params, meta }) => ms.removeAlias(actor, { name: params.name, alias: params.alias }, meta),
  }),
  // ---- deployments: every traffic change goes through deployments.service (and its servability check)
  route({
    method: "GET",
    path: "/workspaces/{workspace}/deployments",
    tag: "deployments",
    summary:
      "Deployments of the workspace by name: model, bound alias, follow or pin, primary, canary, shadow, revision; ?model=, ?environment=, ?status=active|stopped narrow them. Pages of `limit` (default 100): the X-Next-Cursor header (and a Link rel=next) holds the `cursor` of the next page, absent on the last.",
    permission: "registry:read",
    trpc: "deployments.list",
    params: Ws,
    query: PageQuery.extend({
      model: z.string().max(200).optional(),
      environment: z.string().max(100).optional(),
      status: z.enum(["active", "stopped"], { error: "status must be active or stopped." }).optional(),
    }),
    handler: async ({ actor, query, url, meta }) => {
      const { cursor, limit, ...filters } = query;
      const rows = await deployments.listDeployments(actor, { ...filters, after: cursorKey.string("deployments", cursor), limit: limit + 1 });
      return paged(rows, limit, "deployments", (d) => d.name, url, meta.requestId!);
    },
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/deployments/{name}",
    tag: "deployments",
    summary: "One deployment: what it serves, its history, its latest rollout and each inference replica's version.",
    permission: "registry:read",
    trpc: "deployments.get",
    params: WsDeployment,
    handler: ({ actor, params }) => deployments.getDeployment(actor, params.name),
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/deployments",
    tag: "deployments",
    summary:
      "Deploy a model: bound to an alias (production by default), following it or pinned to a version. A protected alias's policy decides which versions may serve. Answers with the rollout id.",
    permission: "deployment:manage",
    trpc: "deployments.create",
    params: Ws,
    status: 201,
    body: deployments.CreateDeploymentInput,
    handler: ({ actor, body, meta }) => deployments.createDeployment(actor, body, meta),
  }),
  route({
    method: "PUT",
    path: "/workspaces/{workspace}/deployments/{name}/traffic",
    tag: "deployments",
    summary:
      "Set the canary (version and share) and the shadow; null clears one. A canary must be approved for the bound alias (or under review within the policy's canary allowance); any loadable version may shadow.",
    permission: "deployment:manage",
    trpc: "deployments.setTraffic",
    params: WsDeployment,
    body: deployments.SetTrafficInput.omit({ name: true }),
    handler: ({ actor, params, body, meta }) => deployments.setTraffic(actor, { ...body, name: params.name }, meta),
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/deployments/{name}/promote",
    tag: "deployments",
    summary:
      "Promote the canary: the bound alias moves to it (a following deployment) or it becomes the pinned primary. Refused unless the canary's version is approved for the alias — open a review instead.",
    permission: "deployment:manage",
    trpc: "deployments.promoteCanary",
    params: WsDeployment,
    body: deployments.PromoteCanaryInput.omit({ name: true }).default({}),
    handler: ({ actor, params, body, meta }) => deployments.promoteCanary(actor, { name: params.name, expectedRevision: body.expectedRevision }, meta),
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/deployments/{name}/rollback",
    tag: "deployments",
    summary:
      "Emergency rollback, with a reason: to the previous primary or a named version that held the bound alias within the policy's validity window. Pins the deployment.",
    permission: "deployment:manage",
    trpc: "deployments.rollback",
    params: WsDeployment,
    body: deployments.RollbackInput.omit({ name: true }),
    handler: ({ actor, params, body, meta }) => deployments.rollback(actor, { ...body, name: params.name }, meta),
  }),
  route({
    method: "PUT",
    path: "/workspaces/{workspace}/deployments/{name}/follow",
    tag: "deployments",
    summary: "Follow the bound alias again ({follow: true}) or pin a version ({follow: false, version}).",
    permission: "deployment:manage",
    trpc: "deployments.setFollow",
    params: WsDeployment,
    body: deployments.SetFollowInput.omit({ name: true }),
    handler: ({ actor, params, body, meta }) => deployments.setFollow(actor, { ...body, name: params.name }, meta),
  }),
  route({
    method: "PUT",
    path: "/workspaces/{workspace}/deployments/{name}/status",
    tag: "deployments",
    summary: "Stop (predict refused) or start a deployment.",
    permission: "deployment:manage",
    trpc: "deployments.setStatus",
    params: WsDeployment,
    body: deployments.SetStatusInput.omit({ name: true }),
    handler: ({ actor, params, body, meta }) => deployments.setStatus(actor, { ...body, name: params.name }, meta),
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/deployments/{name}/rollouts/{rollout}",
    tag: "deployments",
    summary:
      "A rollout's state (pending, live, failed with the replica's reason, superseded); {rollout} is an id or `latest`. What `steward deployments wait` polls.",
    permission: "registry:read",
    trpc: "deployments.rollout",
    params: WsDeployment.extend({ rollout: z.union([z.uuid("rollout must be a rollout id or latest."), z.literal("latest")]) }),
    handler: ({ actor, params }) => rollouts.getRollout(actor, { name: params.name, rollout: params.rollout }),
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/models/{name}/versions/{version}/report",
    tag: "governance",
    summary:
      "The compliance report of a model version: JSON (default) or PDF (?format=pdf), with a manifest of hashes tying it to the artifact and the audit chain.",
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
    path: "/workspaces/{workspace}/frameworks",
    tag: "governance",
    summary:
      "The compliance frameworks available (name, version, legal status, retention minimum), those the workspace reports against, and the retention floor they set.",
    permission: "workspace:read",
    trpc: "governance.frameworks",
    params: Ws,
    handler: ({ actor }) => getFrameworks(actor),
  }),
  route({
    method: "PUT",
    path: "/workspaces/{workspace}/frameworks",
    tag: "governance",
    summary:
      "Choose the frameworks the workspace reports against. One that requires longer log retention than the workspace keeps is refused unless raiseRetention confirms raising it to the minimum (audited).",
    permission: "workspace:update",
    trpc: "governance.setFrameworks",
    params: Ws,
    body: FrameworksBody,
    handler: ({ actor, body, meta }) => setFrameworks(actor, body, meta),
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/models/{name}/compare",
    tag: "models",
    summary: "Compare two versions: metadata, metric deltas, signature and op differences, size.",
    permission: "registry:read",
    trpc: "models.compare",
    params: WsName,
    query: CompareInput.pick({ a: true, b: true }),
    handler: ({ actor, params, query }) => ms.compareVersions(actor, params.name, query.a, query.b),
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/inventory",
    tag: "governance",
    summary:
      "The model inventory: owner, intended use, risk tier and rationale, revalidation cadence, last revalidated, next due date and status; filter by tier, status and owner. JSON, or CSV (?format=csv) with formula-like cells neutralised.",
    permission: "registry:read",
    trpc: "inventory.list",
    params: Ws,
    query: InventoryFilter.extend({ format: z.enum(["json", "csv"]).default("json") }),
    handler: async ({ actor, params, query: { format, ...filter } }) => {
      const entries = await inventory.listInventory(actor, filter);
      if (format === "json") return entries;
      return new Response(inventoryCsv(entries), {
        headers: {
          "content-type": "text/csv; charset=utf-8",
          "content-disposition": `attachment; filename="inventory-${params.workspace}-${new Date().toISOString().slice(0, 10)}.csv"`,
          "cache-control": "no-store",
        },
      });
    },
  }),
  route({
    method: "PUT",
    path: "/workspaces/{workspace}/models/{name}/inventory",
    tag: "governance",
    summary:
      "Set a model's inventory entry: owner (a member), intended use, the risk questionnaire's answers (the tier and rationale are computed from them) and the revalidation cadence in days.",
    permission: "model:write",
    trpc: "inventory.update",
    params: WsName,
    body: InventoryData,
    handler: ({ actor, params, body, meta }) => inventory.updateInventory(actor, { name: params.name, data: body }, meta),
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/models/{name}/revalidations",
    tag: "governance",
    summary: "Record a revalidation done outside Steward's reviews and pipelines (compliance officers), with a note; optionally dated in the past.",
    permission: "inventory:revalidate",
    trpc: "inventory.recordRevalidation",
    params: WsName,
    body: RevalidationData,
    status: 201,
    handler: ({ actor, params, body, meta }) => inventory.recordRevalidation(actor, { name: params.name, data: body }, meta),
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/pipelines",
    tag: "pipelines",
    summary: "Pipeline definitions: name, current version, triggers.",
    permission: "registry:read",
    trpc: "pipelines.list",
    params: Ws,
    handler: ({ actor }) => pipelineDefs.listPipelines(actor),
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/pipelines/{pipeline}",
    tag: "pipelines",
    summary: "A pipeline's current YAML, parsed definition and version history.",
    permission: "registry:read",
    trpc: "pipelines.get",
    params: Ws.extend({ pipeline: PipelineName }),
    handler: ({ actor, params }) => pipelineDefs.getPipeline(actor, params.pipeline),
  }),
  route({
    method: "PUT",
    path: "/workspaces/{workspace}/pipelines/{pipeline}",
    tag: "pipelines",
    summary: "Create a pipeline or save a new version of it from YAML (command steps: admins only).",
    permission: "pipeline:define",
    trpc: "pipelines.save",
    params: Ws.extend({ pipeline: PipelineName }),
    body: SavePipelineInput.pick({ yaml: true }),
    handler: ({ actor, params, body, meta }) => pipelineDefs.savePipeline(actor, { name: params.pipeline, yaml: body.yaml }, meta),
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/pipelines/{pipeline}/runs",
    tag: "pipelines",
    summary: "Start a run of the pipeline on a model version (version defaults to the one behind `production`).",
    permission: "pipeline:run",
    trpc: "pipelines.start",
    params: Ws.extend({ pipeline: PipelineName }),
    body: StartRunInput.pick({ model: true, version: true }),
    status: 201,
    handler: ({ actor, params, body, meta }) => pipelineRuns.startManualRun(actor, { pipeline: params.pipeline, ...body }, meta),
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/runs",
    tag: "pipelines",
    summary:
      "Runs, newest first; filter by pipeline, model and version. Pages of `limit` (default 100): the X-Next-Cursor header (and a Link rel=next) holds the `cursor` of older runs, absent on the last page.",
    permission: "registry:read",
    trpc: "runs.list",
    params: Ws,
    // A query string carries the limit as text.
    query: RunsFilter.omit({ workspaceId: true, limit: true }).extend(PageQuery.shape),
    handler: async ({ actor, query: { cursor, limit, ...filter }, url, meta }) => {
      const rows = await runQueries.listRuns(actor, { ...filter, before: cursorKey.number("runs", cursor), limit: limit + 1 });
      return paged(rows, limit, "runs", (r) => r.number, url, meta.requestId!);
    },
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/runs/{runId}",
    tag: "pipelines",
    summary: "One run: its steps (status, times, outputs), checks and artifacts.",
    permission: "registry:read",
    trpc: "runs.get",
    params: RunId,
    handler: ({ actor, params }) => runQueries.getRun(actor, params.runId),
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/runs/{runId}/cancel",
    tag: "pipelines",
    summary: "Cancel a queued or running run.",
    permission: "pipeline:run",
    trpc: "runs.cancel",
    params: RunId,
    handler: async ({ actor, params, meta }) => {
      await pipelineRuns.cancelRun(actor, params.runId, meta);
      return { cancelled: true };
    },
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/runs/{runId}/rerun",
    tag: "pipelines",
    summary: "Run the same pipeline version on the same model version again, as a new run.",
    permission: "pipeline:run",
    trpc: "runs.rerun",
    params: RunId,
    status: 201,
    handler: ({ actor, params, meta }) => pipelineRuns.rerun(actor, params.runId, meta),
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/models/{name}/versions/{version}/validation",
    tag: "pipelines",
    summary: "The latest validation run of a model version (the `validate` pipeline first) with its checks — what `steward runs wait` polls.",
    permission: "registry:read",
    trpc: "runs.forVersion",
    params: WsNameVersion,
    handler: async ({ actor, params }) => ({ run: await runQueries.latestValidation(actor, params.name, params.version) }),
  }),
  ...FILE_ROUTES,
  ...WEBHOOK_ROUTES,
  ...OPERATIONS_ROUTES,
  ...PEOPLE_ROUTES,
  ...UPLOAD_ROUTES,
];

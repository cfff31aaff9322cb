import "server-only";
import { z } from "zod";
import * as alerts from "~/server/monitoring/alerts.service";
import * as monitoring from "~/server/monitoring/monitoring.service";
import * as perf from "~/server/monitoring/performance.service";
import * as deployments from "~/server/serving/deployments.service";
import { IncidentsFilter, RangeInput, ReopenIncidentInput, ResolveIncidentInput, RuleInput } from "~/server/shared/monitoring.schema";
import { cursorKey, PageQuery, paged } from "./pagination";
import { route } from "./rest";
import { uuidParam, Ws, WsDeployment } from "./params";

/*
 * Deployment settings and keys, monitoring, alert rules and incidents: the same service
 * calls as the deployments and monitoring routers (each route names its procedure).
 */

const WsIncident = Ws.extend({ id: uuidParam("id", "an incident") });
const WsRule = WsDeployment.extend({ ruleId: uuidParam("ruleId", "an alert rule") });
const Range = z.object({ range: RangeInput });

export const OPERATIONS_ROUTES = [
  // ---- deployment settings and keys
  route({
    method: "GET",
    path: "/workspaces/{workspace}/deployments/{name}/settings",
    tag: "deployments",
    summary: "A deployment's settings: batching, threads, input sampling, sensitive inputs, canary analysis, drift reference.",
    permission: "registry:read",
    trpc: "deployments.get",
    params: WsDeployment,
    handler: async ({ actor, params }) => (await deployments.getDeployment(actor, params.name)).settings,
  }),
  route({
    method: "PUT",
    path: "/workspaces/{workspace}/deployments/{name}/settings",
    tag: "deployments",
    summary:
      "Change settings (only the fields sent): maxBatchSize, maxWaitMs, intraOpThreads, inputSampleRate, sensitiveInputs (drop or hash), canaryAnalysis, driftReference. Sending what is already set is refused (412: nothing changed).",
    permission: "deployment:manage",
    trpc: "deployments.updateSettings",
    params: WsDeployment,
    body: deployments.SettingsInput,
    handler: ({ actor, params, body, meta }) => deployments.updateSettings(actor, params.name, body, meta),
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/deployments/{name}/keys",
    tag: "deployments",
    summary: "The deployment's keys: name, prefix, created, last used, revoked (never the key itself).",
    permission: "registry:read",
    trpc: "deployments.get",
    params: WsDeployment,
    handler: async ({ actor, params }) => (await deployments.getDeployment(actor, params.name)).keys,
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/deployments/{name}/keys",
    tag: "deployments",
    summary: "Create a deployment key (stwd_…) for predict calls to this deployment only. The key is in this answer and nowhere else: store it now.",
    permission: "deployment:manage",
    trpc: "deployments.createKey",
    params: WsDeployment,
    body: z.object({ name: z.string().trim().min(1, "name is required: what uses the key.").max(60) }),
    status: 201,
    handler: ({ actor, params, body, meta }) => deployments.createKey(actor, { name: params.name, keyName: body.name }, meta),
  }),
  route({
    method: "DELETE",
    path: "/workspaces/{workspace}/deployments/{name}/keys/{keyId}",
    tag: "deployments",
    summary: "Revoke a deployment key: the inference server refuses it at once.",
    permission: "deployment:manage",
    trpc: "deployments.revokeKey",
    params: WsDeployment.extend({ keyId: uuidParam("keyId", "a key") }),
    handler: async ({ actor, params, meta }) => {
      await deployments.revokeKey(actor, params.keyId, meta);
      return { revoked: true };
    },
  }),
  // ---- monitoring
  route({
    method: "GET",
    path: "/workspaces/{workspace}/monitoring",
    tag: "monitoring",
    summary: "Every deployment at a glance: requests, errors and latency over the last hour, drift severity, open incidents.",
    permission: "registry:read",
    trpc: "monitoring.overview",
    params: Ws,
    handler: ({ actor }) => monitoring.overview(actor),
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/monitoring/{name}/traffic",
    tag: "monitoring",
    summary:
      "A deployment's traffic, errors and latency (p50/p95/p99) per minute or coarser, by version and role, over a range (15m, 1h, 6h, 24h, 7d, 30d), with deployment events on the time axis.",
    permission: "registry:read",
    trpc: "monitoring.traffic",
    params: WsDeployment,
    query: Range,
    handler: ({ actor, params, query }) => monitoring.traffic(actor, params.name, query.range),
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/monitoring/{name}/resources",
    tag: "monitoring",
    summary: "Each inference replica's CPU, memory and in-flight requests for the deployment over a range.",
    permission: "registry:read",
    trpc: "monitoring.resources",
    params: WsDeployment,
    query: Range,
    handler: ({ actor, params, query }) => monitoring.resources(actor, params.name, query.range),
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/monitoring/{name}/drift",
    tag: "monitoring",
    summary: "Drift results: the latest window (every feature and the predictions, with statistics, severity and explanation) and the history.",
    permission: "registry:read",
    trpc: "monitoring.drift",
    params: WsDeployment,
    handler: ({ actor, params }) => monitoring.drift(actor, params.name),
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/monitoring/{name}/drift",
    tag: "monitoring",
    summary: "Compute drift now over the last windowMinutes (5 to 10080; default 60) instead of at the next 10-minute slot.",
    permission: "deployment:manage",
    trpc: "monitoring.computeDrift",
    params: WsDeployment,
    body: z.object({ windowMinutes: z.number().int().min(5, "windowMinutes must be at least 5.").max(10080).default(60) }).default({ windowMinutes: 60 }),
    status: 202,
    handler: ({ actor, params, body, meta }) => monitoring.requestDrift(actor, { name: params.name, windowMinutes: body.windowMinutes }, meta),
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/monitoring/{name}/performance",
    tag: "monitoring",
    summary:
      "Performance from delayed labels, per hour: predictions, labelled, coverage and the metrics (accuracy, F1, AUC or MAE, RMSE) over the last days (default 7).",
    permission: "registry:read",
    trpc: "monitoring.performance",
    params: WsDeployment,
    query: z.object({ days: z.coerce.number().int().min(1, "days must be at least 1.").max(90, "days must be at most 90.").default(7) }),
    handler: ({ actor, params, query }) => perf.performance(actor, params.name, query.days),
  }),
  // ---- alert rules
  route({
    method: "GET",
    path: "/workspaces/{workspace}/monitoring/{name}/alerts",
    tag: "alerts",
    summary: "A deployment's alert rules, and its latest 50 incidents.",
    permission: "registry:read",
    trpc: "monitoring.alerts",
    params: WsDeployment,
    handler: ({ actor, params }) => alerts.listAlerts(actor, params.name),
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/monitoring/{name}/alerts",
    tag: "alerts",
    summary:
      "Add an alert rule: metric (latency_p99, error_rate, traffic_drop, drift_any, drift_feature with feature, prediction_drift, accuracy, f1, auc, mae, rmse), threshold, windowMinutes, severity; optionally startPipeline, a pipeline to run when it fires.",
    permission: "deployment:manage",
    trpc: "monitoring.saveRule",
    params: WsDeployment,
    body: RuleInput,
    status: 201,
    handler: ({ actor, params, body, meta }) => alerts.saveRule(actor, { name: params.name, rule: body }, meta),
  }),
  route({
    method: "PUT",
    path: "/workspaces/{workspace}/monitoring/{name}/alerts/{ruleId}",
    tag: "alerts",
    summary: "Replace an alert rule (the whole rule, as when adding it; enabled: false switches it off).",
    permission: "deployment:manage",
    trpc: "monitoring.saveRule",
    params: WsRule,
    body: RuleInput,
    handler: ({ actor, params, body, meta }) => alerts.saveRule(actor, { name: params.name, ruleId: params.ruleId, rule: body }, meta),
  }),
  route({
    method: "DELETE",
    path: "/workspaces/{workspace}/monitoring/{name}/alerts/{ruleId}",
    tag: "alerts",
    summary: "Delete an alert rule and its past incidents (their events stay in the audit trail). Refused (412) while it has an open incident.",
    permission: "deployment:manage",
    trpc: "monitoring.deleteRule",
    params: WsRule,
    handler: ({ actor, params, meta }) => alerts.deleteRule(actor, { name: params.name, ruleId: params.ruleId }, meta),
  }),
  // ---- incidents
  route({
    method: "GET",
    path: "/workspaces/{workspace}/incidents",
    tag: "alerts",
    summary:
      "Incidents, newest first: filter by status (open = firing or acknowledged, firing, acknowledged, resolved) and deployment. Pages of `limit` (default 100, at most 500): the X-Next-Cursor header (and a Link rel=next) holds the `cursor` of older ones.",
    permission: "registry:read",
    trpc: "monitoring.incidents",
    params: Ws,
    query: IncidentsFilter.extend({ cursor: PageQuery.shape.cursor }),
    handler: async ({ actor, query: { cursor, limit, ...filter }, url, meta }) => {
      const rows = await alerts.listIncidents(actor, { ...filter, before: cursorKey.string("incidents", cursor), limit: limit + 1 });
      return paged(
        rows,
        limit,
        "incidents",
        (i) => i.pageKey,
        url,
        meta.requestId!,
        ({ pageKey: _, ...i }) => i,
      );
    },
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/incidents/{id}/acknowledge",
    tag: "alerts",
    summary: "Acknowledge a firing incident: someone is on it. It still resolves when its condition clears.",
    permission: "deployment:manage",
    trpc: "monitoring.acknowledge",
    params: WsIncident,
    handler: async ({ actor, params, meta }) => {
      await alerts.acknowledge(actor, { incidentId: params.id }, meta);
      return { acknowledged: true };
    },
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/incidents/{id}/resolve",
    tag: "alerts",
    summary:
      "Resolve a firing or acknowledged incident by hand, with a note saying why (audited as alert.resolved, delivered to webhooks). If the condition still holds, the next evaluation opens a new incident.",
    permission: "deployment:manage",
    trpc: "monitoring.resolveIncident",
    params: WsIncident,
    body: ResolveIncidentInput.omit({ incidentId: true }),
    handler: ({ actor, params, body, meta }) => alerts.resolveIncident(actor, { incidentId: params.id, note: body.note }, meta),
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/incidents/{id}/reopen",
    tag: "alerts",
    summary:
      "Reopen a resolved incident, with a note saying why (audited as alert.reopened, delivered to subscribed webhooks): it fires again, unacknowledged. Refused (409) while the same rule has another open incident on the deployment.",
    permission: "deployment:manage",
    trpc: "monitoring.reopenIncident",
    params: WsIncident,
    body: ReopenIncidentInput.omit({ incidentId: true }),
    handler: ({ actor, params, body, meta }) => alerts.reopenIncident(actor, { incidentId: params.id, note: body.note }, meta),
  }),
];

import "server-only";
import { and, desc, eq, gte, inArray, ne } from "drizzle-orm";
import { z } from "zod";
import { getDb, type Tx } from "~/db/client";
import { alertIncidents, alertRules, deployments, driftResults, memberships, performanceWindows, pipelines, predictionRollups, webhooks, workspaces } from "~/db/schema";
import { webhookDeliver } from "~/server/jobs/definitions";
import { enqueue } from "~/server/jobs/enqueue";
import { ALERT_BELOW, ALERT_METRICS } from "~/db/schema/monitoring";
import { bucketQuantile, emptyBuckets } from "~/server/shared/latency";
import type { RequestMeta, SystemActor, WorkspaceActor } from "~/server/audit/actor";
import { appendAuditEvents, mutate } from "~/server/audit/mutate";
import { AppError } from "~/server/errors";
import { startSystemRun } from "~/server/pipelines/runs.service";
import { publish } from "~/server/realtime/publish";
import { deliver, notifyTx } from "~/server/reviews/notifications.service";
import { deploymentByName } from "./monitoring.service";

/*
 * Alert rules per deployment, evaluated by the worker every minute from the rollups and
 * the latest drift. An incident fires once (one open incident per rule), can be
 * acknowledged, and resolves itself when the condition clears. Firing notifies the
 * workspace's ops, admins and owners in their inbox (and by e-mail with SMTP), and can
 * start a pipeline — for example retraining — closing the loop alert → retrain →
 * validate → review. Every transition is one transaction with its audit event.
 */

const SYSTEM: SystemActor = { type: "system", job: "alerts" };
const METRIC_LABEL: Record<(typeof ALERT_METRICS)[number], string> = {
  latency_p99: "latency p99 (ms)",
  error_rate: "error rate",
  drift_any: "drift (max PSI over features)",
  drift_feature: "drift (PSI)",
  prediction_drift: "prediction drift (PSI of the model's outputs)",
  traffic_drop: "traffic (requests/s)",
  accuracy: "accuracy",
  f1: "F1",
  auc: "AUC",
  mae: "MAE",
  rmse: "RMSE",
};
/** Labelled predictions a performance window needs before its metric is judged. */
const MIN_LABELED = 20;

export const RuleInput = z.object({
  name: z.string().trim().min(1, "name is required.").max(80),
  metric: z.enum(ALERT_METRICS, { error: `metric must be one of ${ALERT_METRICS.join(", ")}.` }),
  feature: z.string().trim().min(1).max(100).nullable().optional(),
  threshold: z.number({ error: "threshold must be a number." }).finite(),
  windowMinutes: z.number().int().min(1, "windowMinutes must be at least 1.").max(1440),
  severity: z.enum(["info", "warning", "critical"]),
  enabled: z.boolean().default(true),
  startPipeline: z.string().trim().min(1).max(60).nullable().optional(),
});

export async function listAlerts(actor: WorkspaceActor, name: string) {
  const d = await deploymentByName(actor, name);
  const rules = await getDb().select({ r: alertRules, pipeline: pipelines.name }).from(alertRules).leftJoin(pipelines, eq(pipelines.id, alertRules.startPipelineId)).where(eq(alertRules.deploymentId, d.id)).orderBy(alertRules.createdAt);
  const incidents = await getDb().select().from(alertIncidents).where(eq(alertIncidents.deploymentId, d.id)).orderBy(desc(alertIncidents.openedAt)).limit(50);
  return { rules: rules.map(({ r, pipeline }) => ({ ...r, startPipeline: pipeline })), incidents: incidents.map((i) => ({ ...i, rule: rules.find((r) => r.r.id === i.ruleId)?.r.name ?? "?" })) };
}

/** Creates (no id) or updates a rule; ops, admins and owners. */
export async function saveRule(actor: WorkspaceActor, input: { name: string; ruleId?: string; rule: unknown }, meta: RequestMeta = {}) {
  const d = await deploymentByName(actor, input.name);
  const parsed = RuleInput.safeParse(input.rule);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new AppError("INVALID", i.message.includes(String(i.path[0] ?? "¤")) ? i.message : `${i.path.join(".")}: ${i.message}`, { field: `rule.${i.path.join(".")}` });
  }
  const r = parsed.data;
  if (r.metric === "drift_feature" && !r.feature) throw new AppError("INVALID", "feature: a drift_feature rule names the input feature it watches.", { field: "rule.feature" });
  return mutate(
    actor,
    async (tx, audit) => {
      let pipelineId: string | null = null;
      if (r.startPipeline) {
        const [p] = await tx.select({ id: pipelines.id }).from(pipelines).where(and(eq(pipelines.workspaceId, actor.workspaceId), eq(pipelines.name, r.startPipeline)));
        if (!p) throw new AppError("NOT_FOUND", `startPipeline: there is no pipeline "${r.startPipeline}".`, { field: "rule.startPipeline" });
        pipelineId = p.id;
      }
      const values = { name: r.name, metric: r.metric, feature: r.feature ?? null, threshold: r.threshold, windowMinutes: r.windowMinutes, severity: r.severity, enabled: r.enabled, startPipelineId: pipelineId, updatedAt: new Date() };
      let id = input.ruleId;
      if (id) {
        const [before] = await tx.select().from(alertRules).where(and(eq(alertRules.id, id), eq(alertRules.deploymentId, d.id))).for("update");
        if (!before) throw new AppError("NOT_FOUND", "That alert rule does not exist on this deployment.", { field: "ruleId" });
        await tx.update(alertRules).set(values).where(eq(alertRules.id, id));
        audit({ action: "alert.rule_saved", target: { type: "alert_rule", id }, changes: { threshold: [before.threshold, r.threshold], enabled: [before.enabled, r.enabled] }, metadata: { deployment: d.name, rule: r.name, metric: r.metric } });
      } else {
        const [row] = await tx.insert(alertRules).values({ ...values, workspaceId: actor.workspaceId, deploymentId: d.id }).returning();
        id = row!.id;
        audit({ action: "alert.rule_saved", target: { type: "alert_rule", id }, metadata: { deployment: d.name, rule: r.name, metric: r.metric, threshold: r.threshold, created: true } });
      }
      return { id };
    },
    meta,
  );
}

export async function acknowledge(actor: WorkspaceActor, input: { incidentId: string }, meta: RequestMeta = {}) {
  const r = await mutate(
    actor,
    async (tx, audit) => {
      const [i] = await tx.select().from(alertIncidents).where(and(eq(alertIncidents.id, input.incidentId), eq(alertIncidents.workspaceId, actor.workspaceId))).for("update");
      if (!i) throw new AppError("NOT_FOUND", "That incident does not exist.", { field: "incidentId" });
      if (i.status !== "firing") throw new AppError("PRECONDITION_FAILED", `The incident is already ${i.status}.`);
      await tx.update(alertIncidents).set({ status: "acknowledged", acknowledgedAt: new Date(), acknowledgedBy: actor.userId }).where(eq(alertIncidents.id, i.id));
      audit({ action: "alert.acknowledged", target: { type: "alert_incident", id: i.id }, metadata: { message: i.message } });
      return i;
    },
    meta,
  );
  publish.toWorkspace(r.workspaceId, "monitoring.updated", { workspaceId: r.workspaceId, deploymentId: r.deploymentId });
}

/** The rule's metric over its window, or null when there is not enough to judge. */
async function valueOf(rule: typeof alertRules.$inferSelect, now: Date): Promise<number | null> {
  const since = new Date(now.getTime() - rule.windowMinutes * 60_000);
  if (rule.metric === "accuracy" || rule.metric === "f1" || rule.metric === "auc" || rule.metric === "mae" || rule.metric === "rmse") {
    // Hourly windows that overlap the rule's window, weighted by their labelled predictions.
    const windows = await getDb()
      .select()
      .from(performanceWindows)
      .where(and(eq(performanceWindows.deploymentId, rule.deploymentId), gte(performanceWindows.windowStart, new Date(since.getTime() - 3600_000))));
    let sum = 0;
    let n = 0;
    for (const w of windows) {
      const v = (w.metrics)[rule.metric];
      if (typeof v !== "number" || !Number.isFinite(v)) continue;
      sum += v * w.labeled;
      n += w.labeled;
    }
    return n >= MIN_LABELED ? sum / n : null;
  }
  if (rule.metric === "prediction_drift") {
    const [last] = await getDb().select().from(driftResults).where(and(eq(driftResults.deploymentId, rule.deploymentId), gte(driftResults.windowEnd, since))).orderBy(desc(driftResults.windowEnd)).limit(1);
    const p = last?.predictionDrift as { status?: string; psi?: number } | null | undefined;
    return p?.status === "ok" && typeof p.psi === "number" ? p.psi : null;
  }
  if (rule.metric === "drift_any" || rule.metric === "drift_feature") {
    const [last] = await getDb().select().from(driftResults).where(and(eq(driftResults.deploymentId, rule.deploymentId), gte(driftResults.windowEnd, since))).orderBy(desc(driftResults.windowEnd)).limit(1);
    if (!last) return null;
    const ok = (last.features as { feature: string; status: string; psi?: number }[]).filter((f) => f.status === "ok" && typeof f.psi === "number");
    const values = rule.metric === "drift_any" ? ok.map((f) => f.psi!) : ok.filter((f) => f.feature === rule.feature).map((f) => f.psi!);
    return values.length ? Math.max(...values) : null;
  }
  const rows = await getDb().select().from(predictionRollups).where(and(eq(predictionRollups.deploymentId, rule.deploymentId), ne(predictionRollups.role, "shadow"), gte(predictionRollups.minute, since)));
  const requests = rows.reduce((a, r) => a + r.requests, 0);
  if (rule.metric === "traffic_drop") return requests / (rule.windowMinutes * 60);
  if (requests < 20) return null; // too few to judge a rate or a tail
  if (rule.metric === "error_rate") return rows.reduce((a, r) => a + r.errors, 0) / requests;
  const buckets = emptyBuckets();
  for (const r of rows) r.latencyBuckets.forEach((c, i) => (buckets[i]! += c));
  return bucketQuantile(buckets, 0.99);
}

/** In the incident's transaction: one delivery job per enabled webhook of the workspace. */
async function hooks(tx: Tx, workspaceId: string, event: string, payload: Record<string, unknown>) {
  const list = await tx.select({ id: webhooks.id }).from(webhooks).where(and(eq(webhooks.workspaceId, workspaceId), eq(webhooks.enabled, true)));
  for (const w of list) await enqueue(tx, webhookDeliver, { webhookId: w.id, event, payload });
}

const fmtValue = (metric: string, v: number) => (metric === "error_rate" ? `${(v * 100).toFixed(1)}%` : metric.includes("drift") || ["accuracy", "f1", "auc"].includes(metric) ? v.toFixed(3) : metric === "latency_p99" ? `${v.toFixed(0)} ms` : v.toFixed(2));

/** Evaluates every enabled rule: fires new incidents, resolves cleared ones. Idempotent. */
export async function evaluateAlerts(now = new Date()) {
  const db = getDb();
  const rules = await db.select({ r: alertRules, d: deployments, slug: workspaces.slug }).from(alertRules).innerJoin(deployments, eq(deployments.id, alertRules.deploymentId)).innerJoin(workspaces, eq(workspaces.id, alertRules.workspaceId)).where(and(eq(alertRules.enabled, true), eq(deployments.status, "active")));
  const fired: string[] = [];
  const resolved: string[] = [];
  for (const { r, d, slug } of rules) {
    const value = await valueOf(r, now);
    const below = ALERT_BELOW.includes(r.metric);
    const firing = value !== null && (below ? value < r.threshold : value > r.threshold);
    const [open] = await db.select().from(alertIncidents).where(and(eq(alertIncidents.ruleId, r.id), ne(alertIncidents.status, "resolved")));
    const link = `/w/${slug}/monitoring/${d.name}`;
    if (firing && !open) {
      const message = `${d.name}: ${METRIC_LABEL[r.metric]}${r.feature ? ` of ${r.feature}` : ""} is ${fmtValue(r.metric, value)} (${below ? "below" : "above"} ${fmtValue(r.metric, r.threshold)}) over ${r.windowMinutes} min`;
      let rows: { id: string; userId: string }[] = [];
      const incident = await db
        .transaction(async (tx) => {
          const [i] = await tx.insert(alertIncidents).values({ workspaceId: r.workspaceId, ruleId: r.id, deploymentId: d.id, status: "firing", value, message }).returning();
          await appendAuditEvents(tx, { ...SYSTEM, workspaceId: r.workspaceId }, [{ action: "alert.fired", target: { type: "alert_incident", id: i!.id }, workspaceId: r.workspaceId, metadata: { rule: r.name, deployment: d.name, severity: r.severity, value, threshold: r.threshold, message } }]);
          const people = await tx.select({ id: memberships.userId }).from(memberships).where(and(eq(memberships.workspaceId, r.workspaceId), inArray(memberships.role, ["ops", "admin", "owner"])));
          rows = await notifyTx(tx, people.map((p) => ({ userId: p.id, workspaceId: r.workspaceId, kind: "alert" as const, title: `[${r.severity}] ${r.name} — ${message}`, link, actorLabel: "Steward" })));
          await hooks(tx, r.workspaceId, `alert.fired:${i!.id}`, { incident: i!.id, rule: r.name, deployment: d.name, severity: r.severity, metric: r.metric, value, threshold: r.threshold, message, link });
          return i!;
        })
        .catch((err: unknown) => {
          // Another worker fired it first (one open incident per rule).
          if (String((err as { code?: string }).code ?? (err as { cause?: { code?: string } }).cause?.code) === "23505") return null;
          throw err;
        });
      if (!incident) continue;
      deliver(rows);
      fired.push(incident.id);
      if (r.startPipelineId) {
        const run = await startSystemRun({ ...SYSTEM, workspaceId: r.workspaceId }, { pipelineId: r.startPipelineId, trigger: "alert", triggerRef: incident.id }).catch((err: unknown) => (console.error("[alerts] could not start the pipeline:", err), null));
        if (run) await db.update(alertIncidents).set({ pipelineRunId: run.id }).where(eq(alertIncidents.id, incident.id));
      }
      publish.toWorkspace(r.workspaceId, "monitoring.updated", { workspaceId: r.workspaceId, deploymentId: d.id });
    } else if (!firing && open && value !== null) {
      await db.transaction(async (tx) => {
        await tx.update(alertIncidents).set({ status: "resolved", resolvedAt: now }).where(eq(alertIncidents.id, open.id));
        await appendAuditEvents(tx, { ...SYSTEM, workspaceId: r.workspaceId }, [{ action: "alert.resolved", target: { type: "alert_incident", id: open.id }, workspaceId: r.workspaceId, metadata: { rule: r.name, deployment: d.name, value } }]);
        await hooks(tx, r.workspaceId, `alert.resolved:${open.id}`, { incident: open.id, rule: r.name, deployment: d.name, value, link });
      });
      resolved.push(open.id);
      publish.toWorkspace(r.workspaceId, "monitoring.updated", { workspaceId: r.workspaceId, deploymentId: d.id });
    }
  }
  return { fired, resolved };
}

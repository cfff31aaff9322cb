import "server-only";
import { and, desc, eq, gte, inArray, ne, sql } from "drizzle-orm";
import { getDb, type Tx } from "~/db/client";
import { alertIncidents, alertRules, deployments, driftResults, memberships, performanceWindows, pipelines, predictionRollups, workspaces } from "~/db/schema";
import { firesBelow, formatAlertValue, alertMetric } from "~/server/shared/alert-metrics";
import { isAnomalyMetric } from "~/server/shared/anomaly";
import { anomalyVerdict } from "./anomaly";
import { ReopenIncidentInput, ResolveIncidentInput, RuleInput } from "~/server/shared/monitoring.schema";
import { bucketQuantile, emptyBuckets } from "~/server/shared/latency";
import type { RequestMeta, SystemActor, WorkspaceActor } from "~/server/audit/actor";
import { mutate, type AuditFn } from "~/server/audit/mutate";
import { AppError } from "~/server/errors";
import { startSystemRun } from "~/server/pipelines/runs.service";
import { publish } from "~/server/realtime/publish";
import { deliver, notifyTx } from "~/server/reviews/notifications.service";
import { deploymentByName } from "./monitoring.service";
import { rolesWith } from "~/server/shared/permissions";

/*
 * Alert rules per deployment, evaluated by the worker every minute from the rollups and
 * the latest drift. An incident fires once (one open incident per rule), can be
 * acknowledged, and resolves itself when the condition clears. Firing notifies the
 * workspace's ops, admins and owners in their inbox (and by e-mail with SMTP), and can
 * start a pipeline — for example retraining — closing the loop alert → retrain →
 * validate → review. Every transition is one transaction with its audit event.
 */

const SYSTEM: SystemActor = { type: "system", job: "alerts" };
/** Labelled predictions a performance window needs before its metric is judged. */
const MIN_LABELED = 20;

export async function listAlerts(actor: WorkspaceActor, name: string) {
  const d = await deploymentByName(actor, name);
  const rules = await getDb()
    .select({ r: alertRules, pipeline: pipelines.name })
    .from(alertRules)
    .leftJoin(pipelines, eq(pipelines.id, alertRules.startPipelineId))
    .where(eq(alertRules.deploymentId, d.id))
    .orderBy(alertRules.createdAt);
  const incidents = await getDb().select().from(alertIncidents).where(eq(alertIncidents.deploymentId, d.id)).orderBy(desc(alertIncidents.openedAt)).limit(50);
  return {
    rules: rules.map(({ r, pipeline }) => ({ ...r, startPipeline: pipeline })),
    incidents: incidents.map((i) => ({ ...i, rule: rules.find((r) => r.r.id === i.ruleId)?.r.name ?? "?" })),
  };
}

/** The workspace's incidents, newest first, optionally by status and deployment (what `steward incidents list` shows). */
export async function listIncidents(
  actor: WorkspaceActor,
  opts: { status?: "firing" | "acknowledged" | "resolved" | "open"; deployment?: string; limit?: number; before?: string } = {},
) {
  const d = opts.deployment ? await deploymentByName(actor, opts.deployment) : null;
  // Pages by (opened_at, id), read back as Postgres prints them: a JavaScript Date would drop the microseconds.
  const m = opts.before === undefined ? null : /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{1,6})?[+-]\d\d(?::\d\d)?)\|([0-9a-f-]{36})$/.exec(opts.before);
  if (opts.before !== undefined && !m)
    throw new AppError("INVALID", "cursor is not a cursor of this list: pass back the nextCursor of an earlier page unchanged.", { field: "cursor" });
  const rows = await getDb()
    .select({
      i: alertIncidents,
      rule: alertRules.name,
      severity: alertRules.severity,
      metric: alertRules.metric,
      deployment: deployments.name,
      pageKey: sql<string>`${alertIncidents.openedAt}::text || '|' || ${alertIncidents.id}::text`,
    })
    .from(alertIncidents)
    .innerJoin(alertRules, eq(alertRules.id, alertIncidents.ruleId))
    .innerJoin(deployments, eq(deployments.id, alertIncidents.deploymentId))
    .where(
      and(
        eq(alertIncidents.workspaceId, actor.workspaceId),
        d ? eq(alertIncidents.deploymentId, d.id) : undefined,
        opts.status === "open" ? ne(alertIncidents.status, "resolved") : opts.status ? eq(alertIncidents.status, opts.status) : undefined,
        m ? sql`(${alertIncidents.openedAt}, ${alertIncidents.id}) < (${m[1]}::timestamptz, ${m[2]}::uuid)` : undefined,
      ),
    )
    .orderBy(desc(alertIncidents.openedAt), desc(alertIncidents.id))
    .limit(opts.limit ?? 100);
  return rows.map(({ i, ...r }) => ({ ...i, ...r }));
}

/**
 * Deletes a rule and its past incidents (their events stay in the audit trail). Refused
 * while one of its incidents is open: resolve it first, or switch the rule off instead.
 */
export async function deleteRule(actor: WorkspaceActor, input: { name: string; ruleId: string }, meta: RequestMeta = {}) {
  const d = await deploymentByName(actor, input.name);
  await mutate(
    actor,
    async (tx, audit) => {
      const [rule] = await tx
        .select()
        .from(alertRules)
        .where(and(eq(alertRules.id, input.ruleId), eq(alertRules.deploymentId, d.id)))
        .for("update");
      if (!rule) throw new AppError("NOT_FOUND", "That alert rule does not exist on this deployment.", { field: "ruleId" });
      const [open] = await tx
        .select({ id: alertIncidents.id })
        .from(alertIncidents)
        .where(and(eq(alertIncidents.ruleId, rule.id), ne(alertIncidents.status, "resolved")));
      if (open)
        throw new AppError("PRECONDITION_FAILED", `The rule "${rule.name}" has an open incident: resolve it first, or switch the rule off instead.`, {
          field: "ruleId",
        });
      await tx.delete(alertRules).where(eq(alertRules.id, rule.id));
      audit({
        action: "alert.rule_deleted",
        target: { type: "alert_rule", id: rule.id },
        metadata: { deployment: d.name, rule: rule.name, metric: rule.metric, threshold: rule.threshold },
      });
    },
    meta,
  );
  publish.toWorkspace(actor.workspaceId, "monitoring.updated", { workspaceId: actor.workspaceId, deploymentId: d.id });
  return { deleted: true };
}

/** Creates (no id) or updates a rule; ops, admins and owners. */
export async function saveRule(actor: WorkspaceActor, input: { name: string; ruleId?: string; rule: unknown }, meta: RequestMeta = {}) {
  const d = await deploymentByName(actor, input.name);
  const parsed = RuleInput.safeParse(input.rule);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new AppError("INVALID", i.message.includes(String(i.path[0] ?? "¤")) ? i.message : `${i.path.join(".")}: ${i.message}`, {
      field: `rule.${i.path.join(".")}`,
    });
  }
  const r = parsed.data;
  if (r.metric === "drift_feature" && !r.feature)
    throw new AppError("INVALID", "feature: a drift_feature rule names the input feature it watches.", { field: "rule.feature" });
  return mutate(
    actor,
    async (tx, audit) => {
      let pipelineId: string | null = null;
      if (r.startPipeline) {
        const [p] = await tx
          .select({ id: pipelines.id })
          .from(pipelines)
          .where(and(eq(pipelines.workspaceId, actor.workspaceId), eq(pipelines.name, r.startPipeline)));
        if (!p) throw new AppError("NOT_FOUND", `startPipeline: there is no pipeline "${r.startPipeline}".`, { field: "rule.startPipeline" });
        pipelineId = p.id;
      }
      const values = {
        name: r.name,
        kind: r.kind,
        metric: r.metric,
        feature: r.feature ?? null,
        threshold: r.threshold ?? 0,
        sensitivity: r.kind === "anomaly" ? (r.sensitivity ?? "medium") : null,
        windowMinutes: r.windowMinutes,
        severity: r.severity,
        enabled: r.enabled,
        startPipelineId: pipelineId,
        updatedAt: new Date(),
      };
      let id = input.ruleId;
      if (id) {
        const [before] = await tx
          .select()
          .from(alertRules)
          .where(and(eq(alertRules.id, id), eq(alertRules.deploymentId, d.id)))
          .for("update");
        if (!before) throw new AppError("NOT_FOUND", "That alert rule does not exist on this deployment.", { field: "ruleId" });
        await tx.update(alertRules).set(values).where(eq(alertRules.id, id));
        audit({
          action: "alert.rule_saved",
          target: { type: "alert_rule", id },
          changes: {
            threshold: [before.threshold, values.threshold],
            sensitivity: [before.sensitivity, values.sensitivity],
            enabled: [before.enabled, r.enabled],
          },
          metadata: { deployment: d.name, rule: r.name, metric: r.metric },
        });
      } else {
        const [row] = await tx
          .insert(alertRules)
          .values({ ...values, workspaceId: actor.workspaceId, deploymentId: d.id })
          .returning();
        id = row!.id;
        audit({
          action: "alert.rule_saved",
          target: { type: "alert_rule", id },
          metadata: { deployment: d.name, rule: r.name, metric: r.metric, threshold: r.threshold, created: true },
        });
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
      const [i] = await tx
        .select()
        .from(alertIncidents)
        .where(and(eq(alertIncidents.id, input.incidentId), eq(alertIncidents.workspaceId, actor.workspaceId)))
        .for("update");
      if (!i) throw new AppError("NOT_FOUND", "That incident does not exist.", { field: "incidentId" });
      if (i.status !== "firing") throw new AppError("PRECONDITION_FAILED", `The incident is already ${i.status}.`);
      await tx
        .update(alertIncidents)
        .set({ status: "acknowledged", acknowledgedAt: new Date(), acknowledgedBy: actor.userId })
        .where(eq(alertIncidents.id, i.id));
      audit({ action: "alert.acknowledged", target: { type: "alert_incident", id: i.id }, metadata: { message: i.message } });
      return i;
    },
    meta,
  );
  publish.toWorkspace(r.workspaceId, "monitoring.updated", { workspaceId: r.workspaceId, deploymentId: r.deploymentId });
}

/**
 * Resolves a firing or acknowledged incident by hand, with a note (ops, admins and owners).
 * Same event and webhook delivery as a resolution by the worker, with who and why; if the
 * condition still holds, the next evaluation opens a new incident.
 */
export async function resolveIncident(actor: WorkspaceActor, raw: ResolveIncidentInput, meta: RequestMeta = {}) {
  const input = ResolveIncidentInput.parse(raw);
  const r = await mutate(
    actor,
    async (tx, audit) => {
      const [row] = await tx
        .select({ i: alertIncidents, rule: alertRules.name, deployment: deployments.name, slug: workspaces.slug })
        .from(alertIncidents)
        .innerJoin(alertRules, eq(alertRules.id, alertIncidents.ruleId))
        .innerJoin(deployments, eq(deployments.id, alertIncidents.deploymentId))
        .innerJoin(workspaces, eq(workspaces.id, alertIncidents.workspaceId))
        .where(and(eq(alertIncidents.id, input.incidentId), eq(alertIncidents.workspaceId, actor.workspaceId)))
        .for("update", { of: alertIncidents });
      if (!row) throw new AppError("NOT_FOUND", "That incident does not exist.", { field: "incidentId" });
      const { i } = row;
      if (i.status === "resolved") throw new AppError("PRECONDITION_FAILED", "The incident is already resolved.");
      const resolvedAt = new Date();
      await tx
        .update(alertIncidents)
        .set({ status: "resolved", resolvedAt, resolvedBy: actor.userId, resolutionNote: input.note })
        .where(eq(alertIncidents.id, i.id));
      audit({
        action: "alert.resolved",
        target: { type: "alert_incident", id: i.id },
        changes: { status: [i.status, "resolved"] },
        metadata: { rule: row.rule, deployment: row.deployment, message: i.message, note: input.note },
      });
      return { ...i, status: "resolved" as const, resolvedAt, resolvedBy: actor.userId, resolutionNote: input.note };
    },
    meta,
  );
  publish.toWorkspace(r.workspaceId, "monitoring.updated", { workspaceId: r.workspaceId, deploymentId: r.deploymentId });
  return r;
}

/**
 * Reopen a resolved incident (it was closed too early: the problem is back, or the fix did
 * not hold), with a note. It fires again and is no longer acknowledged; refused while the same
 * rule has another open incident on the deployment (work on that one).
 */
export async function reopenIncident(actor: WorkspaceActor, raw: ReopenIncidentInput, meta: RequestMeta = {}) {
  const input = ReopenIncidentInput.parse(raw);
  const r = await mutate(
    actor,
    async (tx, audit) => {
      const [row] = await tx
        .select({ i: alertIncidents, rule: alertRules.name, deployment: deployments.name })
        .from(alertIncidents)
        .innerJoin(alertRules, eq(alertRules.id, alertIncidents.ruleId))
        .innerJoin(deployments, eq(deployments.id, alertIncidents.deploymentId))
        .where(and(eq(alertIncidents.id, input.incidentId), eq(alertIncidents.workspaceId, actor.workspaceId)))
        .for("update", { of: alertIncidents });
      if (!row) throw new AppError("NOT_FOUND", "That incident does not exist.", { field: "incidentId" });
      const { i } = row;
      if (i.status !== "resolved") throw new AppError("PRECONDITION_FAILED", `The incident is ${i.status}, not resolved: there is nothing to reopen.`);
      const [other] = await tx
        .select({ id: alertIncidents.id })
        .from(alertIncidents)
        .where(and(eq(alertIncidents.ruleId, i.ruleId), eq(alertIncidents.deploymentId, i.deploymentId), ne(alertIncidents.status, "resolved")));
      if (other)
        throw new AppError(
          "CONFLICT",
          `"${row.rule}" has fired again on ${row.deployment} since (incident ${other.id}): work on that one instead of reopening this.`,
        );
      await tx
        .update(alertIncidents)
        .set({ status: "firing", resolvedAt: null, resolvedBy: null, resolutionNote: null, acknowledgedAt: null, acknowledgedBy: null })
        .where(eq(alertIncidents.id, i.id));
      audit({
        action: "alert.reopened",
        target: { type: "alert_incident", id: i.id },
        changes: { status: ["resolved", "firing"] },
        metadata: { rule: row.rule, deployment: row.deployment, message: i.message, note: input.note, previousResolution: i.resolutionNote },
      });
      return { ...i, status: "firing" as const, resolvedAt: null, resolvedBy: null, resolutionNote: null, acknowledgedAt: null, acknowledgedBy: null };
    },
    meta,
  );
  publish.toWorkspace(r.workspaceId, "monitoring.updated", { workspaceId: r.workspaceId, deploymentId: r.deploymentId });
  return r;
}

/**
 * Incidents raised by an event rather than a measured value (a failed rollout): the rule is
 * created on first use, the incident opens (once) in the caller's transaction, with the
 * same inbox notifications and webhook deliveries as a measured alert.
 */
export async function fireSystemIncidentTx(tx: Tx, audit: AuditFn, input: { deploymentId: string; metric: "rollout_failed"; message: string }) {
  const [d] = await tx
    .select({ d: deployments, slug: workspaces.slug })
    .from(deployments)
    .innerJoin(workspaces, eq(workspaces.id, deployments.workspaceId))
    .where(eq(deployments.id, input.deploymentId));
  if (!d) return [];
  let [rule] = await tx
    .select()
    .from(alertRules)
    .where(and(eq(alertRules.deploymentId, input.deploymentId), eq(alertRules.metric, input.metric)));
  if (!rule)
    [rule] = await tx
      .insert(alertRules)
      .values({
        workspaceId: d.d.workspaceId,
        deploymentId: d.d.id,
        name: "Rollout failed",
        metric: input.metric,
        threshold: 0,
        windowMinutes: 60,
        severity: "critical",
      })
      .returning();
  if (!rule!.enabled) return [];
  const [open] = await tx
    .select({ id: alertIncidents.id })
    .from(alertIncidents)
    .where(and(eq(alertIncidents.ruleId, rule!.id), ne(alertIncidents.status, "resolved")));
  if (open) {
    await tx.update(alertIncidents).set({ message: input.message, value: 1 }).where(eq(alertIncidents.id, open.id));
    return [];
  }
  const [i] = await tx
    .insert(alertIncidents)
    .values({ workspaceId: d.d.workspaceId, ruleId: rule!.id, deploymentId: d.d.id, status: "firing", value: 1, message: input.message })
    .returning();
  audit({
    action: "alert.fired",
    target: { type: "alert_incident", id: i!.id },
    workspaceId: d.d.workspaceId,
    metadata: { rule: rule!.name, deployment: d.d.name, severity: rule!.severity, metric: input.metric, message: input.message },
  });
  const link = `/w/${d.slug}/deployments/${d.d.name}`;
  const people = await tx
    .select({ id: memberships.userId })
    .from(memberships)
    .where(and(eq(memberships.workspaceId, d.d.workspaceId), inArray(memberships.role, rolesWith("deployment:manage"))));
  return notifyTx(
    tx,
    people.map((p) => ({
      userId: p.id,
      workspaceId: d.d.workspaceId,
      kind: "alert" as const,
      title: `[${rule!.severity}] ${input.message}`,
      link,
      actorLabel: "Steward",
    })),
  );
}

/** Resolves an open event incident (a later rollout went live). */
export async function resolveSystemIncidentTx(tx: Tx, audit: AuditFn, input: { deploymentId: string; metric: "rollout_failed"; note: string }) {
  const open = await tx
    .select({ id: alertIncidents.id, workspaceId: alertIncidents.workspaceId })
    .from(alertIncidents)
    .innerJoin(alertRules, eq(alertRules.id, alertIncidents.ruleId))
    .where(and(eq(alertIncidents.deploymentId, input.deploymentId), eq(alertRules.metric, input.metric), ne(alertIncidents.status, "resolved")));
  for (const o of open) {
    await tx.update(alertIncidents).set({ status: "resolved", resolvedAt: new Date(), resolutionNote: input.note }).where(eq(alertIncidents.id, o.id));
    audit({ action: "alert.resolved", target: { type: "alert_incident", id: o.id }, workspaceId: o.workspaceId, metadata: { note: input.note } });
  }
}

/** The rule's metric over its window, or null when there is not enough to judge. */
async function valueOf(rule: typeof alertRules.$inferSelect, now: Date): Promise<number | null> {
  // Event incidents are opened and resolved by what causes them, never by a measurement.
  if (rule.metric === "rollout_failed") return null;
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
      const v = w.metrics[rule.metric];
      if (typeof v !== "number" || !Number.isFinite(v)) continue;
      sum += v * w.labeled;
      n += w.labeled;
    }
    return n >= MIN_LABELED ? sum / n : null;
  }
  if (rule.metric === "prediction_drift") {
    const [last] = await getDb()
      .select()
      .from(driftResults)
      .where(and(eq(driftResults.deploymentId, rule.deploymentId), gte(driftResults.windowEnd, since)))
      .orderBy(desc(driftResults.windowEnd))
      .limit(1);
    const p = last?.predictionDrift as { status?: string; psi?: number } | null | undefined;
    return p?.status === "ok" && typeof p.psi === "number" ? p.psi : null;
  }
  if (rule.metric === "drift_any" || rule.metric === "drift_feature") {
    const [last] = await getDb()
      .select()
      .from(driftResults)
      .where(and(eq(driftResults.deploymentId, rule.deploymentId), gte(driftResults.windowEnd, since)))
      .orderBy(desc(driftResults.windowEnd))
      .limit(1);
    if (!last) return null;
    const ok = (last.features as { feature: string; status: string; psi?: number }[]).filter((f) => f.status === "ok" && typeof f.psi === "number");
    const values = rule.metric === "drift_any" ? ok.map((f) => f.psi!) : ok.filter((f) => f.feature === rule.feature).map((f) => f.psi!);
    return values.length ? Math.max(...values) : null;
  }
  const rows = await getDb()
    .select()
    .from(predictionRollups)
    .where(and(eq(predictionRollups.deploymentId, rule.deploymentId), ne(predictionRollups.role, "shadow"), gte(predictionRollups.minute, since)));
  const requests = rows.reduce((a, r) => a + r.requests, 0);
  if (rule.metric === "traffic_drop") return requests / (rule.windowMinutes * 60);
  if (requests < 20) return null; // too few to judge a rate or a tail
  if (rule.metric === "error_rate") return rows.reduce((a, r) => a + r.errors, 0) / requests;
  const buckets = emptyBuckets();
  for (const r of rows) r.latencyBuckets.forEach((c, i) => (buckets[i]! += c));
  return bucketQuantile(buckets, 0.99);
}

/** Evaluates every enabled rule (or one deployment's): fires new incidents, resolves cleared ones. Idempotent. */
export async function evaluateAlerts(now = new Date(), deploymentId?: string) {
  const db = getDb();
  const rules = await db
    .select({ r: alertRules, d: deployments, slug: workspaces.slug })
    .from(alertRules)
    .innerJoin(deployments, eq(deployments.id, alertRules.deploymentId))
    .innerJoin(workspaces, eq(workspaces.id, alertRules.workspaceId))
    .where(and(eq(alertRules.enabled, true), eq(deployments.status, "active"), deploymentId ? eq(alertRules.deploymentId, deploymentId) : undefined));
  const fired: string[] = [];
  const resolved: string[] = [];
  for (const { r, d, slug } of rules) {
    const anomaly =
      r.kind === "anomaly" && isAnomalyMetric(r.metric)
        ? await anomalyVerdict({ ...r, metric: r.metric, sensitivity: r.sensitivity ?? "medium" }, now, d.name)
        : null;
    const value = anomaly ? (anomaly.status === "ok" ? anomaly.value : null) : await valueOf(r, now);
    const below = firesBelow(r.metric);
    const firing = anomaly ? anomaly.status === "ok" && anomaly.firing : value !== null && (below ? value < r.threshold : value > r.threshold);
    const [open] = await db
      .select()
      .from(alertIncidents)
      .where(and(eq(alertIncidents.ruleId, r.id), ne(alertIncidents.status, "resolved")));
    const link = `/w/${slug}/monitoring/${d.name}`;
    if (firing && !open) {
      const message =
        anomaly?.status === "ok"
          ? `${anomaly.message.replace(/\.$/, "")} (anomaly, ${r.sensitivity ?? "medium"} sensitivity)`
          : `${d.name}: ${alertMetric(r.metric).noun}${r.feature ? ` of ${r.feature}` : ""} is ${formatAlertValue(r.metric, value!)} (${below ? "below" : "above"} ${formatAlertValue(r.metric, r.threshold)}) over ${r.windowMinutes} min`;
      const band =
        anomaly?.status === "ok" ? { low: anomaly.band.low, high: anomaly.band.high, median: anomaly.band.median, baseline: anomaly.band.baseline } : undefined;
      let rows: { id: string; userId: string }[] = [];
      const incident = await mutate({ ...SYSTEM, workspaceId: r.workspaceId }, async (tx, audit) => {
        const [i] = await tx
          .insert(alertIncidents)
          .values({ workspaceId: r.workspaceId, ruleId: r.id, deploymentId: d.id, status: "firing", value, message })
          .returning();
        audit({
          action: "alert.fired",
          target: { type: "alert_incident", id: i!.id },
          workspaceId: r.workspaceId,
          metadata: {
            rule: r.name,
            deployment: d.name,
            severity: r.severity,
            value,
            ...(band ? { kind: "anomaly", band } : { threshold: r.threshold }),
            message,
          },
        });
        const people = await tx
          .select({ id: memberships.userId })
          .from(memberships)
          .where(and(eq(memberships.workspaceId, r.workspaceId), inArray(memberships.role, rolesWith("deployment:manage"))));
        rows = await notifyTx(
          tx,
          people.map((p) => ({
            userId: p.id,
            workspaceId: r.workspaceId,
            kind: "alert" as const,
            title: `[${r.severity}] ${r.name} — ${message}`,
            link,
            actorLabel: "Steward",
          })),
        );
        return i!;
      }).catch((err: unknown) => {
        // Another worker fired it first (one open incident per rule).
        if (String((err as { code?: string }).code ?? (err as { cause?: { code?: string } }).cause?.code) === "23505") return null;
        throw err;
      });
      if (!incident) continue;
      deliver(rows);
      fired.push(incident.id);
      if (r.startPipelineId) {
        // The incident is linked to its run in the run's transaction (the run's event names the incident as its trigger).
        await startSystemRun(
          { ...SYSTEM, workspaceId: r.workspaceId },
          { pipelineId: r.startPipelineId, trigger: "alert", triggerRef: incident.id },
          async (tx, runId) => {
            await tx.update(alertIncidents).set({ pipelineRunId: runId }).where(eq(alertIncidents.id, incident.id));
          },
        ).catch((err: unknown) => console.error("[alerts] could not start the pipeline:", err));
      }
      publish.toWorkspace(r.workspaceId, "monitoring.updated", { workspaceId: r.workspaceId, deploymentId: d.id });
    } else if (!firing && open && value !== null) {
      await mutate({ ...SYSTEM, workspaceId: r.workspaceId }, async (tx, audit) => {
        await tx.update(alertIncidents).set({ status: "resolved", resolvedAt: now }).where(eq(alertIncidents.id, open.id));
        audit({
          action: "alert.resolved",
          target: { type: "alert_incident", id: open.id },
          workspaceId: r.workspaceId,
          metadata: { rule: r.name, deployment: d.name, value },
        });
      });
      resolved.push(open.id);
      publish.toWorkspace(r.workspaceId, "monitoring.updated", { workspaceId: r.workspaceId, deploymentId: d.id });
    }
  }
  return { fired, resolved };
}

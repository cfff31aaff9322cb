import "server-only";
import { aliasedTable, and, desc, eq, gt, inArray, isNotNull, isNull, ne, or, sql } from "drizzle-orm";
import { getDb } from "~/db/client";
import {
  alertIncidents,
  alertRules,
  deployments,
  models,
  modelVersions,
  notifications,
  pipelineRuns,
  pipelines,
  reviewAssignees,
  reviewChangeRequests,
  reviewRequests,
  rollouts,
  users,
} from "~/db/schema";
import type { WorkspaceActor } from "~/server/audit/actor";
import { listAuditEvents, type AuditEventDto } from "~/server/audit/audit.service";
import { factsFor, policyApprovers } from "~/server/reviews/loading";
import { HomeActivityInput, type ActivityArea, type NeedKind } from "~/server/shared/home.schema";
import { can } from "~/server/shared/permissions";

/*
 * The home page: what needs the signed-in person in this workspace, and what happened in
 * it. Read-only; every row names the page where the person can act on it.
 */

export type NeedItem = {
  kind: NeedKind;
  /** Unique within the list (the kind and the row it is about). */
  key: string;
  title: string;
  detail: string | null;
  href: string;
  at: Date;
  /** How loud it is: failing (act now), warning (soon), pending (waiting on you). */
  tone: "failing" | "warning" | "pending";
};

const STATEFUL_KINDS = new Set<string>(["review_assigned", "approval_needed", "changes_requested", "alert"]);

/** Failed runs and rollouts stay on the list this long unless something newer replaces them. */
const RUN_WINDOW_MS = 14 * 86_400_000;
const ROLLOUT_WINDOW_MS = 86_400_000;

/**
 * What needs `actor` now, newest first: reviews waiting for their signature (assigned, or
 * their role is one the policy still needs; never their own), their own requests blocked by
 * a change request or superseded (or waiting on others' signatures, and on whom), open incidents and rollouts in progress or failed (for
 * those who manage deployments, or on deployments they created), failed pipeline runs of
 * their models, and unread notifications of this workspace (mentions, decisions…) not already on the list.
 */
export async function needsYou(actor: WorkspaceActor, slug: string, now = new Date()): Promise<NeedItem[]> {
  const base = `/w/${slug}`;
  const items = [
    ...(await reviewsToSign(actor, base)),
    ...(await ownReviewBlockers(actor, base)),
    ...(await openIncidents(actor, base)),
    ...(await failedRuns(actor, base, now)),
    ...(await liveRollouts(actor, base, now)),
  ];
  // A requester's "waiting" row is not their news about it: approvals, mentions and comments on it still show.
  const hrefs = new Set(items.filter((i) => i.kind !== "review_waiting").map((i) => i.href));
  for (const n of await unreadNotifications(actor)) {
    // Assignments, approvals needed, change requests and alerts are listed above from their
    // current state, so they leave the list once handled; their notifications would linger.
    if (STATEFUL_KINDS.has(n.kind)) continue;
    if (n.link && hrefs.has(n.link)) continue;
    items.push({
      kind: "notification",
      key: `notification:${n.id}`,
      title: n.title,
      detail: n.body ? n.body.slice(0, 160) : n.actorLabel ? `from ${n.actorLabel}` : null,
      href: n.link ?? `${base}/inbox`,
      at: n.createdAt,
      tone: n.kind === "alert" || n.kind === "changes_requested" ? "warning" : "pending",
    });
  }
  return items.sort((a, b) => b.at.getTime() - a.at.getTime());
}

async function openReviewRows(actor: WorkspaceActor, where: ReturnType<typeof and>) {
  return getDb()
    .select({ r: reviewRequests, model: models.name, version: modelVersions.version, requester: users.name })
    .from(reviewRequests)
    .innerJoin(models, eq(models.id, reviewRequests.modelId))
    .innerJoin(modelVersions, eq(modelVersions.id, reviewRequests.modelVersionId))
    .innerJoin(users, eq(users.id, reviewRequests.requestedBy))
    .where(and(eq(reviewRequests.workspaceId, actor.workspaceId), eq(reviewRequests.status, "open"), where))
    .orderBy(desc(reviewRequests.number))
    .limit(100);
}

async function reviewsToSign(actor: WorkspaceActor, base: string): Promise<NeedItem[]> {
  if (!can(actor.role, "review:sign")) return [];
  const db = getDb();
  const rows = await openReviewRows(actor, ne(reviewRequests.requestedBy, actor.userId));
  if (!rows.length) return [];
  const assigned = new Set(
    (
      await db
        .select({ id: reviewAssignees.requestId })
        .from(reviewAssignees)
        .where(
          and(
            eq(reviewAssignees.userId, actor.userId),
            inArray(
              reviewAssignees.requestId,
              rows.map((x) => x.r.id),
            ),
          ),
        )
    ).map((x) => x.id),
  );
  const me = [{ id: actor.userId, role: actor.role }];
  const out: NeedItem[] = [];
  for (const { r, model, version, requester } of rows) {
    const f = await factsFor(db, r);
    // A superseded request waits for its requester's re-base; nobody can sign it meanwhile.
    if (f.superseded) continue;
    const rules = f.policy?.rules;
    if (!rules?.allowRequesterApproval && f.authorId === actor.userId) continue;
    const isAssigned = assigned.has(r.id);
    const needed = !!rules && !f.state?.satisfied && policyApprovers(me, rules).length > 0;
    if (!isAssigned && !needed) continue;
    // Already signed this round for the current evidence, or waiting on the requester after asking for changes.
    if (f.sigs.some((s) => s.signerId === actor.userId && s.round === r.round && s.evidenceHash === f.ev.evidenceHash)) continue;
    if (f.changes.some((c) => c.reviewerId === actor.userId)) continue;
    const missing = f.state?.checklist.filter((c) => !c.ok).map((c) => c.text) ?? [];
    // What is missing that this person can give first ("needs 1 compliance officer approval").
    const mine = missing.find((t) => t.includes(actor.role.replace("_", " ")));
    out.push({
      kind: "review_to_sign",
      key: `review:${r.id}`,
      title: `Review #${r.number}: ${model} v${version} → ${r.alias}`,
      detail: [isAssigned ? "assigned to you" : "your signature is needed", `requested by ${requester}`, mine ?? missing[0]].filter(Boolean).join(" · "),
      href: `${base}/reviews/${r.number}`,
      at: r.updatedAt > r.createdAt ? r.updatedAt : r.createdAt,
      tone: "pending",
    });
  }
  return out;
}

async function ownReviewBlockers(actor: WorkspaceActor, base: string): Promise<NeedItem[]> {
  const rows = await openReviewRows(actor, eq(reviewRequests.requestedBy, actor.userId));
  if (!rows.length) return [];
  const changes = await getDb()
    .select({ requestId: reviewChangeRequests.requestId, reason: reviewChangeRequests.reason, at: reviewChangeRequests.createdAt, by: users.name })
    .from(reviewChangeRequests)
    .innerJoin(users, eq(users.id, reviewChangeRequests.reviewerId))
    .where(
      and(
        isNull(reviewChangeRequests.clearedAt),
        inArray(
          reviewChangeRequests.requestId,
          rows.map((x) => x.r.id),
        ),
      ),
    )
    .orderBy(desc(reviewChangeRequests.createdAt));
  const assignees = await getDb()
    .select({ requestId: reviewAssignees.requestId, userId: reviewAssignees.userId, name: users.name })
    .from(reviewAssignees)
    .innerJoin(users, eq(users.id, reviewAssignees.userId))
    .where(
      inArray(
        reviewAssignees.requestId,
        rows.map((x) => x.r.id),
      ),
    );
  const out: NeedItem[] = [];
  for (const { r, model, version } of rows) {
    const mine = changes.filter((c) => c.requestId === r.id);
    const label = `Review #${r.number}: ${model} v${version} → ${r.alias}`;
    if (!mine.length && !r.supersededAt) {
      // Nothing blocks it but other people's signatures: the requester sees what it waits for and from whom.
      const f = await factsFor(getDb(), r);
      const missing = f.state?.checklist.filter((c) => !c.ok).map((c) => c.text) ?? [];
      // Assignees who have not signed this round for the current evidence (those who did are not waited on).
      const signed = new Set(f.sigs.filter((x) => x.round === r.round && x.evidenceHash === f.ev.evidenceHash).map((x) => x.signerId));
      const who = assignees.filter((a) => a.requestId === r.id && !signed.has(a.userId)).map((a) => a.name);
      out.push({
        kind: "review_waiting",
        key: `waiting:${r.id}`,
        title: f.state?.satisfied ? `Your review #${r.number} has every approval it needs` : `Your review #${r.number} waits for approval`,
        detail: [label, ...(f.state?.satisfied ? [] : missing.slice(0, 3)), who.length ? `assigned to ${who.join(", ")}` : null]
          .filter(Boolean)
          .join(" · ")
          .slice(0, 240),
        href: `${base}/reviews/${r.number}`,
        at: r.updatedAt > r.createdAt ? r.updatedAt : r.createdAt,
        tone: "pending",
      });
    }
    if (mine.length)
      out.push({
        kind: "changes_requested",
        key: `changes:${r.id}`,
        title: `Changes requested on your review #${r.number}`,
        detail: `${label} · ${mine.map((c) => `${c.by}: ${c.reason}`).join(" · ")}`.slice(0, 240),
        href: `${base}/reviews/${r.number}`,
        at: mine[0]!.at,
        tone: "warning",
      });
    if (r.supersededAt)
      out.push({
        kind: "review_superseded",
        key: `superseded:${r.id}`,
        title: `Your review #${r.number} is superseded: re-base it`,
        detail: `${label} · ${r.alias} moved while it was open; approvals count again after a re-base`,
        href: `${base}/reviews/${r.number}`,
        at: r.supersededAt,
        tone: "warning",
      });
  }
  return out;
}

/** Deployments whose incidents and rollouts are the actor's business: all of them for those who manage deployments, else their own. */
function deploymentScope(actor: WorkspaceActor) {
  return can(actor.role, "deployment:manage") ? undefined : eq(deployments.createdBy, actor.userId);
}

async function openIncidents(actor: WorkspaceActor, base: string): Promise<NeedItem[]> {
  const rows = await getDb()
    .select({ i: alertIncidents, rule: alertRules.name, severity: alertRules.severity, deployment: deployments.name })
    .from(alertIncidents)
    .innerJoin(alertRules, eq(alertRules.id, alertIncidents.ruleId))
    .innerJoin(deployments, eq(deployments.id, alertIncidents.deploymentId))
    .where(and(eq(alertIncidents.workspaceId, actor.workspaceId), ne(alertIncidents.status, "resolved"), deploymentScope(actor)))
    .orderBy(desc(alertIncidents.openedAt))
    .limit(50);
  return rows.map(({ i, rule, severity, deployment }) => ({
    kind: "incident",
    key: `incident:${i.id}`,
    title: `${i.status === "firing" ? "Firing" : "Acknowledged"}: ${rule} on ${deployment}`,
    detail: `${severity} · ${i.message}`,
    href: `${base}/monitoring/${encodeURIComponent(deployment)}`,
    at: i.openedAt,
    tone: i.status === "firing" && severity !== "info" ? "failing" : "warning",
  }));
}

async function failedRuns(actor: WorkspaceActor, base: string, now: Date): Promise<NeedItem[]> {
  const rows = await getDb()
    .select({ run: pipelineRuns, pipeline: pipelines.name, model: models.name, version: modelVersions.version })
    .from(pipelineRuns)
    .innerJoin(pipelines, eq(pipelines.id, pipelineRuns.pipelineId))
    .leftJoin(modelVersions, eq(modelVersions.id, pipelineRuns.modelVersionId))
    .leftJoin(models, eq(models.id, modelVersions.modelId))
    .where(
      and(
        eq(pipelineRuns.workspaceId, actor.workspaceId),
        eq(pipelineRuns.status, "failed"),
        gt(pipelineRuns.createdAt, new Date(now.getTime() - RUN_WINDOW_MS)),
        or(
          eq(pipelineRuns.createdBy, actor.userId),
          eq(modelVersions.createdBy, actor.userId),
          eq(models.createdBy, actor.userId),
          eq(models.ownerId, actor.userId),
        ),
        // A later run of the same pipeline on the same version replaces it (a rerun that passed, or failed again).
        sql`not exists (select 1 from pipeline_runs later where later.pipeline_id = ${pipelineRuns.pipelineId}
              and later.model_version_id is not distinct from ${pipelineRuns.modelVersionId} and later.number > ${pipelineRuns.number})`,
      ),
    )
    .orderBy(desc(pipelineRuns.createdAt))
    .limit(30);
  return rows.map(({ run, pipeline, model, version }) => ({
    kind: "run_failed",
    key: `run:${run.id}`,
    title: `Run #${run.number} of ${pipeline} failed${model ? ` on ${model} v${version}` : ""}`,
    detail: `${run.trigger.replace("_", " ")} run`,
    href: `${base}/pipelines/runs/${run.id}`,
    at: run.finishedAt ?? run.createdAt,
    tone: "failing",
  }));
}

async function liveRollouts(actor: WorkspaceActor, base: string, now: Date): Promise<NeedItem[]> {
  const primary = aliasedTable(modelVersions, "primary_version");
  const rows = await getDb()
    .select({ ro: rollouts, deployment: deployments.name, version: primary.version })
    .from(rollouts)
    .innerJoin(deployments, eq(deployments.id, rollouts.deploymentId))
    .innerJoin(primary, eq(primary.id, rollouts.primaryVersionId))
    .where(
      and(
        eq(rollouts.workspaceId, actor.workspaceId),
        deploymentScope(actor),
        or(
          eq(rollouts.status, "pending"),
          and(
            eq(rollouts.status, "failed"),
            isNotNull(rollouts.settledAt),
            gt(rollouts.settledAt, new Date(now.getTime() - ROLLOUT_WINDOW_MS)),
            // Until a later rollout of the deployment goes live.
            sql`not exists (select 1 from rollouts later where later.deployment_id = ${rollouts.deploymentId}
                  and later.status = 'live' and later.created_at > ${rollouts.createdAt})`,
          ),
        ),
      ),
    )
    .orderBy(desc(rollouts.createdAt))
    .limit(30);
  return rows.map(({ ro, deployment, version }) => ({
    kind: "rollout",
    key: `rollout:${ro.id}`,
    title: ro.status === "pending" ? `Rolling out v${version} on ${deployment}` : `Rollout of v${version} on ${deployment} failed`,
    detail:
      ro.status === "pending"
        ? `revision ${ro.revision} · ${ro.cause.replace("_", " ")}`
        : `${ro.reason ?? "no reason given"}${ro.failedReplica ? ` (${ro.failedReplica})` : ""}`,
    href: `${base}/deployments/${encodeURIComponent(deployment)}`,
    at: ro.settledAt ?? ro.createdAt,
    tone: ro.status === "pending" ? "pending" : "failing",
  }));
}

async function unreadNotifications(actor: WorkspaceActor) {
  return getDb()
    .select()
    .from(notifications)
    .where(and(eq(notifications.userId, actor.userId), eq(notifications.workspaceId, actor.workspaceId), isNull(notifications.readAt)))
    .orderBy(desc(notifications.createdAt))
    .limit(20);
}

// ---------------------------------------------------------------------------
// Activity
// ---------------------------------------------------------------------------

/** The audit actions the activity feed shows, by area; the rest (sign-ins, downloads, tokens…) stay in the audit trail. */
export const ACTIVITY_ACTIONS: Record<ActivityArea, readonly string[]> = {
  team: [
    "workspace.created",
    "workspace.renamed",
    "member.invited",
    "member.joined",
    "member.role_changed",
    "member.removed",
    "member.left",
    "invitation.revoked",
  ],
  registry: ["dataset.version_created", "model.version_registered", "model.alias_moved", "model.alias_removed", "model.revalidated"],
  reviews: [
    "review.opened",
    "review.changes_requested",
    "review.changes_cleared",
    "review.signed",
    "review.approved",
    "review.rejected",
    "review.withdrawn",
    "review.superseded",
    "review.rebased",
  ],
  deployments: [
    "deployment.deployed",
    "deployment.traffic_changed",
    "deployment.canary_promoted",
    "deployment.rolled_back",
    "deployment.canary_rolled_back",
    "deployment.alias_followed",
    "deployment.stopped",
    "deployment.started",
    "deployment.rollout_live",
    "deployment.rollout_failed",
    "deployment.rollout_reverted",
  ],
  pipelines: ["pipeline.run_started", "pipeline.run_finished", "pipeline.run_cancelled"],
  alerts: ["alert.fired", "alert.acknowledged", "alert.resolved"],
};

const AREA_OF = new Map(Object.entries(ACTIVITY_ACTIONS).flatMap(([area, actions]) => actions.map((a) => [a, area as ActivityArea])));

export type ActivityItem = AuditEventDto & { area: ActivityArea; href: string | null };

/** Where an activity row leads, from what its event names (null: nowhere better than the audit trail). */
function activityHref(e: AuditEventDto, base: string): string | null {
  const m = e.metadata ?? {};
  const s = (v: unknown) => (typeof v === "string" || typeof v === "number" ? encodeURIComponent(String(v)) : null);
  switch (e.targetType) {
    case "review_request":
      return s(m.number) ? `${base}/reviews/${s(m.number)}` : null;
    case "pipeline_run":
      return e.targetId ? `${base}/pipelines/runs/${e.targetId}` : null;
    case "deployment":
      return s(m.name) ? `${base}/deployments/${s(m.name)}` : null;
    case "alert_incident":
      return s(m.deployment) ? `${base}/monitoring/${s(m.deployment)}` : null;
  }
  if (e.action.startsWith("model.")) return s(m.name) ? `${base}/models/${s(m.name)}` : null;
  if (e.action.startsWith("dataset.")) return s(m.name) ? `${base}/datasets/${s(m.name)}` : null;
  if (e.action.startsWith("member.") || e.action.startsWith("invitation.")) return `${base}/settings/members`;
  return null;
}

/** The activity feed: the meaningful subset of the audit trail (optionally one area), newest first. */
export async function listActivity(actor: WorkspaceActor, slug: string, raw: HomeActivityInput): Promise<ActivityItem[]> {
  const input = HomeActivityInput.parse(raw);
  const actions = input.area ? ACTIVITY_ACTIONS[input.area] : Object.values(ACTIVITY_ACTIONS).flat();
  const page = await listAuditEvents(actor, { workspaceId: actor.workspaceId, limit: input.limit }, actions);
  const base = `/w/${slug}`;
  return page.items.map((e) => ({ ...e, area: AREA_OF.get(e.action) ?? "team", href: activityHref(e, base) }));
}

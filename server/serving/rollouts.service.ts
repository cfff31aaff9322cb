import "server-only";
import { and, desc, eq, gt, isNull, lt, ne } from "drizzle-orm";
import { getDb, type DbOrTx, type Tx } from "~/db/client";
import { deploymentEvents, deployments, inferenceReplicas, replicaDeployments, rollouts } from "~/db/schema";
import { env } from "~/env";
import type { SystemActor, WorkspaceActor } from "~/server/audit/actor";
import { mutate } from "~/server/audit/mutate";
import { AppError } from "~/server/errors";
import { fireSystemIncidentTx, resolveSystemIncidentTx } from "~/server/monitoring/alerts.service";
import { publish } from "~/server/realtime/publish";
import { deliver } from "~/server/reviews/notifications.service";
import { revertTx } from "./deployments.service";
import { decideRollout, type Verdict } from "./rollout-verdict";
import { versionNumbers } from "./versions";

/*
 * Rollouts are facts, not intentions. Every change of a deployment (a new revision) starts
 * a rollout in the same transaction. Inference replicas report what they serve
 * (replica_deployments) and beat a heartbeat (inference_replicas); settleRollouts() then
 * decides, never on a guess:
 *
 *   live     every ready replica (heartbeat within REPLICA_STALE_MS) reports the revision
 *   failed   a replica could not load it (its reason, its name); the deployment reverts to
 *            what served before, an alert fires, the audit trail says so
 *   failed   nobody reported within ROLLOUT_TIMEOUT_MS ("no replica reported", or which
 *            ready replica did not) — nothing is reverted: no replica proved anything
 *
 * A replica that dies mid-rollout stops beating; once its heartbeat is stale it no longer
 * counts, so the rollout completes on the replicas that remain.
 */

export const REPLICA_STALE_MS = 15_000;
const TIMEOUT_MS = () => env.ROLLOUT_TIMEOUT_SECONDS * 1000;

type Row = typeof deployments.$inferSelect;

/** In the change's transaction: a pending rollout for the new revision; earlier pending ones are superseded. */
export async function startRolloutTx(tx: Tx, before: Row | null, after: Row, cause: string, actorLabel: string, emergencyReason: string | null) {
  await tx
    .update(rollouts)
    .set({ status: "superseded", settledAt: new Date(), reason: `superseded by revision ${after.revision}` })
    .where(and(eq(rollouts.deploymentId, after.id), eq(rollouts.status, "pending")));
  const [r] = await tx
    .insert(rollouts)
    .values({
      workspaceId: after.workspaceId,
      deploymentId: after.id,
      revision: after.revision,
      cause,
      primaryVersionId: after.primaryVersionId,
      canaryVersionId: after.canaryVersionId,
      canaryPercent: after.canaryPercent,
      shadowVersionId: after.shadowVersionId,
      fromRevision: before?.revision ?? null,
      fromPrimaryVersionId: before?.primaryVersionId ?? null,
      fromCanaryVersionId: before?.canaryVersionId ?? null,
      fromCanaryPercent: before?.canaryPercent ?? 0,
      fromShadowVersionId: before?.shadowVersionId ?? null,
      emergencyReason,
      actorLabel,
    })
    .returning({ id: rollouts.id });
  return r!.id;
}

// ---------------------------------------------------------------------------
// What replicas report (telemetry: not audited; the settlement is)
// ---------------------------------------------------------------------------

export async function replicaHeartbeat(r: { replica: string; hostname: string; pid: number; startedAt: Date; ready: boolean; stopped?: boolean }) {
  const now = new Date();
  await getDb()
    .insert(inferenceReplicas)
    .values({
      replica: r.replica,
      hostname: r.hostname,
      pid: r.pid,
      startedAt: r.startedAt,
      lastSeenAt: now,
      ready: r.ready,
      stoppedAt: r.stopped ? now : null,
    })
    .onConflictDoUpdate({ target: inferenceReplicas.replica, set: { lastSeenAt: now, ready: r.ready, stoppedAt: r.stopped ? now : null } });
}

/** A replica serves this revision now (every version warmed on every thread). */
export async function reportServing(
  replica: string,
  d: { id: string; workspaceId: string; revision: number; primaryVersionId: string; canaryVersionId: string | null; shadowVersionId: string | null },
) {
  const now = new Date();
  const v = {
    revision: d.revision,
    primaryVersionId: d.primaryVersionId,
    canaryVersionId: d.canaryVersionId,
    shadowVersionId: d.shadowVersionId,
    reportedAt: now,
  };
  await getDb()
    .insert(replicaDeployments)
    .values({ replica, deploymentId: d.id, workspaceId: d.workspaceId, ...v })
    .onConflictDoUpdate({ target: [replicaDeployments.replica, replicaDeployments.deploymentId], set: v });
}

/** A replica could not load this revision; it keeps serving what it served. */
export async function reportFailure(replica: string, d: { id: string; workspaceId: string; revision: number }, error: string, serving: number | null) {
  const now = new Date();
  await getDb()
    .insert(replicaDeployments)
    .values({
      replica,
      deploymentId: d.id,
      workspaceId: d.workspaceId,
      revision: serving ?? 0,
      failedRevision: d.revision,
      error: error.slice(0, 1000),
      reportedAt: now,
    })
    .onConflictDoUpdate({
      target: [replicaDeployments.replica, replicaDeployments.deploymentId],
      set: { failedRevision: d.revision, error: error.slice(0, 1000), reportedAt: now },
    });
}

// ---------------------------------------------------------------------------
// Settling
// ---------------------------------------------------------------------------

async function readyReplicas(now: Date) {
  return getDb()
    .select({ replica: inferenceReplicas.replica })
    .from(inferenceReplicas)
    .where(
      and(eq(inferenceReplicas.ready, true), isNull(inferenceReplicas.stoppedAt), gt(inferenceReplicas.lastSeenAt, new Date(now.getTime() - REPLICA_STALE_MS))),
    );
}

async function judge(r: typeof rollouts.$inferSelect, ready: string[], now: Date): Promise<Verdict> {
  const reports = await getDb().select().from(replicaDeployments).where(eq(replicaDeployments.deploymentId, r.deploymentId));
  return decideRollout({ rollout: r, ready, reports, now, timeoutMs: TIMEOUT_MS() });
}

/**
 * Settles pending rollouts (of one deployment, or all): called by replicas after they
 * report, and every few seconds by the worker (timeouts, replicas that died). Idempotent;
 * each settlement is one transaction with its history entry and audit event.
 */
export async function settleRollouts(opts: { deploymentId?: string; now?: Date } = {}) {
  const now = opts.now ?? new Date();
  const pending = await getDb()
    .select()
    .from(rollouts)
    .where(and(eq(rollouts.status, "pending"), opts.deploymentId ? eq(rollouts.deploymentId, opts.deploymentId) : undefined));
  const settled: { id: string; status: "live" | "failed" }[] = [];
  const ready = pending.length ? (await readyReplicas(now)).map((x) => x.replica) : [];
  for (const r of pending) {
    const verdict = await judge(r, ready, now);
    if (!verdict) continue;
    const actor: SystemActor & { workspaceId: string } = { type: "system", job: "rollouts", workspaceId: r.workspaceId };
    let toDeliver: { id: string; userId: string }[] = [];
    const done = await mutate(actor, async (tx, audit) => {
      // The deployment row first, then its rollout: the order every change of a deployment takes
      // (a promote or an alias move locks the deployment, then supersedes its pending rollout).
      // The other way round, a settle and a promote deadlocked.
      const [d] = await tx.select().from(deployments).where(eq(deployments.id, r.deploymentId)).for("update");
      if (!d) return null;
      const [cur] = await tx.select().from(rollouts).where(eq(rollouts.id, r.id)).for("update");
      if (cur?.status !== "pending") return null; // another settler got there first
      const n = await versionNumbers(tx, [r.primaryVersionId, r.canaryVersionId, r.fromPrimaryVersionId]);
      const what = `v${n.get(r.primaryVersionId)}${r.canaryVersionId ? ` (canary v${n.get(r.canaryVersionId)} at ${r.canaryPercent}%)` : ""}`;
      if (verdict.status === "live") {
        await tx.update(rollouts).set({ status: "live", reports: verdict.reports, settledAt: now }).where(eq(rollouts.id, r.id));
        const count = Object.keys(verdict.reports).length;
        const summary = `Rollout of revision ${r.revision} is live: ${what} served by ${count} replica${count === 1 ? "" : "s"}.`;
        await tx.insert(deploymentEvents).values({
          workspaceId: r.workspaceId,
          deploymentId: d.id,
          kind: "rollout_live",
          summary,
          detail: { rolloutId: r.id, revision: r.revision, replicas: Object.keys(verdict.reports) },
          actorLabel: "rollouts",
        });
        audit({
          action: "deployment.rollout_live",
          target: { type: "deployment", id: d.id },
          metadata: { name: d.name, rolloutId: r.id, revision: r.revision, primary: n.get(r.primaryVersionId), replicas: Object.keys(verdict.reports) },
        });
        // A later change that went live clears a failed-rollout incident; the revert itself does not.
        if (r.cause !== "rollout_reverted") await resolveSystemIncidentTx(tx, audit, { deploymentId: d.id, metric: "rollout_failed", note: summary });
        return { d, status: "live" as const };
      }
      await tx.update(rollouts).set({ status: "failed", reason: verdict.reason, failedReplica: verdict.replica, settledAt: now }).where(eq(rollouts.id, r.id));
      const keeps = verdict.revert && r.fromPrimaryVersionId ? ` v${n.get(r.fromPrimaryVersionId)} keeps serving.` : "";
      const summary = `Rollout of ${what} failed${verdict.replica ? ` on ${verdict.replica}` : ""}: ${verdict.reason}.${keeps}`;
      await tx.insert(deploymentEvents).values({
        workspaceId: r.workspaceId,
        deploymentId: d.id,
        kind: "rollout_failed",
        summary,
        detail: { rolloutId: r.id, revision: r.revision, replica: verdict.replica, reason: verdict.reason },
        actorLabel: "rollouts",
      });
      audit({
        action: "deployment.rollout_failed",
        target: { type: "deployment", id: d.id },
        metadata: { name: d.name, rolloutId: r.id, revision: r.revision, primary: n.get(r.primaryVersionId), replica: verdict.replica, reason: verdict.reason },
      });
      // What the replicas serve is the previous revision: the deployment says so again.
      if (verdict.revert && r.fromPrimaryVersionId && d.revision === r.revision) {
        await revertTx(
          tx,
          audit,
          actor,
          d,
          {
            primaryVersionId: r.fromPrimaryVersionId,
            canaryVersionId: r.fromCanaryVersionId,
            canaryPercent: r.fromCanaryPercent,
            shadowVersionId: r.fromShadowVersionId,
          },
          `Reverted to v${n.get(r.fromPrimaryVersionId)} after the failed rollout of ${what}.`,
        );
      }
      toDeliver = await fireSystemIncidentTx(tx, audit, {
        deploymentId: d.id,
        metric: "rollout_failed",
        message: `${d.name}: rollout of ${what} failed — ${verdict.reason}`,
      });
      return { d, status: "failed" as const };
    });
    deliver(toDeliver);
    if (done) {
      settled.push({ id: r.id, status: done.status });
      publish.toWorkspace(done.d.workspaceId, "deployment.changed", { workspaceId: done.d.workspaceId, deploymentId: done.d.id });
    }
  }
  return settled;
}

/** Old replica rows: stopped or silent for a day. Telemetry, not audited. */
export async function pruneReplicas(now = new Date()) {
  await getDb()
    .delete(inferenceReplicas)
    .where(lt(inferenceReplicas.lastSeenAt, new Date(now.getTime() - 86_400_000)));
}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

export type RolloutView = {
  id: string;
  revision: number;
  cause: string;
  status: "pending" | "live" | "failed" | "superseded";
  primary: number | null;
  canary: { version: number; percent: number } | null;
  shadow: number | null;
  from: number | null;
  emergencyReason: string | null;
  reason: string | null;
  failedReplica: string | null;
  replicas: string[];
  actor: string | null;
  createdAt: Date;
  settledAt: Date | null;
  /** "rollout of v20 failed: <reason>" and friends, for people. */
  message: string;
};

async function views(rows: (typeof rollouts.$inferSelect)[], db: DbOrTx = getDb()): Promise<RolloutView[]> {
  const n = await versionNumbers(
    db,
    rows.flatMap((r) => [r.primaryVersionId, r.canaryVersionId, r.shadowVersionId, r.fromPrimaryVersionId]),
  );
  return rows.map((r) => {
    const primary = n.get(r.primaryVersionId) ?? null;
    const what = `v${primary}${r.canaryVersionId ? ` + canary v${n.get(r.canaryVersionId)} at ${r.canaryPercent}%` : ""}${r.shadowVersionId ? ` + shadow v${n.get(r.shadowVersionId)}` : ""}`;
    const message =
      r.status === "live"
        ? `rollout of ${what} is live`
        : r.status === "failed"
          ? `rollout of ${what} failed: ${r.reason ?? "unknown reason"}`
          : r.status === "pending"
            ? `rollout of ${what} is pending: waiting for the inference replicas to report`
            : `rollout of ${what} was superseded by a later change`;
    return {
      id: r.id,
      revision: r.revision,
      cause: r.cause,
      status: r.status,
      primary,
      canary: r.canaryVersionId ? { version: n.get(r.canaryVersionId)!, percent: r.canaryPercent } : null,
      shadow: r.shadowVersionId ? (n.get(r.shadowVersionId) ?? null) : null,
      from: r.fromPrimaryVersionId ? (n.get(r.fromPrimaryVersionId) ?? null) : null,
      emergencyReason: r.emergencyReason,
      reason: r.reason,
      failedReplica: r.failedReplica,
      replicas: Object.keys(r.reports),
      actor: r.actorLabel,
      createdAt: r.createdAt,
      settledAt: r.settledAt,
      message,
    };
  });
}

async function deploymentByName(actor: WorkspaceActor, name: string) {
  const [d] = await getDb()
    .select({ id: deployments.id })
    .from(deployments)
    .where(and(eq(deployments.workspaceId, actor.workspaceId), eq(deployments.name, name)));
  if (!d) throw new AppError("NOT_FOUND", `There is no deployment "${name}" in this workspace.`, { field: "name" });
  return d;
}

/** One rollout by id, or the deployment's latest change ("latest", reverts aside). */
export async function getRollout(actor: WorkspaceActor, input: { name: string; rollout: string }) {
  const d = await deploymentByName(actor, input.name);
  // "latest" is the latest change someone made: a revert after a failed rollout is not what they wait for.
  const q = getDb()
    .select()
    .from(rollouts)
    .where(and(eq(rollouts.deploymentId, d.id), input.rollout === "latest" ? ne(rollouts.cause, "rollout_reverted") : eq(rollouts.id, input.rollout)));
  const [r] = await q.orderBy(desc(rollouts.revision)).limit(1);
  if (!r)
    throw new AppError(
      "NOT_FOUND",
      input.rollout === "latest" ? `Deployment "${input.name}" has no rollouts yet.` : "That rollout does not exist for this deployment.",
      { field: "rollout" },
    );
  return (await views([r]))[0]!;
}

export async function listRollouts(actor: WorkspaceActor, name: string, limit = 20) {
  const d = await deploymentByName(actor, name);
  return listRolloutRows(d.id, limit);
}

/** A deployment's rollouts, newest first (the caller has checked the deployment is the actor's). */
export async function listRolloutRows(deploymentId: string, limit = 20, db: DbOrTx = getDb()) {
  return views(await db.select().from(rollouts).where(eq(rollouts.deploymentId, deploymentId)).orderBy(desc(rollouts.revision)).limit(limit), db);
}

/** Each live replica and what it serves of this deployment. */
export async function replicasOf(deploymentId: string, now = new Date(), db: DbOrTx = getDb()) {
  const rows = await db
    .select({ r: replicaDeployments, lastSeenAt: inferenceReplicas.lastSeenAt, ready: inferenceReplicas.ready, stoppedAt: inferenceReplicas.stoppedAt })
    .from(replicaDeployments)
    .innerJoin(inferenceReplicas, eq(inferenceReplicas.replica, replicaDeployments.replica))
    .where(and(eq(replicaDeployments.deploymentId, deploymentId), gt(inferenceReplicas.lastSeenAt, new Date(now.getTime() - 10 * 60_000))));
  const n = await versionNumbers(
    db,
    rows.flatMap((x) => [x.r.primaryVersionId, x.r.canaryVersionId, x.r.shadowVersionId]),
  );
  return rows
    .map((x) => ({
      replica: x.r.replica,
      live: x.ready && !x.stoppedAt && now.getTime() - x.lastSeenAt.getTime() < REPLICA_STALE_MS,
      revision: x.r.revision,
      primary: x.r.primaryVersionId ? (n.get(x.r.primaryVersionId) ?? null) : null,
      canary: x.r.canaryVersionId ? (n.get(x.r.canaryVersionId) ?? null) : null,
      shadow: x.r.shadowVersionId ? (n.get(x.r.shadowVersionId) ?? null) : null,
      failedRevision: x.r.failedRevision,
      error: x.r.error,
      reportedAt: x.r.reportedAt,
      lastSeenAt: x.lastSeenAt,
    }))
    .sort((a, b) => a.replica.localeCompare(b.replica));
}

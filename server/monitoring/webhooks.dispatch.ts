import "server-only";
import { randomUUID } from "node:crypto";
import { and, eq } from "drizzle-orm";
import type { Tx } from "~/db/client";
import { alertIncidents, alertRules, deploymentKeys, deployments, models, modelVersions, reviewRequests, webhookOutbox } from "~/db/schema";
import { webhookDeliver } from "~/server/jobs/definitions";
import { enqueue } from "~/server/jobs/enqueue";
import { matchesAny } from "~/server/shared/webhooks.schema";

/*
 * Event webhooks, the enqueue side: called by mutate() with the events it has just appended,
 * inside the same transaction, so a delivery is owed exactly when its event is committed (a
 * rollback removes both). One query finds the workspace's enabled webhooks; a workspace
 * without any pays that query only. Each matching webhook gets one outbox row per event and
 * one job for the transaction's events, in sequence order.
 */

/** An audit event as mutate() appended it. */
export type AppendedEvent = {
  id: string;
  workspaceId: string | null;
  seq: number;
  prevHash: string;
  hash: string;
  occurredAt: Date;
  actorType: string;
  actorId: string | null;
  actorLabel: string | null;
  action: string;
  targetType: string;
  targetId: string | null;
  changes: Record<string, [unknown, unknown]> | null;
  metadata: Record<string, unknown> | null;
  requestId: string | null;
};

export type Subject = { model: string | null; deployment: string | null };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The model and deployment an event is about, from its target (for filters and the payload). */
export async function subjectOf(tx: Tx, workspaceId: string, targetType: string, targetId: string | null): Promise<Subject> {
  const none = { model: null, deployment: null };
  // A malformed id must not reach a uuid comparison: the error would abort the business transaction.
  if (!targetId || !UUID.test(targetId)) return none;
  const viaDeployment = async (deploymentId: string | null | undefined) => {
    if (!deploymentId) return none;
    const [r] = await tx
      .select({ deployment: deployments.name, model: models.name })
      .from(deployments)
      .innerJoin(models, eq(models.id, deployments.modelId))
      .where(and(eq(deployments.id, deploymentId), eq(deployments.workspaceId, workspaceId)));
    return r ?? none;
  };
  const modelNamed = async (modelId: string | null | undefined): Promise<Subject> => {
    if (!modelId) return none;
    const [r] = await tx
      .select({ model: models.name })
      .from(models)
      .where(and(eq(models.id, modelId), eq(models.workspaceId, workspaceId)));
    return { model: r?.model ?? null, deployment: null };
  };
  switch (targetType) {
    case "model":
      return modelNamed(targetId);
    case "model_version": {
      const [v] = await tx.select({ modelId: modelVersions.modelId }).from(modelVersions).where(eq(modelVersions.id, targetId));
      return modelNamed(v?.modelId);
    }
    case "review_request": {
      const [r] = await tx.select({ modelId: reviewRequests.modelId }).from(reviewRequests).where(eq(reviewRequests.id, targetId));
      return modelNamed(r?.modelId);
    }
    case "deployment":
      return viaDeployment(targetId);
    case "deployment_key": {
      const [k] = await tx.select({ d: deploymentKeys.deploymentId }).from(deploymentKeys).where(eq(deploymentKeys.id, targetId));
      return viaDeployment(k?.d);
    }
    case "alert_incident": {
      const [i] = await tx.select({ d: alertIncidents.deploymentId }).from(alertIncidents).where(eq(alertIncidents.id, targetId));
      return viaDeployment(i?.d);
    }
    case "alert_rule": {
      const [r] = await tx.select({ d: alertRules.deploymentId }).from(alertRules).where(eq(alertRules.id, targetId));
      return viaDeployment(r?.d);
    }
    default:
      return none;
  }
}

export type Hook = { id: string; workspaceId: string; slug: string; events: string[]; models: string[]; deployments: string[] };

function passesFilters(hook: Hook, subject: Subject) {
  if (hook.models.length && !(subject.model && hook.models.includes(subject.model))) return false;
  if (hook.deployments.length && !(subject.deployment && hook.deployments.includes(subject.deployment))) return false;
  return true;
}

/** The event as a receiver gets it (without the per-attempt `attempt` and `sentAt`). */
export function eventPayload(deliveryId: string, e: AppendedEvent, workspace: { id: string; slug: string }, subject: Subject) {
  return {
    id: deliveryId,
    event: e.action,
    occurredAt: e.occurredAt.toISOString(),
    workspace,
    actor: { type: e.actorType, id: e.actorId, label: e.actorLabel },
    target: { type: e.targetType, id: e.targetId },
    subject,
    changes: e.changes,
    metadata: e.metadata,
    // Alert webhooks read the details under `data` before subscriptions existed.
    ...(e.action.startsWith("alert.") ? { data: { ...e.metadata, incident: e.targetId } } : {}),
    audit: { id: e.id, seq: e.seq, hash: e.hash, prevHash: e.prevHash, requestId: e.requestId },
  };
}

/** In mutate()'s transaction, after the events are appended: the outbox rows and jobs of every matching webhook. */
export async function enqueueWebhookDeliveries(tx: Tx, events: AppendedEvent[], hooks: Hook[]) {
  if (!hooks.length) return;
  const subjects = new Map<string, Subject>();
  const owed = new Map<string, (typeof webhookOutbox.$inferInsert)[]>();
  for (const e of [...events].sort((a, b) => a.seq - b.seq)) {
    for (const hook of hooks) {
      if (hook.workspaceId !== e.workspaceId || !matchesAny(hook.events, e.action)) continue;
      if (!subjects.has(e.id)) subjects.set(e.id, await subjectOf(tx, hook.workspaceId, e.targetType, e.targetId));
      const subject = subjects.get(e.id)!;
      if (!passesFilters(hook, subject)) continue;
      const id = randomUUID();
      const payload = eventPayload(id, e, { id: hook.workspaceId, slug: hook.slug }, subject);
      owed.set(hook.id, [
        ...(owed.get(hook.id) ?? []),
        { id, webhookId: hook.id, workspaceId: hook.workspaceId, action: e.action, auditEventId: e.id, seq: e.seq, payload },
      ]);
    }
  }
  if (!owed.size) return;
  await tx.insert(webhookOutbox).values([...owed.values()].flat());
  for (const [webhookId, rows] of owed) await enqueue(tx, webhookDeliver, { webhookId, deliveryIds: rows.map((r) => r.id!) });
}

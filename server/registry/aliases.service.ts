import "server-only";
import { and, eq, isNull } from "drizzle-orm";
import type { Tx } from "~/db/client";
import { aliasHistory, modelAliases, modelVersions } from "~/db/schema";
import type { SystemActor, WorkspaceActor } from "~/server/audit/actor";
import type { AuditFn } from "~/server/audit/mutate";
import { supersedeOpenReviewsTx } from "~/server/reviews/supersede";
import { followAlias } from "~/server/serving/deployments.service";
import { assertAliasServable } from "~/server/serving/servability";
import { lock, LOCKS } from "~/server/platform/locks";

/*
 * Aliases: the one place an alias moves. Every path that moves one — an approved review,
 * a Promote, an unprotected alias set by hand, the demo seed — calls moveAliasTx inside
 * its transaction, after lockAlias. The lock order is always: alias, then deployments,
 * then review requests, so concurrent approvals, promotes and moves serialise instead of
 * deadlocking.
 */

type Actor = WorkspaceActor | (SystemActor & { workspaceId: string });

/** Serialises everything that reads or moves (model, alias) until the transaction ends. */
export async function lockAlias(tx: Tx, modelId: string, alias: string) {
  await lock(tx, LOCKS.alias(modelId, alias));
}

export type AliasMove = {
  modelId: string;
  modelName: string;
  alias: string;
  versionId: string;
  version: number;
  /** How it moved: { review, policyVersion } | { promote: deployment } | { seed: true }. Recorded in the audit event and the alias history. */
  via?: Record<string, unknown>;
  /** An approved review moving the alias for itself is not superseded by its own move. */
  exceptRequestId?: string;
  /** Set by the approval path (the review just approved it) and by seeding; otherwise the version must be approved for a protected alias. */
  approvedBy?: "review" | "seed";
  /** Promote: this deployment's history says "canary promoted" rather than "alias followed". */
  promoteDeploymentId?: string;
};

/**
 * Points an alias at a version, in `tx` (the caller holds lockAlias): the alias row, its
 * history, its audit event, every other open review for the alias superseded, and the
 * deployments that follow it rolled out. Refuses a version that may not hold the alias
 * (not loadable; not approved for a protected alias). Returns the rollouts started and the
 * notifications to deliver after commit.
 */
export async function moveAliasTx(tx: Tx, audit: AuditFn, actor: Actor, input: AliasMove) {
  const workspaceId = actor.workspaceId;
  if (!input.approvedBy) await assertAliasServable(tx, { workspaceId, modelId: input.modelId, alias: input.alias, versionId: input.versionId });
  const userId = actor.type === "user" ? actor.userId : null;
  const [before] = await tx
    .select({ id: modelAliases.id, version: modelVersions.version, versionId: modelAliases.modelVersionId })
    .from(modelAliases)
    .innerJoin(modelVersions, eq(modelVersions.id, modelAliases.modelVersionId))
    .where(and(eq(modelAliases.modelId, input.modelId), eq(modelAliases.alias, input.alias)))
    .for("update", { of: modelAliases });
  if (before?.versionId === input.versionId)
    return { rollouts: [] as { deploymentId: string; rolloutId: string }[], toDeliver: [] as { id: string; userId: string }[], changed: false };
  await tx
    .insert(modelAliases)
    .values({ workspaceId, modelId: input.modelId, alias: input.alias, modelVersionId: input.versionId, updatedBy: userId })
    .onConflictDoUpdate({
      target: [modelAliases.modelId, modelAliases.alias],
      set: { modelVersionId: input.versionId, updatedBy: userId, updatedAt: new Date() },
    });
  const now = new Date();
  await tx
    .update(aliasHistory)
    .set({ untilAt: now })
    .where(and(eq(aliasHistory.modelId, input.modelId), eq(aliasHistory.alias, input.alias), isNull(aliasHistory.untilAt)));
  await tx
    .insert(aliasHistory)
    .values({ workspaceId, modelId: input.modelId, alias: input.alias, modelVersionId: input.versionId, via: input.via ?? {}, fromAt: now, movedBy: userId });
  audit({
    action: "model.alias_moved",
    target: { type: "model", id: input.modelId },
    workspaceId,
    changes: { [input.alias]: [before?.version ?? null, input.version] },
    metadata: { name: input.modelName, alias: input.alias, ...input.via },
  });
  const toDeliver = await supersedeOpenReviewsTx(tx, audit, {
    workspaceId,
    modelId: input.modelId,
    alias: input.alias,
    versionId: input.versionId,
    exceptRequestId: input.exceptRequestId,
  });
  // Deployments following this alias roll out the new version in the same transaction.
  const rollouts = await followAlias(tx, audit, actor, {
    modelId: input.modelId,
    alias: input.alias,
    versionId: input.versionId,
    promoteDeploymentId: input.promoteDeploymentId,
  });
  return { rollouts, toDeliver, changed: true };
}

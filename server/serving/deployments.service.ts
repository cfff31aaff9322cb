import "server-only";
import { createHash, randomBytes } from "node:crypto";
import { and, desc, eq, inArray, isNull, sql } from "drizzle-orm";
import { z } from "zod";
import { getDb, type Tx } from "~/db/client";
import {
  auditEvents,
  deploymentEvents,
  deploymentKeys,
  deployments,
  memberships,
  modelAliases,
  models,
  modelVersions,
  predictionLogs,
  users,
  workspaces,
} from "~/db/schema";
import { DEFAULT_DEPLOYMENT_SETTINGS, type DeploymentSettings } from "~/db/schema/serving";
import type { RequestMeta, SystemActor, WorkspaceActor } from "~/server/audit/actor";
import { mutate, type AuditFn } from "~/server/audit/mutate";
import { AppError, isUniqueViolation } from "~/server/errors";
import { modelByName } from "~/server/registry/lookup";
import { publish } from "~/server/realtime/publish";
import { credentialsChanged } from "~/server/platform/credentials";
import { CHANNELS } from "~/server/platform/channels";
import { featureNames } from "~/server/shared/tabular";
import { createDefaultRules } from "~/server/monitoring/alert-defaults";
import { lockAlias, moveAliasTx } from "~/server/registry/aliases.service";
import { AliasName, RegistryName, VersionNumber } from "~/server/shared/registry.schema";
import { deliver, notifyTx } from "~/server/reviews/notifications.service";
import { policyFor } from "~/server/reviews/policies.service";
import { listRolloutRows, replicasOf, startRolloutTx } from "./rollouts.service";
import { approvalFor, assertRollbackTarget, assertServable } from "./servability";
import { versionNumbers } from "./versions";

/*
 * Deployments: which versions of a model serve in an environment, and how traffic is
 * split. Every change is one transaction with its history row, its audit event, a
 * revision bump and a NOTIFY that tells every inference replica to reload.
 */

export const DEPLOYMENT_KEY_PREFIX = "stwd_";

type Actor = WorkspaceActor | (SystemActor & { workspaceId: string });
type Row = typeof deployments.$inferSelect;

export const DeploymentName = z
  .string({ error: "Deployment name is required." })
  .trim()
  .regex(/^[a-z][a-z0-9-]{0,62}$/, "Deployment name must be 1-63 lower-case letters, digits or '-', starting with a letter (it becomes part of a URL).");

export const SettingsInput = z
  .object({
    maxBatchSize: z.number().int().min(1, "maxBatchSize must be at least 1.").max(4096),
    maxWaitMs: z.number().min(0).max(100, "maxWaitMs must be at most 100 ms."),
    intraOpThreads: z.number().int().min(1).max(64),
    inputSampleRate: z.number().min(0).max(1),
    sensitiveInputs: z.array(z.object({ name: z.string().min(1), mode: z.enum(["drop", "hash"]) })).max(100),
    canaryAnalysis: z.object({
      enabled: z.boolean(),
      minRequests: z.number().int().min(1),
      maxErrorRateDelta: z.number().min(0).max(1),
      maxLatencyRatio: z.number().min(1),
      windowMinutes: z.number().int().min(1).max(1440),
    }),
    driftReference: z.discriminatedUnion("kind", [
      z.object({ kind: z.literal("lineage") }),
      z
        .object({
          kind: z.literal("window"),
          from: z.iso.datetime({ offset: true, error: "driftReference.from must be an ISO date-time." }),
          to: z.iso.datetime({ offset: true, error: "driftReference.to must be an ISO date-time." }),
        })
        .refine((w) => Date.parse(w.from) < Date.parse(w.to), { message: "driftReference: the window's start must be before its end.", path: ["to"] })
        .refine((w) => Date.parse(w.to) <= Date.now() + 60_000, {
          message: "driftReference: the window must be in the past (its traffic is the reference).",
          path: ["to"],
        }),
    ]),
  })
  .partial();

const hashKey = (key: string) => createHash("sha256").update(key).digest("hex");
const label = (a: Actor) => (a.type === "user" ? a.email : a.job);

async function versionId(tx: Tx, modelId: string, version: number, field: string) {
  const [v] = await tx
    .select({ id: modelVersions.id })
    .from(modelVersions)
    .where(and(eq(modelVersions.modelId, modelId), eq(modelVersions.version, version)));
  if (!v) throw new AppError("NOT_FOUND", `The model has no version ${version}.`, { field });
  return v.id;
}

type Serving = Pick<Row, "primaryVersionId" | "canaryVersionId" | "canaryPercent" | "shadowVersionId">;

/**
 * Every version that gains reach in `after` passes the servability check (servability.ts):
 * a new primary, a new canary or a larger canary share, a new shadow. An emergency
 * rollback checks its target against the alias history instead of approvals.
 */
async function checkServable(tx: Tx, d: Row, before: Serving | null, after: Serving, opts: { emergency?: boolean; skip?: boolean }) {
  if (opts.skip) return;
  const base = { workspaceId: d.workspaceId, modelId: d.modelId, alias: d.alias };
  if (after.primaryVersionId !== before?.primaryVersionId) {
    if (opts.emergency) await assertRollbackTarget(tx, { ...base, versionId: after.primaryVersionId });
    else await assertServable(tx, { ...base, versionId: after.primaryVersionId, role: "primary", field: "version" });
  }
  if (after.canaryVersionId && (after.canaryVersionId !== before?.canaryVersionId || after.canaryPercent > (before?.canaryPercent ?? 0))) {
    await assertServable(tx, { ...base, versionId: after.canaryVersionId, role: "canary", percent: after.canaryPercent, field: "canaryVersion" });
  }
  if (after.shadowVersionId && after.shadowVersionId !== before?.shadowVersionId)
    await assertServable(tx, { ...base, versionId: after.shadowVersionId, role: "shadow", field: "shadowVersion" });
}

type ChangeOpts = { emergencyReason?: string; skipChecks?: boolean };

/** The one place a deployment changes: servability, row, rollout, history, audit, notify. */
async function change(
  tx: Tx,
  audit: AuditFn,
  actor: Actor,
  before: Row,
  patch: Partial<typeof deployments.$inferInsert>,
  kind: (typeof deploymentEvents.$inferInsert)["kind"],
  summary: string,
  opts: ChangeOpts = {},
) {
  const next: Serving = {
    primaryVersionId: patch.primaryVersionId ?? before.primaryVersionId,
    canaryVersionId: patch.canaryVersionId === undefined ? before.canaryVersionId : patch.canaryVersionId,
    canaryPercent: patch.canaryPercent ?? before.canaryPercent,
    shadowVersionId: patch.shadowVersionId === undefined ? before.shadowVersionId : patch.shadowVersionId,
  };
  await checkServable(tx, before, before, next, { emergency: !!opts.emergencyReason, skip: opts.skipChecks });
  const [after] = await tx
    .update(deployments)
    .set({ ...patch, revision: sql`${deployments.revision} + 1`, updatedAt: new Date() })
    .where(eq(deployments.id, before.id))
    .returning();
  const n = await versionNumbers(tx, [after!.primaryVersionId, after!.canaryVersionId, after!.shadowVersionId]);
  const detail = {
    revision: after!.revision,
    primary: n.get(after!.primaryVersionId) ?? null,
    canary: after!.canaryVersionId ? (n.get(after!.canaryVersionId) ?? null) : null,
    canaryPercent: after!.canaryPercent,
    shadow: after!.shadowVersionId ? (n.get(after!.shadowVersionId) ?? null) : null,
    alias: after!.alias,
    following: after!.following,
    status: after!.status,
    ...(opts.emergencyReason ? { emergency: true, reason: opts.emergencyReason } : {}),
  };
  const rolloutId = await startRolloutTx(tx, before, after!, kind, label(actor), opts.emergencyReason ?? null);
  if (!opts.skipChecks) await reapprovalNoticeTx(tx, audit, after!);
  await tx
    .insert(deploymentEvents)
    .values({ workspaceId: before.workspaceId, deploymentId: before.id, kind, summary, detail: { ...detail, rolloutId }, actorLabel: label(actor) });
  audit({
    action: `deployment.${kind}` as never,
    target: { type: "deployment", id: before.id },
    workspaceId: before.workspaceId,
    metadata: { name: before.name, summary, rolloutId, ...detail },
  });
  await tx.execute(sql`select pg_notify(${CHANNELS.deployments}, ${before.id})`);
  return { ...after!, rolloutId };
}

/**
 * Approval validity is checked whenever traffic changes: a version already serving past
 * its approval's validity is not pulled, but the policy's approvers are told that it is
 * due for re-approval (once a day per deployment and version, audited).
 */
async function reapprovalNoticeTx(tx: Tx, audit: AuditFn, d: Row) {
  const a = await approvalFor(tx, { workspaceId: d.workspaceId, modelId: d.modelId, alias: d.alias, versionId: d.primaryVersionId });
  const due = (a.state === "approved" && a.source === "holder" && a.reapprovalDue) || a.state === "expired";
  if (!due) return;
  const [recent] = await tx
    .select({ seq: auditEvents.seq })
    .from(auditEvents)
    .where(
      and(
        eq(auditEvents.workspaceId, d.workspaceId),
        eq(auditEvents.action, "deployment.reapproval_due"),
        eq(auditEvents.targetId, d.id),
        sql`${auditEvents.metadata}->>'versionId' = ${d.primaryVersionId}`,
        sql`${auditEvents.occurredAt} > now() - interval '1 day'`,
      ),
    )
    .limit(1);
  if (recent) return;
  const [v] = await tx
    .select({ version: modelVersions.version, model: models.name })
    .from(modelVersions)
    .innerJoin(models, eq(models.id, modelVersions.modelId))
    .where(eq(modelVersions.id, d.primaryVersionId));
  const since = a.state === "expired" ? a.expiredAt : a.state === "approved" ? a.expiresAt : null;
  audit({
    action: "deployment.reapproval_due",
    target: { type: "deployment", id: d.id },
    workspaceId: d.workspaceId,
    metadata: { name: d.name, alias: d.alias, version: v!.version, versionId: d.primaryVersionId, expiredAt: since?.toISOString() ?? null },
  });
  const approvers = await tx
    .select({ id: memberships.userId, role: memberships.role })
    .from(memberships)
    .where(and(eq(memberships.workspaceId, d.workspaceId), inArray(memberships.role, ["reviewer", "compliance_officer"])));
  const [ws] = await tx.select({ slug: workspaces.slug }).from(workspaces).where(eq(workspaces.id, d.workspaceId));
  await notifyTx(
    tx,
    approvers.map((p) => ({
      userId: p.id,
      workspaceId: d.workspaceId,
      kind: "approval_needed" as const,
      title: `Re-approval due: ${v!.model} v${v!.version} still serves ${d.alias} on ${d.name} past its approval's validity`,
      body: `Its approval for "${d.alias}" expired${since ? ` on ${since.toISOString().slice(0, 10)}` : ""}. It keeps serving; open a review to re-approve it or replace it.`,
      link: `/w/${ws!.slug}/reviews/new?model=${encodeURIComponent(v!.model)}&version=${v!.version}&alias=${encodeURIComponent(d.alias)}`,
      actorLabel: "Steward",
    })),
  );
}

/**
 * Locks a deployment for a change: the alias lock first (the order every alias and
 * deployment change keeps), then the row. `expectedRevision`, when given, must still be
 * current: two operators changing one deployment at once get one success and one conflict.
 */
async function lockByName(tx: Tx, workspaceId: string, name: string, expectedRevision?: number) {
  const [peek] = await tx
    .select({ modelId: deployments.modelId, alias: deployments.alias })
    .from(deployments)
    .where(and(eq(deployments.workspaceId, workspaceId), eq(deployments.name, name)));
  if (!peek) throw new AppError("NOT_FOUND", `There is no deployment "${name}" in this workspace.`, { field: "name" });
  await lockAlias(tx, peek.modelId, peek.alias);
  const [d] = await tx
    .select()
    .from(deployments)
    .where(and(eq(deployments.workspaceId, workspaceId), eq(deployments.name, name)))
    .for("update");
  if (!d) throw new AppError("NOT_FOUND", `There is no deployment "${name}" in this workspace.`, { field: "name" });
  if (expectedRevision !== undefined && d.revision !== expectedRevision) {
    throw new AppError(
      "CONFLICT",
      `Deployment "${name}" changed while you were looking at it: it is at revision ${d.revision} now (you saw ${expectedRevision}). Reload it and try again.`,
      { field: "revision" },
    );
  }
  return d;
}

/** After commit: browsers showing the deployment refetch it. */
const announce = (d: { workspaceId: string; id: string }) =>
  publish.toWorkspace(d.workspaceId, "deployment.changed", { workspaceId: d.workspaceId, deploymentId: d.id });

export const CreateDeploymentInput = z.object({
  name: DeploymentName,
  environment: z.string().trim().min(1, "environment is required (e.g. production).").max(40),
  model: RegistryName,
  /** The alias the deployment is bound to (its policy governs what may serve here). */
  alias: AliasName.default("production"),
  /** Follow the alias (default), or pin `version`. */
  follow: z.boolean().optional(),
  version: VersionNumber.optional(),
  settings: SettingsInput.optional(),
});

export async function createDeployment(actor: WorkspaceActor, raw: z.input<typeof CreateDeploymentInput>, meta: RequestMeta = {}) {
  const input = CreateDeploymentInput.parse(raw);
  const name = input.name;
  const follow = input.follow ?? input.version === undefined;
  if (!follow && input.version === undefined)
    throw new AppError("INVALID", "version is required to pin a deployment (or follow the alias instead).", { field: "version" });
  const settings: DeploymentSettings = { ...DEFAULT_DEPLOYMENT_SETTINGS, ...(input.settings ?? {}) };
  try {
    const d = await mutate(
      actor,
      async (tx, audit) => {
        const m = await modelByName(tx, actor.workspaceId, input.model);
        await lockAlias(tx, m.id, input.alias);
        const [holder] = await tx
          .select({ id: modelAliases.modelVersionId })
          .from(modelAliases)
          .where(and(eq(modelAliases.modelId, m.id), eq(modelAliases.alias, input.alias)));
        let primary: string;
        if (follow) {
          if (!holder)
            throw new AppError(
              "PRECONDITION_FAILED",
              `No version of "${m.name}" holds the alias "${input.alias}" yet: pin a version, or point the alias first.`,
              { field: "version" },
            );
          primary = holder.id;
          if (input.version !== undefined && (await versionId(tx, m.id, input.version, "version")) !== holder.id) {
            throw new AppError("INVALID", `A deployment that follows "${input.alias}" serves its holder; to serve v${input.version}, pin it (follow: false).`, {
              field: "version",
            });
          }
        } else primary = await versionId(tx, m.id, input.version!, "version");
        await assertServable(tx, { workspaceId: actor.workspaceId, modelId: m.id, alias: input.alias, versionId: primary, role: "primary", field: "version" });
        const [row] = await tx
          .insert(deployments)
          .values({
            workspaceId: actor.workspaceId,
            name,
            environment: input.environment,
            modelId: m.id,
            alias: input.alias,
            following: follow,
            primaryVersionId: primary,
            settings,
            createdBy: actor.userId,
          })
          .returning();
        // Every deployment starts watched: drift, error rate and latency alerts (editable).
        await createDefaultRules(tx, row!);
        const n = await versionNumbers(tx, [primary]);
        const summary = `Deployed ${m.name} v${n.get(primary)} to ${row!.environment} (${follow ? `following ${input.alias}` : `pinned, bound to ${input.alias}`}).`;
        const rolloutId = await startRolloutTx(tx, null, row!, "deployed", actor.email, null);
        await tx.insert(deploymentEvents).values({
          workspaceId: actor.workspaceId,
          deploymentId: row!.id,
          kind: "deployed",
          summary,
          detail: { revision: row!.revision, primary: n.get(primary), alias: input.alias, following: follow, rolloutId },
          actorLabel: actor.email,
        });
        audit({
          action: "deployment.deployed",
          target: { type: "deployment", id: row!.id },
          metadata: { name, model: m.name, primary: n.get(primary), alias: input.alias, following: follow, environment: row!.environment, summary, rolloutId },
        });
        await tx.execute(sql`select pg_notify(${CHANNELS.deployments}, ${row!.id})`);
        return { ...row!, rolloutId };
      },
      meta,
    );
    announce(d);
    return { id: d.id, name: d.name, revision: d.revision, rolloutId: d.rolloutId };
  } catch (err) {
    if (isUniqueViolation(err)) throw new AppError("CONFLICT", `A deployment named "${name}" already exists in this workspace.`, { field: "name" });
    throw err;
  }
}

/** The revision the caller saw; a change against an older one is a conflict. */
export const Revision = z.number({ error: "expectedRevision must be a revision number." }).int().positive().optional();

export const SetTrafficInput = z.object({
  name: DeploymentName,
  canaryVersion: VersionNumber.nullable().optional(),
  canaryPercent: z
    .number({ error: "canaryPercent must be a number." })
    .int("canaryPercent must be a whole number from 0 to 100.")
    .min(0, "canaryPercent must be a whole number from 0 to 100.")
    .max(100, "canaryPercent must be a whole number from 0 to 100.")
    .optional(),
  shadowVersion: VersionNumber.nullable().optional(),
  expectedRevision: Revision,
});

/** Sets the canary (version and share of traffic) and the shadow; null clears them. */
export async function setTraffic(actor: WorkspaceActor, raw: z.input<typeof SetTrafficInput>, meta: RequestMeta = {}) {
  const input = SetTrafficInput.parse(raw);
  const d = await mutate(
    actor,
    async (tx, audit) => {
      const d = await lockByName(tx, actor.workspaceId, input.name, input.expectedRevision);
      const canary =
        input.canaryVersion === undefined
          ? d.canaryVersionId
          : input.canaryVersion === null
            ? null
            : await versionId(tx, d.modelId, input.canaryVersion, "canaryVersion");
      const shadow =
        input.shadowVersion === undefined
          ? d.shadowVersionId
          : input.shadowVersion === null
            ? null
            : await versionId(tx, d.modelId, input.shadowVersion, "shadowVersion");
      const percent = canary ? (input.canaryPercent ?? (canary === d.canaryVersionId ? d.canaryPercent : 10)) : 0;
      if (canary && canary === d.primaryVersionId)
        throw new AppError("INVALID", "The canary must be a different version from the primary.", { field: "canaryVersion" });
      if (canary && percent === 0)
        throw new AppError("INVALID", "canaryPercent must be at least 1 for a canary (clear the canary to stop it).", { field: "canaryPercent" });
      if (canary === d.canaryVersionId && percent === d.canaryPercent && shadow === d.shadowVersionId)
        throw new AppError("PRECONDITION_FAILED", "Nothing changed: this is the deployment's traffic already.");
      const n = await versionNumbers(tx, [canary, shadow]);
      const parts = [canary ? `canary v${n.get(canary)} at ${percent}%` : "no canary", shadow ? `shadow v${n.get(shadow)}` : "no shadow"];
      return change(
        tx,
        audit,
        actor,
        d,
        { canaryVersionId: canary, canaryPercent: percent, shadowVersionId: shadow },
        "traffic_changed",
        `Traffic: ${parts.join(", ")}.`,
      );
    },
    meta,
  );
  announce(d);
  return { revision: d.revision, rolloutId: d.rolloutId };
}

/**
 * Promote is the alias move: the canary's version becomes the alias's holder (so every
 * deployment following the alias serves it), or — on a pinned deployment — the pinned
 * primary. Either way it must be approved for the deployment's alias; if it is not, the
 * answer says to request a review (the UI offers it, prefilled).
 */
export const PromoteCanaryInput = z.object({ name: DeploymentName, expectedRevision: Revision });

export async function promoteCanary(actor: WorkspaceActor, raw: { name: string; expectedRevision?: number }, meta: RequestMeta = {}) {
  const input = PromoteCanaryInput.parse(raw);
  let toDeliver: { id: string; userId: string }[] = [];
  const d = await mutate(
    actor,
    async (tx, audit) => {
      const d = await lockByName(tx, actor.workspaceId, input.name, input.expectedRevision);
      if (!d.canaryVersionId) throw new AppError("PRECONDITION_FAILED", `Deployment "${input.name}" has no canary to promote.`);
      const canaryId = d.canaryVersionId;
      const n = await versionNumbers(tx, [canaryId, d.primaryVersionId]);
      // Approved for the alias (a canary under review is not enough to take all traffic).
      await assertServable(tx, {
        workspaceId: d.workspaceId,
        modelId: d.modelId,
        alias: d.alias,
        versionId: canaryId,
        role: "primary",
        field: "canaryVersion",
      });
      if (d.following) {
        const [m] = await tx.select({ name: models.name }).from(models).where(eq(models.id, d.modelId));
        const moved = await moveAliasTx(tx, audit, actor, {
          modelId: d.modelId,
          modelName: m!.name,
          alias: d.alias,
          versionId: canaryId,
          version: n.get(canaryId)!,
          via: { promote: d.name },
          promoteDeploymentId: d.id,
        });
        toDeliver = moved.toDeliver;
        const mine = moved.rollouts.find((r) => r.deploymentId === d.id);
        const [after] = await tx.select().from(deployments).where(eq(deployments.id, d.id));
        return { ...after!, rolloutId: mine?.rolloutId ?? null };
      }
      return change(
        tx,
        audit,
        actor,
        d,
        { primaryVersionId: canaryId, previousPrimaryVersionId: d.primaryVersionId, canaryVersionId: null, canaryPercent: 0 },
        "canary_promoted",
        `Promoted canary v${n.get(canaryId)} to primary (was v${n.get(d.primaryVersionId)}); still pinned, bound to ${d.alias}.`,
      );
    },
    meta,
  );
  deliver(toDeliver);
  announce(d);
  return { revision: d.revision, rolloutId: d.rolloutId };
}

export const RollbackInput = z.object({
  name: DeploymentName,
  /** The version to go back to; the previous primary by default. */
  version: VersionNumber.optional(),
  reason: z
    .string({ error: "reason is required: say why this is an emergency rollback." })
    .trim()
    .min(3, "reason is required: say why this is an emergency rollback.")
    .max(1000),
  expectedRevision: Revision,
});

/**
 * Emergency rollback, at once, without a new review: to a version that held the
 * deployment's alias within the policy's validity window and was not rejected or
 * withdrawn since. The deployment is pinned to it (the alias is left where the review put
 * it); the reason is recorded on the rollout, in the history and in the audit trail.
 */
export async function rollback(actor: WorkspaceActor, raw: z.input<typeof RollbackInput>, meta: RequestMeta = {}) {
  const input = RollbackInput.parse(raw);
  const d = await mutate(
    actor,
    async (tx, audit) => {
      const d = await lockByName(tx, actor.workspaceId, input.name, input.expectedRevision);
      const target = input.version !== undefined ? await versionId(tx, d.modelId, input.version, "version") : d.previousPrimaryVersionId;
      if (!target)
        throw new AppError("PRECONDITION_FAILED", `Deployment "${input.name}" has no previous version to roll back to: name one.`, { field: "version" });
      if (target === d.primaryVersionId)
        throw new AppError("PRECONDITION_FAILED", `Deployment "${input.name}" already serves that version.`, { field: "version" });
      const n = await versionNumbers(tx, [target, d.primaryVersionId]);
      return change(
        tx,
        audit,
        actor,
        d,
        { primaryVersionId: target, previousPrimaryVersionId: d.primaryVersionId, canaryVersionId: null, canaryPercent: 0, following: false },
        "rolled_back",
        `Emergency rollback to v${n.get(target)} (from v${n.get(d.primaryVersionId)}); pinned. Reason: ${input.reason}`,
        { emergencyReason: input.reason },
      );
    },
    meta,
  );
  announce(d);
  return { revision: d.revision, rolloutId: d.rolloutId };
}

export const SetFollowInput = z.object({
  name: DeploymentName,
  /** true: follow the deployment's alias again; false: pin `version` (the current primary by default). */
  follow: z.boolean({ error: "follow must be true (follow the alias) or false (pin a version)." }),
  version: VersionNumber.optional(),
  expectedRevision: Revision,
});

/** Switches between following the bound alias and pinning a version; its own audited action. */
export async function setFollow(actor: WorkspaceActor, raw: z.input<typeof SetFollowInput>, meta: RequestMeta = {}) {
  const input = SetFollowInput.parse(raw);
  const d = await mutate(
    actor,
    async (tx, audit) => {
      const d = await lockByName(tx, actor.workspaceId, input.name, input.expectedRevision);
      if (input.follow) {
        if (input.version !== undefined)
          throw new AppError("INVALID", "version: a deployment that follows its alias serves the alias's holder; leave version out.", { field: "version" });
        const [holder] = await tx
          .select({ id: modelAliases.modelVersionId })
          .from(modelAliases)
          .where(and(eq(modelAliases.modelId, d.modelId), eq(modelAliases.alias, d.alias)));
        if (!holder) throw new AppError("PRECONDITION_FAILED", `No version holds "${d.alias}", so there is nothing to follow.`, { field: "follow" });
        if (d.following) throw new AppError("PRECONDITION_FAILED", `Deployment "${input.name}" already follows ${d.alias}.`, { field: "follow" });
        const n = await versionNumbers(tx, [holder.id, d.primaryVersionId]);
        const moves = holder.id !== d.primaryVersionId;
        return change(
          tx,
          audit,
          actor,
          d,
          {
            following: true,
            ...(moves ? { primaryVersionId: holder.id, previousPrimaryVersionId: d.primaryVersionId } : {}),
            ...(d.canaryVersionId === holder.id ? { canaryVersionId: null, canaryPercent: 0 } : {}),
          },
          "follow_changed",
          `Follows ${d.alias} again: serves v${n.get(holder.id)}${moves ? ` (was pinned to v${n.get(d.primaryVersionId)})` : ""}.`,
        );
      }
      const target = input.version !== undefined ? await versionId(tx, d.modelId, input.version, "version") : d.primaryVersionId;
      if (!d.following && target === d.primaryVersionId)
        throw new AppError("PRECONDITION_FAILED", `Deployment "${input.name}" is already pinned to that version.`, { field: "version" });
      if (d.canaryVersionId === target) throw new AppError("INVALID", "version: that version is the canary; promote it instead.", { field: "version" });
      const n = await versionNumbers(tx, [target, d.primaryVersionId]);
      return change(
        tx,
        audit,
        actor,
        d,
        { following: false, ...(target !== d.primaryVersionId ? { primaryVersionId: target, previousPrimaryVersionId: d.primaryVersionId } : {}) },
        "follow_changed",
        `Pinned to v${n.get(target)}${target !== d.primaryVersionId ? ` (was v${n.get(d.primaryVersionId)})` : ""}; no longer follows ${d.alias}.`,
      );
    },
    meta,
  );
  announce(d);
  return { revision: d.revision, rolloutId: d.rolloutId };
}

/** Automatic canary analysis found the canary worse: drop it, with the reason (called by inference replicas). */
export async function autoRollbackCanary(deploymentId: string, expectedCanaryVersionId: string, reason: string) {
  const [row] = await getDb().select({ workspaceId: deployments.workspaceId }).from(deployments).where(eq(deployments.id, deploymentId));
  if (!row) return false;
  const actor: SystemActor & { workspaceId: string } = { type: "system", job: "canary-analysis", workspaceId: row.workspaceId };
  const d = await mutate(actor, async (tx, audit) => {
    const [d] = await tx.select().from(deployments).where(eq(deployments.id, deploymentId)).for("update");
    // Another replica (or a person) already acted.
    if (!d || d.canaryVersionId !== expectedCanaryVersionId) return null;
    const n = await versionNumbers(tx, [d.canaryVersionId]);
    return change(
      tx,
      audit,
      actor,
      d,
      { canaryVersionId: null, canaryPercent: 0 },
      "canary_rolled_back",
      `Canary v${n.get(d.canaryVersionId)} rolled back automatically: ${reason}`,
    );
  });
  if (d) announce(d);
  return !!d;
}

/** A failed rollout: back to what served before (no servability check: it was serving). */
export async function revertTx(tx: Tx, audit: AuditFn, actor: Actor, d: Row, to: Serving, summary: string) {
  // A following deployment whose alias now holds a version it could not serve would claim to
  // follow while serving another: it is pinned to what it serves, and says how to follow again.
  const [holder] = d.following
    ? await tx
        .select({ versionId: modelAliases.modelVersionId, version: modelVersions.version })
        .from(modelAliases)
        .innerJoin(modelVersions, eq(modelVersions.id, modelAliases.modelVersionId))
        .where(and(eq(modelAliases.modelId, d.modelId), eq(modelAliases.alias, d.alias)))
    : [];
  const pin = !!holder && holder.versionId !== to.primaryVersionId;
  const why = pin
    ? ` Pinned to what it serves: ${d.alias} holds v${holder.version}, which failed to roll out here; follow ${d.alias} again once v${holder.version} can be served.`
    : "";
  return change(
    tx,
    audit,
    actor,
    d,
    { ...to, previousPrimaryVersionId: d.primaryVersionId, ...(pin ? { following: false } : {}) },
    "rollout_reverted",
    summary + why,
    { skipChecks: true },
  );
}

export const SetStatusInput = z.object({ name: DeploymentName, status: z.enum(["active", "stopped"]), expectedRevision: Revision });

export async function setStatus(actor: WorkspaceActor, raw: z.infer<typeof SetStatusInput>, meta: RequestMeta = {}) {
  const { name, status, expectedRevision } = raw;
  const d = await mutate(
    actor,
    async (tx, audit) => {
      const d = await lockByName(tx, actor.workspaceId, name, expectedRevision);
      if (d.status === status) throw new AppError("PRECONDITION_FAILED", `Deployment "${name}" is already ${status === "active" ? "serving" : "stopped"}.`);
      return change(
        tx,
        audit,
        actor,
        d,
        { status },
        status === "active" ? "started" : "stopped",
        status === "active" ? "Serving again." : "Stopped: predict requests are refused.",
      );
    },
    meta,
  );
  announce(d);
  return { revision: d.revision, rolloutId: d.rolloutId };
}

export async function updateSettings(actor: WorkspaceActor, name: string, raw: z.infer<typeof SettingsInput>, meta: RequestMeta = {}) {
  const patch = SettingsInput.parse(raw);
  const d = await mutate(
    actor,
    async (tx, audit) => {
      const d = await lockByName(tx, actor.workspaceId, name);
      const settings = { ...d.settings, ...patch };
      // Compared field by field (canary analysis too), so stored key order does not matter.
      const flat = (x: DeploymentSettings) => {
        const { canaryAnalysis, ...rest } = x;
        const out: Record<string, unknown> = { ...rest };
        for (const [k, v] of Object.entries(canaryAnalysis)) out[`canaryAnalysis.${k}`] = v;
        return out;
      };
      const [a, b] = [flat(d.settings), flat(settings)];
      const changed = Object.keys(b).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
      if (!changed.length) throw new AppError("PRECONDITION_FAILED", "Nothing changed: these are the deployment's settings already.");
      if (patch.sensitiveInputs?.length) {
        // A sensitive input must name something the primary version takes: a tensor or a record column.
        const [v] = await tx
          .select({ signature: modelVersions.signature, version: modelVersions.version })
          .from(modelVersions)
          .where(eq(modelVersions.id, d.primaryVersionId));
        const known = new Set([...(featureNames(v!.signature) ?? []), ...v!.signature.inputs.map((i) => i.name)]);
        patch.sensitiveInputs.forEach((x, i) => {
          if (!known.has(x.name))
            throw new AppError(
              "INVALID",
              `sensitiveInputs[${i}].name: "${x.name}" is not an input or column of v${v!.version} (it takes ${[...known].join(", ")}).`,
              { field: `sensitiveInputs.${i}.name` },
            );
        });
      }
      const show = (k: string, v: unknown) => {
        if (k === "sensitiveInputs") return (v as { name: string; mode: string }[]).map((x) => `${x.name} (${x.mode})`).join(", ") || "none";
        if (k === "driftReference") {
          const r = v as DeploymentSettings["driftReference"];
          return r?.kind === "window" ? `traffic ${r.from} – ${r.to}` : "training data";
        }
        return String(v);
      };
      const summary = `Settings changed: ${changed.map((k) => `${k} ${show(k, a[k])} → ${show(k, b[k])}`).join("; ")}.`;
      return change(tx, audit, actor, d, { settings }, "settings_changed", summary);
    },
    meta,
  );
  announce(d);
  return { revision: d.revision };
}

/** In the alias-moving transaction (alias lock held): deployments following that alias roll out the new version. */
export async function followAlias(
  tx: Tx,
  audit: AuditFn,
  actor: Actor,
  input: { modelId: string; alias: string; versionId: string; promoteDeploymentId?: string },
) {
  const list = await tx
    .select()
    .from(deployments)
    .where(and(eq(deployments.modelId, input.modelId), eq(deployments.alias, input.alias), eq(deployments.following, true)))
    .orderBy(deployments.id)
    .for("update");
  const out: { deploymentId: string; rolloutId: string }[] = [];
  for (const d of list) {
    if (d.primaryVersionId === input.versionId) continue;
    const n = await versionNumbers(tx, [input.versionId, d.primaryVersionId]);
    const clearCanary = d.canaryVersionId === input.versionId;
    const promoted = d.id === input.promoteDeploymentId;
    const after = await change(
      tx,
      audit,
      actor,
      d,
      { primaryVersionId: input.versionId, previousPrimaryVersionId: d.primaryVersionId, ...(clearCanary ? { canaryVersionId: null, canaryPercent: 0 } : {}) },
      promoted ? "canary_promoted" : "alias_followed",
      promoted
        ? `Promoted canary v${n.get(input.versionId)}: ${input.alias} moved to it (was v${n.get(d.primaryVersionId)}); rolling out.`
        : `${input.alias} moved to v${n.get(input.versionId)}: rolling out (was v${n.get(d.primaryVersionId)}).`,
    );
    out.push({ deploymentId: d.id, rolloutId: after.rolloutId });
  }
  return out;
}

// ---------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------

export async function createKey(actor: WorkspaceActor, input: { name: string; keyName: string }, meta: RequestMeta = {}) {
  const key = `${DEPLOYMENT_KEY_PREFIX}${randomBytes(24).toString("base64url")}`;
  const row = await mutate(
    actor,
    async (tx, audit) => {
      const d = await lockByName(tx, actor.workspaceId, input.name);
      const [k] = await tx
        .insert(deploymentKeys)
        .values({
          workspaceId: actor.workspaceId,
          deploymentId: d.id,
          name: input.keyName.trim(),
          keyHash: hashKey(key),
          prefix: key.slice(0, 12),
          createdBy: actor.userId,
        })
        .returning();
      audit({
        action: "deployment.key_created",
        target: { type: "deployment_key", id: k!.id },
        metadata: { deployment: d.name, name: k!.name, prefix: k!.prefix },
      });
      return k!;
    },
    meta,
  );
  return { id: row.id, key, prefix: row.prefix };
}

export async function revokeKey(actor: WorkspaceActor, keyId: string, meta: RequestMeta = {}) {
  await mutate(
    actor,
    async (tx, audit) => {
      const [k] = await tx
        .update(deploymentKeys)
        .set({ revokedAt: new Date() })
        .where(and(eq(deploymentKeys.id, keyId), eq(deploymentKeys.workspaceId, actor.workspaceId), isNull(deploymentKeys.revokedAt)))
        .returning();
      if (!k) throw new AppError("NOT_FOUND", "There is no such active key in this workspace.", { field: "keyId" });
      await credentialsChanged(tx, "deployment_key.revoked");
      audit({ action: "deployment.key_revoked", target: { type: "deployment_key", id: k.id }, metadata: { name: k.name, prefix: k.prefix } });
    },
    meta,
  );
}

/**
 * A deployment key's deployment, or null. Used by the inference server, which caches the
 * answer until CHANNELS.credentials fires, so this runs (and marks the key used) once per
 * key per cache lifetime, not once per request.
 */
export async function deploymentForKey(key: string) {
  if (!key.startsWith(DEPLOYMENT_KEY_PREFIX)) return null;
  const [k] = await getDb()
    .update(deploymentKeys)
    .set({ lastUsedAt: new Date() })
    .where(and(eq(deploymentKeys.keyHash, hashKey(key)), isNull(deploymentKeys.revokedAt)))
    .returning({ deploymentId: deploymentKeys.deploymentId, workspaceId: deploymentKeys.workspaceId });
  return k ?? null;
}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

/** Deployments by name; `after`/`limit` page through them (REST), the filters narrow them. */
export async function listDeployments(
  actor: WorkspaceActor,
  page: { after?: string; limit?: number; model?: string; environment?: string; status?: "active" | "stopped" } = {},
) {
  const query = getDb()
    .select({ d: deployments, model: models.name })
    .from(deployments)
    .innerJoin(models, eq(models.id, deployments.modelId))
    .where(
      and(
        eq(deployments.workspaceId, actor.workspaceId),
        page.after !== undefined ? sql`${deployments.name} > ${page.after}` : undefined,
        page.model ? eq(models.name, page.model) : undefined,
        page.environment ? eq(deployments.environment, page.environment) : undefined,
        page.status ? eq(deployments.status, page.status) : undefined,
      ),
    )
    .orderBy(deployments.name)
    .$dynamic();
  const rows = await (page.limit ? query.limit(page.limit) : query);
  const n = await versionNumbers(
    getDb(),
    rows.flatMap((r) => [r.d.primaryVersionId, r.d.canaryVersionId, r.d.shadowVersionId]),
  );
  return rows.map(({ d, model }) => ({
    id: d.id,
    name: d.name,
    environment: d.environment,
    model,
    status: d.status,
    alias: d.alias,
    following: d.following,
    followAlias: d.following ? d.alias : null,
    primary: n.get(d.primaryVersionId)!,
    canary: d.canaryVersionId ? { version: n.get(d.canaryVersionId)!, percent: d.canaryPercent } : null,
    shadow: d.shadowVersionId ? n.get(d.shadowVersionId)! : null,
    revision: d.revision,
    updatedAt: d.updatedAt,
  }));
}

export async function getDeployment(actor: WorkspaceActor, name: string) {
  // One snapshot: the row, its rollouts and the replicas' reports are read as of one moment, so a
  // rollout that fails (and reverts) mid-read can never show with the version it replaced.
  // eslint-disable-next-line no-restricted-syntax -- a read-only snapshot: no state changes here.
  return getDb().transaction((db) => readDeployment(db, actor, name), { isolationLevel: "repeatable read", accessMode: "read only" });
}

async function readDeployment(db: Tx, actor: WorkspaceActor, name: string) {
  const [row] = await db
    .select({ d: deployments, model: models.name })
    .from(deployments)
    .innerJoin(models, eq(models.id, deployments.modelId))
    .where(and(eq(deployments.workspaceId, actor.workspaceId), eq(deployments.name, name)));
  if (!row) throw new AppError("NOT_FOUND", `There is no deployment "${name}" in this workspace.`, { field: "name" });
  const d = row.d;
  const n = await versionNumbers(db, [d.primaryVersionId, d.canaryVersionId, d.shadowVersionId, d.previousPrimaryVersionId]);
  const [primary] = await db.select({ signature: modelVersions.signature }).from(modelVersions).where(eq(modelVersions.id, d.primaryVersionId));
  const events = await db.select().from(deploymentEvents).where(eq(deploymentEvents.deploymentId, d.id)).orderBy(desc(deploymentEvents.at)).limit(100);
  const keys = await db
    .select({
      id: deploymentKeys.id,
      name: deploymentKeys.name,
      prefix: deploymentKeys.prefix,
      createdAt: deploymentKeys.createdAt,
      lastUsedAt: deploymentKeys.lastUsedAt,
      revokedAt: deploymentKeys.revokedAt,
      createdBy: users.name,
    })
    .from(deploymentKeys)
    .leftJoin(users, eq(users.id, deploymentKeys.createdBy))
    .where(eq(deploymentKeys.deploymentId, d.id))
    .orderBy(desc(deploymentKeys.createdAt));
  const [holder] = await db
    .select({ version: modelVersions.version })
    .from(modelAliases)
    .innerJoin(modelVersions, eq(modelVersions.id, modelAliases.modelVersionId))
    .where(and(eq(modelAliases.modelId, d.modelId), eq(modelAliases.alias, d.alias)));
  const policy = await policyFor(db, d.workspaceId, d.alias);
  const approval = async (versionId: string | null) =>
    versionId ? approvalFor(db, { workspaceId: d.workspaceId, modelId: d.modelId, alias: d.alias, versionId, policy }) : null;
  const [primaryApproval, canaryApproval, history, replicas] = await Promise.all([
    approval(d.primaryVersionId),
    approval(d.canaryVersionId),
    listRolloutRows(d.id, 20, db),
    replicasOf(d.id, new Date(), db),
  ]);
  return {
    id: d.id,
    name: d.name,
    environment: d.environment,
    model: row.model,
    status: d.status,
    alias: d.alias,
    following: d.following,
    followAlias: d.following ? d.alias : null,
    primary: n.get(d.primaryVersionId)!,
    previous: d.previousPrimaryVersionId ? (n.get(d.previousPrimaryVersionId) ?? null) : null,
    canary: d.canaryVersionId ? { version: n.get(d.canaryVersionId)!, percent: d.canaryPercent } : null,
    shadow: d.shadowVersionId ? n.get(d.shadowVersionId)! : null,
    settings: d.settings,
    revision: d.revision,
    signature: primary!.signature,
    events: events.map((e) => ({ id: e.id, kind: e.kind, summary: e.summary, detail: e.detail, actor: e.actorLabel, at: e.at })),
    keys,
    /** The version holding the bound alias now (what a following deployment serves once rolled out). */
    holder: holder?.version ?? null,
    protected: !!policy,
    approvals: { primary: primaryApproval, canary: canaryApproval },
    /** The latest change's rollout (a revert after a failure does not hide the failure). */
    rollout: history.find((r) => r.cause !== "rollout_reverted") ?? history[0] ?? null,
    rollouts: history,
    replicas,
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
  };
}

/** The latest predictions of a deployment, newest first (inputs as logged: sampled and redacted). */
export async function recentPredictions(actor: WorkspaceActor, name: string, limit = 20) {
  const [d] = await getDb()
    .select({ id: deployments.id })
    .from(deployments)
    .where(and(eq(deployments.workspaceId, actor.workspaceId), eq(deployments.name, name)));
  if (!d) throw new AppError("NOT_FOUND", `There is no deployment "${name}" in this workspace.`, { field: "name" });
  const rows = await getDb()
    .select({
      at: predictionLogs.at,
      requestId: predictionLogs.requestId,
      role: predictionLogs.role,
      status: predictionLogs.status,
      latencyMs: predictionLogs.latencyMs,
      rows: predictionLogs.rows,
      inputs: predictionLogs.inputs,
      outputs: predictionLogs.outputs,
      error: predictionLogs.error,
      version: modelVersions.version,
    })
    .from(predictionLogs)
    .innerJoin(modelVersions, eq(modelVersions.id, predictionLogs.modelVersionId))
    .where(and(eq(predictionLogs.deploymentId, d.id), sql`${predictionLogs.at} > now() - interval '7 days'`))
    .orderBy(desc(predictionLogs.at))
    .limit(limit);
  return rows;
}

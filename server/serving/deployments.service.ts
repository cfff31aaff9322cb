import "server-only";
import { createHash, randomBytes } from "node:crypto";
import { and, desc, eq, inArray, isNull, sql } from "drizzle-orm";
import { z } from "zod";
import { getDb, type Tx } from "~/db/client";
import { deploymentEvents, deploymentKeys, deployments, modelAliases, models, modelVersions, predictionLogs, users } from "~/db/schema";
import { DEFAULT_DEPLOYMENT_SETTINGS, type DeploymentSettings } from "~/db/schema/serving";
import type { RequestMeta, SystemActor, WorkspaceActor } from "~/server/audit/actor";
import { mutate, type AuditFn } from "~/server/audit/mutate";
import { AppError, isUniqueViolation } from "~/server/errors";
import { publish } from "~/server/realtime/publish";
import { credentialsChanged } from "~/server/shared/credentials";
import { featureNames } from "~/server/shared/tabular";
import { createDefaultRules } from "~/server/monitoring/alert-defaults";

/*
 * Deployments: which versions of a model serve in an environment, and how traffic is
 * split. Every change is one transaction with its history row, its audit event, a
 * revision bump and a NOTIFY that tells every inference replica to reload.
 */

export const DEPLOYMENTS_CHANNEL = "steward_deployments";
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
        .object({ kind: z.literal("window"), from: z.iso.datetime({ offset: true, error: "driftReference.from must be an ISO date-time." }), to: z.iso.datetime({ offset: true, error: "driftReference.to must be an ISO date-time." }) })
        .refine((w) => Date.parse(w.from) < Date.parse(w.to), { message: "driftReference: the window's start must be before its end.", path: ["to"] })
        .refine((w) => Date.parse(w.to) <= Date.now() + 60_000, { message: "driftReference: the window must be in the past (its traffic is the reference).", path: ["to"] }),
    ]),
  })
  .partial();

const hashKey = (key: string) => createHash("sha256").update(key).digest("hex");
const label = (a: Actor) => (a.type === "user" ? a.email : a.job);

async function versionId(tx: Tx, modelId: string, version: number, field: string) {
  const [v] = await tx.select({ id: modelVersions.id }).from(modelVersions).where(and(eq(modelVersions.modelId, modelId), eq(modelVersions.version, version)));
  if (!v) throw new AppError("NOT_FOUND", `The model has no version ${version}.`, { field });
  return v.id;
}

async function versionNumbers(tx: Tx | ReturnType<typeof getDb>, ids: (string | null)[]) {
  const list = ids.filter((x): x is string => !!x);
  if (!list.length) return new Map<string, number>();
  const rows = await tx.select({ id: modelVersions.id, version: modelVersions.version }).from(modelVersions).where(inArray(modelVersions.id, list));
  return new Map(rows.map((r) => [r.id, r.version]));
}

/** The one place a deployment changes: row, history, audit, notify. */
async function change(
  tx: Tx,
  audit: AuditFn,
  actor: Actor,
  before: Row,
  patch: Partial<typeof deployments.$inferInsert>,
  kind: (typeof deploymentEvents.$inferInsert)["kind"],
  summary: string,
) {
  const [after] = await tx
    .update(deployments)
    .set({ ...patch, revision: sql`${deployments.revision} + 1`, updatedAt: new Date() })
    .where(eq(deployments.id, before.id))
    .returning();
  const n = await versionNumbers(tx, [after!.primaryVersionId, after!.canaryVersionId, after!.shadowVersionId]);
  const detail = {
    primary: n.get(after!.primaryVersionId) ?? null,
    canary: after!.canaryVersionId ? (n.get(after!.canaryVersionId) ?? null) : null,
    canaryPercent: after!.canaryPercent,
    shadow: after!.shadowVersionId ? (n.get(after!.shadowVersionId) ?? null) : null,
    followAlias: after!.followAlias,
    status: after!.status,
  };
  await tx.insert(deploymentEvents).values({ workspaceId: before.workspaceId, deploymentId: before.id, kind, summary, detail, actorLabel: label(actor) });
  audit({ action: `deployment.${kind}` as never, target: { type: "deployment", id: before.id }, workspaceId: before.workspaceId, metadata: { name: before.name, summary, ...detail } });
  await tx.execute(sql`select pg_notify(${DEPLOYMENTS_CHANNEL}, ${before.id})`);
  return after!;
}

async function lockByName(tx: Tx, workspaceId: string, name: string) {
  const [d] = await tx.select().from(deployments).where(and(eq(deployments.workspaceId, workspaceId), eq(deployments.name, name))).for("update");
  if (!d) throw new AppError("NOT_FOUND", `There is no deployment "${name}" in this workspace.`, { field: "name" });
  return d;
}

/** After commit: browsers showing the deployment refetch it. */
const announce = (d: { workspaceId: string; id: string }) => publish.toWorkspace(d.workspaceId, "deployment.changed", { workspaceId: d.workspaceId, deploymentId: d.id });

export async function createDeployment(
  actor: WorkspaceActor,
  input: { name: string; environment: string; model: string; version?: number; followAlias?: string | null; settings?: z.infer<typeof SettingsInput> },
  meta: RequestMeta = {},
) {
  const name = DeploymentName.parse(input.name);
  const settings: DeploymentSettings = { ...DEFAULT_DEPLOYMENT_SETTINGS, ...SettingsInput.parse(input.settings ?? {}) };
  try {
    const d = await mutate(
      actor,
      async (tx, audit) => {
        const [m] = await tx.select().from(models).where(and(eq(models.workspaceId, actor.workspaceId), eq(models.name, input.model)));
        if (!m) throw new AppError("NOT_FOUND", `There is no model "${input.model}" in this workspace.`, { field: "model" });
        const follow = input.version !== undefined && input.followAlias === undefined ? null : (input.followAlias ?? "production");
        let primary: string;
        if (input.version !== undefined) primary = await versionId(tx, m.id, input.version, "version");
        else {
          const [a] = await tx.select({ id: modelAliases.modelVersionId }).from(modelAliases).where(and(eq(modelAliases.modelId, m.id), eq(modelAliases.alias, follow!)));
          if (!a) throw new AppError("PRECONDITION_FAILED", `No version of "${m.name}" holds the alias "${follow}" yet: choose a version, or point the alias first.`, { field: "version" });
          primary = a.id;
        }
        const [row] = await tx
          .insert(deployments)
          .values({ workspaceId: actor.workspaceId, name, environment: input.environment.trim() || "production", modelId: m.id, followAlias: follow, primaryVersionId: primary, settings, createdBy: actor.userId })
          .returning();
        // Every deployment starts watched: drift, error rate and latency alerts (editable).
        await createDefaultRules(tx, row!);
        const n = await versionNumbers(tx, [primary]);
        const summary = `Deployed ${m.name} v${n.get(primary)} to ${row!.environment}${follow ? ` (following ${follow})` : " (pinned)"}.`;
        await tx.insert(deploymentEvents).values({ workspaceId: actor.workspaceId, deploymentId: row!.id, kind: "deployed", summary, detail: { primary: n.get(primary), followAlias: follow }, actorLabel: actor.email });
        audit({ action: "deployment.deployed", target: { type: "deployment", id: row!.id }, metadata: { name, model: m.name, primary: n.get(primary), followAlias: follow, environment: row!.environment, summary } });
        await tx.execute(sql`select pg_notify(${DEPLOYMENTS_CHANNEL}, ${row!.id})`);
        return row!;
      },
      meta,
    );
    announce(d);
    return { id: d.id, name: d.name };
  } catch (err) {
    if (isUniqueViolation(err)) throw new AppError("CONFLICT", `A deployment named "${name}" already exists in this workspace.`, { field: "name" });
    throw err;
  }
}

/** Sets the canary (version and share of traffic) and the shadow; null clears them. */
export async function setTraffic(
  actor: WorkspaceActor,
  input: { name: string; canaryVersion?: number | null; canaryPercent?: number; shadowVersion?: number | null },
  meta: RequestMeta = {},
) {
  const d = await mutate(
    actor,
    async (tx, audit) => {
      const d = await lockByName(tx, actor.workspaceId, input.name);
      const canary = input.canaryVersion === undefined ? d.canaryVersionId : input.canaryVersion === null ? null : await versionId(tx, d.modelId, input.canaryVersion, "canaryVersion");
      const shadow = input.shadowVersion === undefined ? d.shadowVersionId : input.shadowVersion === null ? null : await versionId(tx, d.modelId, input.shadowVersion, "shadowVersion");
      const percent = canary ? (input.canaryPercent ?? d.canaryPercent) : 0;
      if (percent < 0 || percent > 100 || !Number.isInteger(percent)) throw new AppError("INVALID", "canaryPercent must be a whole number from 0 to 100.", { field: "canaryPercent" });
      if (canary && canary === d.primaryVersionId) throw new AppError("INVALID", "The canary must be a different version from the primary.", { field: "canaryVersion" });
      const n = await versionNumbers(tx, [canary, shadow]);
      const parts = [canary ? `canary v${n.get(canary)} at ${percent}%` : "no canary", shadow ? `shadow v${n.get(shadow)}` : "no shadow"];
      return change(tx, audit, actor, d, { canaryVersionId: canary, canaryPercent: percent, shadowVersionId: shadow }, "traffic_changed", `Traffic: ${parts.join(", ")}.`);
    },
    meta,
  );
  announce(d);
  return { revision: d.revision };
}

/** The canary becomes the primary (the deployment is then pinned: an alias no longer moves it). */
export async function promoteCanary(actor: WorkspaceActor, name: string, meta: RequestMeta = {}) {
  const d = await mutate(
    actor,
    async (tx, audit) => {
      const d = await lockByName(tx, actor.workspaceId, name);
      if (!d.canaryVersionId) throw new AppError("PRECONDITION_FAILED", `Deployment "${name}" has no canary to promote.`);
      const n = await versionNumbers(tx, [d.canaryVersionId, d.primaryVersionId]);
      return change(
        tx,
        audit,
        actor,
        d,
        { primaryVersionId: d.canaryVersionId, previousPrimaryVersionId: d.primaryVersionId, canaryVersionId: null, canaryPercent: 0, followAlias: null },
        "canary_promoted",
        `Promoted canary v${n.get(d.canaryVersionId)} to primary (was v${n.get(d.primaryVersionId)}); pinned.`,
      );
    },
    meta,
  );
  announce(d);
  return { revision: d.revision };
}

/** Back to the previous primary, at once; the canary is dropped. */
export async function rollback(actor: WorkspaceActor, name: string, meta: RequestMeta = {}) {
  const d = await mutate(
    actor,
    async (tx, audit) => {
      const d = await lockByName(tx, actor.workspaceId, name);
      if (!d.previousPrimaryVersionId) throw new AppError("PRECONDITION_FAILED", `Deployment "${name}" has no previous version to roll back to.`);
      const n = await versionNumbers(tx, [d.previousPrimaryVersionId, d.primaryVersionId]);
      return change(
        tx,
        audit,
        actor,
        d,
        { primaryVersionId: d.previousPrimaryVersionId, previousPrimaryVersionId: d.primaryVersionId, canaryVersionId: null, canaryPercent: 0, followAlias: null },
        "rolled_back",
        `Rolled back to v${n.get(d.previousPrimaryVersionId)} (from v${n.get(d.primaryVersionId)}); pinned.`,
      );
    },
    meta,
  );
  announce(d);
  return { revision: d.revision };
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
    return change(tx, audit, actor, d, { canaryVersionId: null, canaryPercent: 0 }, "canary_rolled_back", `Canary v${n.get(d.canaryVersionId)} rolled back automatically: ${reason}`);
  });
  if (d) announce(d);
  return !!d;
}

export async function setStatus(actor: WorkspaceActor, name: string, status: "active" | "stopped", meta: RequestMeta = {}) {
  const d = await mutate(
    actor,
    async (tx, audit) => {
      const d = await lockByName(tx, actor.workspaceId, name);
      if (d.status === status) throw new AppError("PRECONDITION_FAILED", `Deployment "${name}" is already ${status === "active" ? "serving" : "stopped"}.`);
      return change(tx, audit, actor, d, { status }, status === "active" ? "started" : "stopped", status === "active" ? "Serving again." : "Stopped: predict requests are refused.");
    },
    meta,
  );
  announce(d);
  return { revision: d.revision };
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
        const [v] = await tx.select({ signature: modelVersions.signature, version: modelVersions.version }).from(modelVersions).where(eq(modelVersions.id, d.primaryVersionId));
        const known = new Set([...(featureNames(v!.signature) ?? []), ...v!.signature.inputs.map((i) => i.name)]);
        patch.sensitiveInputs.forEach((x, i) => {
          if (!known.has(x.name)) throw new AppError("INVALID", `sensitiveInputs[${i}].name: "${x.name}" is not an input or column of v${v!.version} (it takes ${[...known].join(", ")}).`, { field: `sensitiveInputs.${i}.name` });
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

/** In the alias-moving transaction: deployments following that alias roll out the new version. */
export async function followAlias(tx: Tx, audit: AuditFn, actor: WorkspaceActor, input: { modelId: string; alias: string; versionId: string }) {
  const list = await tx
    .select()
    .from(deployments)
    .where(and(eq(deployments.modelId, input.modelId), eq(deployments.followAlias, input.alias)))
    .for("update");
  for (const d of list) {
    if (d.primaryVersionId === input.versionId) continue;
    const n = await versionNumbers(tx, [input.versionId, d.primaryVersionId]);
    const clearCanary = d.canaryVersionId === input.versionId;
    await change(
      tx,
      audit,
      actor,
      d,
      { primaryVersionId: input.versionId, previousPrimaryVersionId: d.primaryVersionId, ...(clearCanary ? { canaryVersionId: null, canaryPercent: 0 } : {}) },
      "alias_followed",
      `${input.alias} moved to v${n.get(input.versionId)}: rolled out (was v${n.get(d.primaryVersionId)}).`,
    );
  }
  return list.map((d) => d.id);
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
        .values({ workspaceId: actor.workspaceId, deploymentId: d.id, name: input.keyName.trim(), keyHash: hashKey(key), prefix: key.slice(0, 12), createdBy: actor.userId })
        .returning();
      audit({ action: "deployment.key_created", target: { type: "deployment_key", id: k!.id }, metadata: { deployment: d.name, name: k!.name, prefix: k!.prefix } });
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
 * answer until CREDENTIALS_CHANNEL fires, so this runs (and marks the key used) once per
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

export async function listDeployments(actor: WorkspaceActor) {
  const rows = await getDb()
    .select({ d: deployments, model: models.name })
    .from(deployments)
    .innerJoin(models, eq(models.id, deployments.modelId))
    .where(eq(deployments.workspaceId, actor.workspaceId))
    .orderBy(deployments.name);
  const n = await versionNumbers(getDb(), rows.flatMap((r) => [r.d.primaryVersionId, r.d.canaryVersionId, r.d.shadowVersionId]));
  return rows.map(({ d, model }) => ({
    id: d.id,
    name: d.name,
    environment: d.environment,
    model,
    status: d.status,
    followAlias: d.followAlias,
    primary: n.get(d.primaryVersionId)!,
    canary: d.canaryVersionId ? { version: n.get(d.canaryVersionId)!, percent: d.canaryPercent } : null,
    shadow: d.shadowVersionId ? n.get(d.shadowVersionId)! : null,
    revision: d.revision,
    updatedAt: d.updatedAt,
  }));
}

export async function getDeployment(actor: WorkspaceActor, name: string) {
  const db = getDb();
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
    .select({ id: deploymentKeys.id, name: deploymentKeys.name, prefix: deploymentKeys.prefix, createdAt: deploymentKeys.createdAt, lastUsedAt: deploymentKeys.lastUsedAt, revokedAt: deploymentKeys.revokedAt, createdBy: users.name })
    .from(deploymentKeys)
    .leftJoin(users, eq(users.id, deploymentKeys.createdBy))
    .where(eq(deploymentKeys.deploymentId, d.id))
    .orderBy(desc(deploymentKeys.createdAt));
  return {
    id: d.id,
    name: d.name,
    environment: d.environment,
    model: row.model,
    status: d.status,
    followAlias: d.followAlias,
    primary: n.get(d.primaryVersionId)!,
    previous: d.previousPrimaryVersionId ? (n.get(d.previousPrimaryVersionId) ?? null) : null,
    canary: d.canaryVersionId ? { version: n.get(d.canaryVersionId)!, percent: d.canaryPercent } : null,
    shadow: d.shadowVersionId ? n.get(d.shadowVersionId)! : null,
    settings: d.settings,
    revision: d.revision,
    signature: primary!.signature,
    events: events.map((e) => ({ id: e.id, kind: e.kind, summary: e.summary, detail: e.detail, actor: e.actorLabel, at: e.at })),
    keys,
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
  };
}

/** The latest predictions of a deployment, newest first (inputs as logged: sampled and redacted). */
export async function recentPredictions(actor: WorkspaceActor, name: string, limit = 20) {
  const [d] = await getDb().select({ id: deployments.id }).from(deployments).where(and(eq(deployments.workspaceId, actor.workspaceId), eq(deployments.name, name)));
  if (!d) throw new AppError("NOT_FOUND", `There is no deployment "${name}" in this workspace.`, { field: "name" });
  const rows = await getDb()
    .select({ at: predictionLogs.at, requestId: predictionLogs.requestId, role: predictionLogs.role, status: predictionLogs.status, latencyMs: predictionLogs.latencyMs, rows: predictionLogs.rows, inputs: predictionLogs.inputs, outputs: predictionLogs.outputs, error: predictionLogs.error, version: modelVersions.version })
    .from(predictionLogs)
    .innerJoin(modelVersions, eq(modelVersions.id, predictionLogs.modelVersionId))
    .where(and(eq(predictionLogs.deploymentId, d.id), sql`${predictionLogs.at} > now() - interval '7 days'`))
    .orderBy(desc(predictionLogs.at))
    .limit(limit);
  return rows;
}

import "server-only";
import type { Readable } from "node:stream";
import { and, desc, eq, gt, inArray, isNull, sql } from "drizzle-orm";
import type { z } from "zod";
import { getDb } from "~/db/client";
import { aliasHistory, datasets, datasetVersions, deployments, modelAliases, models, modelVersionDatasets, modelVersions, users } from "~/db/schema";
import type { OnnxSignature } from "~/db/schema/registry";
import type { RequestMeta, SystemActor, WorkspaceActor } from "~/server/audit/actor";
import { startModelVersionPipelines } from "~/server/pipelines/runs.service";
import { mutate } from "~/server/audit/mutate";
import { deliver } from "~/server/reviews/notifications.service";
import { lockAlias, moveAliasTx } from "./aliases.service";
import { AppError } from "~/server/errors";
import { modelByName } from "~/server/registry/lookup";
import { policyFor } from "~/server/reviews/policies.service";
import { resolveDatasetVersion } from "./datasets.service";
import { inspectOnnx } from "./onnx-inspect";
import { bundleFilename, bundleKind } from "~/server/artifacts/bundle";
import { prepareBundle } from "./bundle-upload";
import { displayFilename } from "./filename";
import { parseVersionFilter, VersionFilterError, type VersionClause } from "~/server/shared/version-filter";
import { parseMeta } from "./parse-meta";
import { AlreadyRegistered, registerUpload } from "./staged-upload";
import { ModelUploadMeta, RegistryName, SetAliasInput } from "~/server/shared/registry.schema";

async function resolveParent(workspaceId: string, modelName: string, parent: z.infer<typeof ModelUploadMeta>["parent"]) {
  if (parent === undefined) return null;
  const ref = typeof parent === "number" ? { name: modelName, version: parent } : parent;
  const [v] = await getDb()
    .select({ id: modelVersions.id })
    .from(modelVersions)
    .innerJoin(models, eq(models.id, modelVersions.modelId))
    .where(and(eq(models.workspaceId, workspaceId), eq(models.name, ref.name), eq(modelVersions.version, ref.version)));
  if (!v) throw new AppError("INVALID", `The parent version ${ref.name}@${ref.version} does not exist in this workspace.`, { field: "parent" });
  return v.id;
}

/**
 * Registers an ONNX file as the next version of a model (created on first upload).
 * Metadata and lineage references are checked before the upload is read; the file is
 * inspected in a separate process; one transaction writes model, version, lineage and
 * audit events. The same bytes again return the existing version.
 */
export async function uploadModelVersion(
  actor: WorkspaceActor | (SystemActor & { workspaceId: string }),
  input: { name: string; filename: string; meta?: unknown; sourceRunId?: string },
  body: Readable | ReadableStream<Uint8Array>,
  requestMeta: RequestMeta = {},
) {
  const name = RegistryName.parse(input.name);
  const meta = parseMeta(ModelUploadMeta, input.meta);
  const bundle = bundleKind(input.filename);
  if (!bundle && !input.filename.toLowerCase().endsWith(".onnx"))
    throw new AppError("INVALID", "Upload an .onnx file, or a .zip, .tar or .tar.gz bundle holding model.onnx and its external data files.", { field: "file" });
  const lineage: { id: string; role: "train" | "eval"; ref: string }[] = [];
  for (const d of meta.datasets ?? []) {
    const id = await resolveDatasetVersion(actor.workspaceId, d.ref.name, d.ref.version);
    if (!id) throw new AppError("INVALID", `Dataset version ${d.ref.name}@${d.ref.version} does not exist in this workspace.`, { field: "datasets" });
    lineage.push({ id, role: d.role, ref: `${d.ref.name}@${d.ref.version}` });
  }
  const parentId = await resolveParent(actor.workspaceId, name, meta.parent);
  const userId = actor.type === "user" ? actor.userId : null;

  const { result, created } = await registerUpload(body, {
    existing: async (sha256) => {
      const [same] = await getDb()
        .select({
          versionId: modelVersions.id,
          version: modelVersions.version,
          sizeBytes: modelVersions.sizeBytes,
          loadable: sql<boolean>`(${modelVersions.signature}->'runtime'->>'loadable')::boolean`,
        })
        .from(modelVersions)
        .innerJoin(models, eq(models.id, modelVersions.modelId))
        .where(and(eq(models.workspaceId, actor.workspaceId), eq(models.name, name), eq(modelVersions.sha256, sha256)));
      return same ? { name, sha256, ...same, runs: [] as string[] } : null;
    },
    inspect: (path) => inspectOnnx(path),
    prepare: bundle ? (uploaded) => prepareBundle(uploaded, bundle) : undefined,
    record: (staged, signature) =>
      mutate(
        actor,
        async (tx, audit) => {
          await tx.insert(models).values({ workspaceId: actor.workspaceId, name, createdBy: userId }).onConflictDoNothing();
          const [model] = await tx
            .select()
            .from(models)
            .where(and(eq(models.workspaceId, actor.workspaceId), eq(models.name, name)))
            .for("update");
          // Locking the model row serialises version numbering and same-bytes races.
          const [dup] = await tx
            .select({ id: modelVersions.id })
            .from(modelVersions)
            .where(and(eq(modelVersions.modelId, model!.id), eq(modelVersions.sha256, staged.sha256)));
          if (dup) throw new AlreadyRegistered();
          const [{ next }] = (await tx
            .select({ next: sql<number>`coalesce(max(${modelVersions.version}), 0) + 1` })
            .from(modelVersions)
            .where(eq(modelVersions.modelId, model!.id))) as [{ next: number }];
          if (Number(next) === 1) audit({ action: "model.created", target: { type: "model", id: model!.id }, metadata: { name } });
          const [v] = await tx
            .insert(modelVersions)
            .values({
              workspaceId: actor.workspaceId,
              modelId: model!.id,
              version: Number(next),
              sha256: staged.sha256,
              sizeBytes: staged.size,
              filename: bundle ? bundleFilename(displayFilename(input.filename)) : displayFilename(input.filename),
              signature,
              description: meta.description,
              params: meta.params ?? {},
              metrics: meta.metrics ?? {},
              tags: meta.tags ?? [],
              gitCommit: meta.gitCommit?.toLowerCase(),
              parentVersionId: parentId,
              sourceRunId: input.sourceRunId ?? null,
              createdBy: userId,
            })
            .returning();
          if (lineage.length) {
            await tx
              .insert(modelVersionDatasets)
              .values(lineage.map((l) => ({ workspaceId: actor.workspaceId, modelVersionId: v!.id, datasetVersionId: l.id, role: l.role })));
          }
          audit({
            action: "model.version_registered",
            target: { type: "model_version", id: v!.id },
            metadata: {
              name,
              version: v!.version,
              sha256: staged.sha256,
              sizeBytes: staged.size,
              loadable: signature.runtime.loadable,
              datasets: lineage.map((l) => `${l.role}:${l.ref}`),
              metrics: meta.metrics ?? {},
              gitCommit: meta.gitCommit ?? null,
            },
          });
          // Validation starts with the version, in the same transaction.
          const runs = signature.runtime.loadable
            ? await startModelVersionPipelines(tx, audit, {
                workspaceId: actor.workspaceId,
                modelVersionId: v!.id,
                modelName: name,
                version: v!.version,
                createdBy: userId,
                sourceRunId: input.sourceRunId,
              })
            : [];
          return { name, sha256: staged.sha256, sizeBytes: staged.size, loadable: signature.runtime.loadable, versionId: v!.id, version: v!.version, runs };
        },
        requestMeta,
      ),
  });
  return { ...result, created };
}

const findModel = (workspaceId: string, name: string) => modelByName(getDb(), workspaceId, name, { field: "name" });

/** By name; `after` (a name) and `limit` page through them. */
export async function listModels(actor: WorkspaceActor, page: { after?: string; limit?: number } = {}) {
  const query = getDb()
    .select({
      id: models.id,
      name: models.name,
      createdAt: models.createdAt,
      versions: sql<number>`count(${modelVersions.id})::int`,
      latestVersion: sql<number | null>`max(${modelVersions.version})`,
      updatedAt: sql<Date | null>`max(${modelVersions.createdAt})`,
    })
    .from(models)
    .leftJoin(modelVersions, eq(modelVersions.modelId, models.id))
    .where(and(eq(models.workspaceId, actor.workspaceId), page.after !== undefined ? gt(models.name, page.after) : undefined))
    .groupBy(models.id)
    .orderBy(models.name)
    .$dynamic();
  const rows = await (page.limit ? query.limit(page.limit) : query);
  const aliases = rows.length
    ? await getDb()
        .select({ modelId: modelAliases.modelId, alias: modelAliases.alias, version: modelVersions.version })
        .from(modelAliases)
        .innerJoin(modelVersions, eq(modelVersions.id, modelAliases.modelVersionId))
        .where(
          inArray(
            modelAliases.modelId,
            rows.map((r) => r.id),
          ),
        )
    : [];
  return rows.map((r) => ({
    ...r,
    updatedAt: r.updatedAt ? new Date(r.updatedAt) : null,
    aliases: aliases.filter((a) => a.modelId === r.id).map((a) => ({ alias: a.alias, version: a.version })),
  }));
}

/** One version as the model page and the version list show it (join users on createdBy). */
const VERSION_ROW = {
  id: modelVersions.id,
  version: modelVersions.version,
  sha256: modelVersions.sha256,
  sizeBytes: modelVersions.sizeBytes,
  metrics: modelVersions.metrics,
  params: modelVersions.params,
  tags: modelVersions.tags,
  gitCommit: modelVersions.gitCommit,
  loadable: sql<boolean>`(${modelVersions.signature}->'runtime'->>'loadable')::boolean`,
  createdAt: modelVersions.createdAt,
  createdBy: users.email,
};

/**
 * A model's versions, newest first, narrowed by a filter string (server/shared/version-filter.ts:
 * metrics, params, tags, loadable); `before`/`limit` page through them.
 */
export async function listModelVersions(actor: WorkspaceActor, name: string, opts: { filter?: string; before?: number; limit?: number } = {}) {
  const m = await findModel(actor.workspaceId, name);
  let clauses: VersionClause[];
  try {
    clauses = parseVersionFilter(opts.filter ?? "");
  } catch (e) {
    if (e instanceof VersionFilterError) throw new AppError("INVALID", `filter: ${e.message}`, { field: "filter" });
    throw e;
  }
  const conds = clauses.map((c) => {
    switch (c.kind) {
      case "metric": {
        const v = sql`(${modelVersions.metrics}->>${c.name})::double precision`;
        return sql`(${modelVersions.metrics} ? ${c.name} and jsonb_typeof(${modelVersions.metrics}->${c.name}) = 'number' and ${v} ${sql.raw(c.op === "!=" ? "<>" : c.op)} ${c.value})`;
      }
      case "param":
        return c.op === "=" ? sql`${modelVersions.params}->>${c.name} = ${c.value}` : sql`${modelVersions.params}->>${c.name} is distinct from ${c.value}`;
      case "tag":
        return sql`${c.value} = any(${modelVersions.tags})`;
      case "loadable":
        return sql`coalesce((${modelVersions.signature}->'runtime'->>'loadable')::boolean, false) = ${c.value}`;
    }
  });
  const query = getDb()
    .select(VERSION_ROW)
    .from(modelVersions)
    .leftJoin(users, eq(users.id, modelVersions.createdBy))
    .where(and(eq(modelVersions.modelId, m.id), opts.before !== undefined ? sql`${modelVersions.version} < ${opts.before}` : undefined, ...conds))
    .orderBy(desc(modelVersions.version))
    .$dynamic();
  return opts.limit ? query.limit(opts.limit) : query;
}

export async function getModel(actor: WorkspaceActor, name: string) {
  const m = await findModel(actor.workspaceId, name);
  const versions = await getDb()
    .select({ ...VERSION_ROW, parentVersionId: modelVersions.parentVersionId })
    .from(modelVersions)
    .leftJoin(users, eq(users.id, modelVersions.createdBy))
    .where(eq(modelVersions.modelId, m.id))
    .orderBy(desc(modelVersions.version));
  const aliases = await getDb()
    .select({ alias: modelAliases.alias, version: modelVersions.version, updatedAt: modelAliases.updatedAt })
    .from(modelAliases)
    .innerJoin(modelVersions, eq(modelVersions.id, modelAliases.modelVersionId))
    .where(eq(modelAliases.modelId, m.id))
    .orderBy(modelAliases.alias);
  const lineage = versions.length
    ? await getDb()
        .select({
          modelVersionId: modelVersionDatasets.modelVersionId,
          role: modelVersionDatasets.role,
          datasetName: datasets.name,
          datasetVersion: datasetVersions.version,
          rows: datasetVersions.rowCount,
        })
        .from(modelVersionDatasets)
        .innerJoin(datasetVersions, eq(datasetVersions.id, modelVersionDatasets.datasetVersionId))
        .innerJoin(datasets, eq(datasets.id, datasetVersions.datasetId))
        .where(
          inArray(
            modelVersionDatasets.modelVersionId,
            versions.map((v) => v.id),
          ),
        )
    : [];
  const parentIds = versions.map((v) => v.parentVersionId).filter((p): p is string => !!p);
  const parents = parentIds.length
    ? await getDb()
        .select({ id: modelVersions.id, model: models.name, version: modelVersions.version })
        .from(modelVersions)
        .innerJoin(models, eq(models.id, modelVersions.modelId))
        .where(inArray(modelVersions.id, parentIds))
    : [];
  return {
    id: m.id,
    name: m.name,
    createdAt: m.createdAt,
    versions: versions.map((v) => {
      const parent = parents.find((p) => p.id === v.parentVersionId);
      return {
        ...v,
        parent: parent ? { model: parent.model, version: parent.version } : null,
        datasets: lineage.filter((l) => l.modelVersionId === v.id).map(({ modelVersionId: _, ...l }) => l),
      };
    }),
    aliases,
  };
}

export async function getModelVersion(actor: WorkspaceActor, name: string, version: number) {
  const m = await findModel(actor.workspaceId, name);
  const [v] = await getDb()
    .select()
    .from(modelVersions)
    .where(and(eq(modelVersions.modelId, m.id), eq(modelVersions.version, version)));
  if (!v) throw new AppError("NOT_FOUND", `Model "${name}" has no version ${version}.`, { field: "version" });
  const aliases = await getDb().select({ alias: modelAliases.alias }).from(modelAliases).where(eq(modelAliases.modelVersionId, v.id));
  return { ...v, name: m.name, aliases: aliases.map((a) => a.alias) };
}

/** Refuses a move of an alias that an approval policy protects: only an approved review (or a Promote of an approved version) moves it. */
async function refuseProtected(workspaceId: string, alias: string, verb: string) {
  const policy = await policyFor(getDb(), workspaceId, alias);
  if (policy) {
    throw new AppError(
      "PRECONDITION_FAILED",
      `"${alias}" is protected by an approval policy, so it cannot be ${verb} directly by anyone: open a review request (Reviews › Request review, POST /api/v1/workspaces/<workspace>/reviews, or \`steward reviews open\`) and it moves when the policy is satisfied.`,
      { field: "alias" },
    );
  }
}

/** Moves an alias that no approval policy protects (protected ones move through reviews). */
export async function setAlias(actor: WorkspaceActor, raw: SetAliasInput, meta: RequestMeta = {}) {
  const input = SetAliasInput.parse(raw);
  await refuseProtected(actor.workspaceId, input.alias, "moved");
  return moveAliasChecked(actor, input, meta);
}

/**
 * Moves any alias, protected or not, without a review. Not reachable through any API,
 * procedure or route: only the demo seed and tests call it to set up a starting state.
 */
export async function seedAlias(actor: WorkspaceActor, raw: SetAliasInput, meta: RequestMeta = {}) {
  return moveAliasChecked(actor, SetAliasInput.parse(raw), meta, "seed");
}

async function moveAliasChecked(actor: WorkspaceActor, input: SetAliasInput, meta: RequestMeta, approvedBy?: "seed") {
  const m = await findModel(actor.workspaceId, input.name);
  const [current] = await getDb()
    .select({ version: modelVersions.version })
    .from(modelAliases)
    .innerJoin(modelVersions, eq(modelVersions.id, modelAliases.modelVersionId))
    .where(and(eq(modelAliases.modelId, m.id), eq(modelAliases.alias, input.alias)));
  if (current?.version === input.version) return { alias: input.alias, version: input.version, changed: false, rollouts: [] };
  let toDeliver: { id: string; userId: string }[] = [];
  const out = await mutate(
    actor,
    async (tx, audit) => {
      await lockAlias(tx, m.id, input.alias);
      // Re-checked under the lock: a policy saved a moment ago governs this move.
      if (!approvedBy && (await policyFor(tx, actor.workspaceId, input.alias))) await refuseProtected(actor.workspaceId, input.alias, "moved");
      const [v] = await tx
        .select({ id: modelVersions.id })
        .from(modelVersions)
        .where(and(eq(modelVersions.modelId, m.id), eq(modelVersions.version, input.version)));
      if (!v) throw new AppError("NOT_FOUND", `Model "${m.name}" has no version ${input.version}.`, { field: "version" });
      const r = await moveAliasTx(tx, audit, actor, {
        modelId: m.id,
        modelName: m.name,
        alias: input.alias,
        versionId: v.id,
        version: input.version,
        via: approvedBy ? { seed: true } : { direct: true },
        approvedBy,
      });
      if (!r.changed)
        audit({
          action: "model.alias_moved",
          target: { type: "model", id: m.id },
          metadata: { name: m.name, alias: input.alias, unchanged: true, version: input.version },
        });
      toDeliver = r.toDeliver;
      return { alias: input.alias, version: input.version, changed: r.changed, rollouts: r.rollouts };
    },
    meta,
  );
  deliver(toDeliver);
  return out;
}

export async function removeAlias(actor: WorkspaceActor, input: { name: string; alias: string }, meta: RequestMeta = {}) {
  await refuseProtected(actor.workspaceId, input.alias, "removed");
  const m = await findModel(actor.workspaceId, input.name);
  return mutate(
    actor,
    async (tx, audit) => {
      await lockAlias(tx, m.id, input.alias);
      if (await policyFor(tx, actor.workspaceId, input.alias)) await refuseProtected(actor.workspaceId, input.alias, "removed");
      const followers = await tx
        .select({ name: deployments.name })
        .from(deployments)
        .where(and(eq(deployments.modelId, m.id), eq(deployments.alias, input.alias), eq(deployments.following, true)));
      if (followers.length)
        throw new AppError(
          "PRECONDITION_FAILED",
          `Deployments follow "${input.alias}" (${followers.map((f) => f.name).join(", ")}): pin them to a version first, or move the alias instead of removing it.`,
          { field: "alias" },
        );
      const [gone] = await tx
        .delete(modelAliases)
        .where(and(eq(modelAliases.modelId, m.id), eq(modelAliases.alias, input.alias)))
        .returning({ versionId: modelAliases.modelVersionId });
      if (!gone) throw new AppError("NOT_FOUND", `Model "${m.name}" has no alias "${input.alias}".`, { field: "alias" });
      await tx
        .update(aliasHistory)
        .set({ untilAt: new Date() })
        .where(and(eq(aliasHistory.modelId, m.id), eq(aliasHistory.alias, input.alias), isNull(aliasHistory.untilAt)));
      const [v] = await tx.select({ version: modelVersions.version }).from(modelVersions).where(eq(modelVersions.id, gone.versionId));
      audit({
        action: "model.alias_removed",
        target: { type: "model", id: m.id },
        changes: { [input.alias]: [v?.version ?? null, null] },
        metadata: { name: m.name, alias: input.alias },
      });
      return { alias: input.alias };
    },
    meta,
  );
}

type SigIO = OnnxSignature["inputs"][number];
function diffIO(a: SigIO[], b: SigIO[]) {
  const names = [...new Set([...a.map((x) => x.name), ...b.map((x) => x.name)])];
  return names.map((name) => {
    const x = a.find((i) => i.name === name);
    const y = b.find((i) => i.name === name);
    const fmt = (i?: SigIO) => (i ? `${i.elemType}[${(i.shape ?? []).map((d) => d ?? "?").join(", ")}]` : null);
    return { name, a: fmt(x), b: fmt(y), changed: fmt(x) !== fmt(y) };
  });
}

/** Two versions side by side: metadata, metric deltas, signature and op-type differences, size. */
export async function compareVersions(actor: WorkspaceActor, name: string, a: number, b: number) {
  const [va, vb] = await Promise.all([getModelVersion(actor, name, a), getModelVersion(actor, name, b)]);
  const metricNames = [...new Set([...Object.keys(va.metrics), ...Object.keys(vb.metrics)])].sort();
  const ops = [...new Set([...Object.keys(va.signature.opCounts), ...Object.keys(vb.signature.opCounts)])].sort();
  const paramNames = [...new Set([...Object.keys(va.params), ...Object.keys(vb.params)])].sort();
  return {
    a: {
      version: va.version,
      sha256: va.sha256,
      sizeBytes: va.sizeBytes,
      createdAt: va.createdAt,
      gitCommit: va.gitCommit,
      tags: va.tags,
      aliases: va.aliases,
      producer: va.signature.producer,
      opsets: va.signature.opsets,
      loadable: va.signature.runtime.loadable,
    },
    b: {
      version: vb.version,
      sha256: vb.sha256,
      sizeBytes: vb.sizeBytes,
      createdAt: vb.createdAt,
      gitCommit: vb.gitCommit,
      tags: vb.tags,
      aliases: vb.aliases,
      producer: vb.signature.producer,
      opsets: vb.signature.opsets,
      loadable: vb.signature.runtime.loadable,
    },
    metrics: metricNames.map((m) => {
      const x = va.metrics[m] ?? null;
      const y = vb.metrics[m] ?? null;
      return { name: m, a: x, b: y, delta: x !== null && y !== null ? y - x : null };
    }),
    params: paramNames.map((p) => ({ name: p, a: va.params[p] ?? null, b: vb.params[p] ?? null, changed: va.params[p] !== vb.params[p] })),
    inputs: diffIO(va.signature.inputs, vb.signature.inputs),
    outputs: diffIO(va.signature.outputs, vb.signature.outputs),
    ops: ops.map((op) => ({ op, a: va.signature.opCounts[op] ?? 0, b: vb.signature.opCounts[op] ?? 0 })),
    size: {
      a: va.sizeBytes,
      b: vb.sizeBytes,
      delta: vb.sizeBytes - va.sizeBytes,
      initializerBytes: { a: va.signature.initializerBytes, b: vb.signature.initializerBytes },
    },
  };
}

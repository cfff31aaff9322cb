import "server-only";
import { and, asc, desc, eq } from "drizzle-orm";
import { getDb, type Tx } from "~/db/client";
import { pipelines, pipelineVersions, users } from "~/db/schema";
import type { RequestMeta, WorkspaceActor } from "~/server/audit/actor";
import type { AuditFn } from "~/server/audit/mutate";
import { mutate } from "~/server/audit/mutate";
import { can } from "~/server/shared/permissions";
import { AppError } from "~/server/errors";
import { DEFAULT_VALIDATE_YAML, hasCommandStep, parsePipelineYaml, type PipelineSpec } from "~/server/shared/pipeline-spec";

export const DEFAULT_PIPELINE = "validate";

function parseOrThrow(yaml: string): PipelineSpec {
  const parsed = parsePipelineYaml(yaml);
  if (!parsed.ok) {
    const first = parsed.issues[0]!;
    throw new AppError(
      "INVALID",
      `Line ${first.line}, column ${first.col}: ${first.message}${parsed.issues.length > 1 ? ` (and ${parsed.issues.length - 1} more problem${parsed.issues.length > 2 ? "s" : ""})` : ""}`,
      {
        field: "yaml",
      },
    );
  }
  return parsed.spec;
}

const triggerColumns = (spec: PipelineSpec) => ({ onModelVersion: Boolean(spec.on?.model_version), schedule: spec.on?.schedule ?? null });

/** Writes the default `validate` pipeline inside a workspace's creating transaction. */
export async function createDefaultPipeline(tx: Tx, audit: AuditFn, workspaceId: string, userId: string | null) {
  const spec = parseOrThrow(DEFAULT_VALIDATE_YAML);
  const [p] = await tx
    .insert(pipelines)
    .values({ workspaceId, name: DEFAULT_PIPELINE, currentVersion: 1, createdBy: userId, ...triggerColumns(spec) })
    .returning();
  await tx.insert(pipelineVersions).values({ workspaceId, pipelineId: p!.id, version: 1, yaml: DEFAULT_VALIDATE_YAML, spec, createdBy: userId });
  audit({ action: "pipeline.created", target: { type: "pipeline", id: p!.id }, workspaceId, metadata: { name: DEFAULT_PIPELINE, version: 1, default: true } });
}

/**
 * Creates a pipeline or saves a new version of it. The YAML is validated here as in
 * the editor; only admins may save pipelines that run shell commands.
 */
export async function savePipeline(actor: WorkspaceActor, input: { name: string; yaml: string }, meta: RequestMeta = {}) {
  const spec = parseOrThrow(input.yaml);
  if (hasCommandStep(spec) && !can(actor.role, "pipeline:command")) {
    throw new AppError("FORBIDDEN", "Only admins may define command steps: they run shell commands on the workers.", { field: "yaml" });
  }
  return mutate(
    actor,
    async (tx, audit) => {
      const [existing] = await tx
        .select()
        .from(pipelines)
        .where(and(eq(pipelines.workspaceId, actor.workspaceId), eq(pipelines.name, input.name)))
        .for("update");
      if (existing) {
        const [current] = await tx
          .select()
          .from(pipelineVersions)
          .where(and(eq(pipelineVersions.pipelineId, existing.id), eq(pipelineVersions.version, existing.currentVersion)));
        if (current?.yaml === input.yaml) return { name: existing.name, version: existing.currentVersion, changed: false };
        // An admin's command step stays an admin's: others cannot edit it away or around.
        if (current && hasCommandStep(current.spec as PipelineSpec) && !can(actor.role, "pipeline:command")) {
          throw new AppError("FORBIDDEN", "This pipeline runs shell commands; only admins may change it.", { field: "yaml" });
        }
        const version = existing.currentVersion + 1;
        await tx
          .insert(pipelineVersions)
          .values({ workspaceId: actor.workspaceId, pipelineId: existing.id, version, yaml: input.yaml, spec, createdBy: actor.userId });
        await tx
          .update(pipelines)
          .set({ currentVersion: version, updatedAt: new Date(), ...triggerColumns(spec) })
          .where(eq(pipelines.id, existing.id));
        audit({
          action: "pipeline.updated",
          target: { type: "pipeline", id: existing.id },
          changes: { version: [existing.currentVersion, version] },
          metadata: { name: existing.name, commands: hasCommandStep(spec) },
        });
        return { name: existing.name, version, changed: true };
      }
      const [p] = await tx
        .insert(pipelines)
        .values({ workspaceId: actor.workspaceId, name: input.name, currentVersion: 1, createdBy: actor.userId, ...triggerColumns(spec) })
        .returning();
      await tx
        .insert(pipelineVersions)
        .values({ workspaceId: actor.workspaceId, pipelineId: p!.id, version: 1, yaml: input.yaml, spec, createdBy: actor.userId });
      audit({
        action: "pipeline.created",
        target: { type: "pipeline", id: p!.id },
        metadata: { name: input.name, version: 1, commands: hasCommandStep(spec) },
      });
      return { name: input.name, version: 1, changed: true };
    },
    meta,
  );
}

export async function listPipelines(actor: WorkspaceActor) {
  return getDb()
    .select({
      id: pipelines.id,
      name: pipelines.name,
      currentVersion: pipelines.currentVersion,
      onModelVersion: pipelines.onModelVersion,
      schedule: pipelines.schedule,
      updatedAt: pipelines.updatedAt,
    })
    .from(pipelines)
    .where(eq(pipelines.workspaceId, actor.workspaceId))
    .orderBy(asc(pipelines.name));
}

export async function getPipeline(actor: WorkspaceActor, name: string, version?: number) {
  const db = getDb();
  const [p] = await db
    .select()
    .from(pipelines)
    .where(and(eq(pipelines.workspaceId, actor.workspaceId), eq(pipelines.name, name)));
  if (!p) throw new AppError("NOT_FOUND", `There is no pipeline "${name}" in this workspace.`);
  const versions = await db
    .select({ version: pipelineVersions.version, createdAt: pipelineVersions.createdAt, createdBy: users.name })
    .from(pipelineVersions)
    .leftJoin(users, eq(users.id, pipelineVersions.createdBy))
    .where(eq(pipelineVersions.pipelineId, p.id))
    .orderBy(desc(pipelineVersions.version));
  const [v] = await db
    .select()
    .from(pipelineVersions)
    .where(and(eq(pipelineVersions.pipelineId, p.id), eq(pipelineVersions.version, version ?? p.currentVersion)));
  if (!v) throw new AppError("NOT_FOUND", `Pipeline "${name}" has no version ${version}.`);
  return {
    id: p.id,
    name: p.name,
    currentVersion: p.currentVersion,
    version: v.version,
    yaml: v.yaml,
    spec: v.spec as PipelineSpec,
    versions,
    editable: !hasCommandStep(v.spec as PipelineSpec) || can(actor.role, "pipeline:command"),
  };
}

import "server-only";
import { createDefaultPipeline } from "~/server/pipelines/definitions.service";
import { and, asc, eq } from "drizzle-orm";
import { getDb } from "~/db/client";
import { memberships, workspaces } from "~/db/schema";
import type { Role } from "~/db/schema/identity";
import type { RequestMeta, UserActor, WorkspaceActor } from "~/server/audit/actor";
import { mutate } from "~/server/audit/mutate";
import { AppError, isUniqueViolation } from "~/server/errors";
import { retentionFloor } from "~/server/shared/frameworks";
import { assertMayCreateWorkspace } from "~/server/instance/settings.service";
import { publish } from "~/server/realtime/publish";
import { CreateWorkspaceInput, RenameWorkspaceInput, SetRetentionInput, SetViewerDownloadsInput, slugify } from "~/server/shared/identity.schema";

export type WorkspaceDto = { id: string; slug: string; name: string; role: Role };

/** Creates a workspace with the actor as its owner (where the instance lets the actor create one). */
export async function createWorkspace(actor: UserActor, raw: CreateWorkspaceInput, meta: RequestMeta = {}, opts: { defaultPipeline?: boolean } = {}) {
  const input = CreateWorkspaceInput.parse(raw);
  const slug = input.slug ?? slugify(input.name);
  try {
    const ws = await mutate(
      actor,
      async (tx, audit) => {
        await assertMayCreateWorkspace(actor.userId, tx);
        const [ws] = await tx.insert(workspaces).values({ name: input.name, slug }).returning();
        await tx.insert(memberships).values({ workspaceId: ws!.id, userId: actor.userId, role: "owner" });
        audit({
          action: "workspace.created",
          target: { type: "workspace", id: ws!.id },
          workspaceId: ws!.id,
          changes: { name: [null, ws!.name], slug: [null, ws!.slug] },
        });
        audit({
          action: "member.joined",
          target: { type: "user", id: actor.userId },
          workspaceId: ws!.id,
          changes: { role: [null, "owner"] },
          metadata: { email: actor.email, via: "workspace.created" },
        });
        if (opts.defaultPipeline !== false) await createDefaultPipeline(tx, audit, ws!.id, actor.userId);
        return ws!;
      },
      meta,
    );
    publish.grantWorkspace(actor.userId, ws.id);
    return { id: ws.id, slug: ws.slug, name: ws.name, role: "owner" as const };
  } catch (err) {
    if (isUniqueViolation(err)) {
      throw new AppError("CONFLICT", `The URL name "${slug}" is already taken. Choose another.`, {
        field: input.slug ? "slug" : "name",
        cause: err,
      });
    }
    throw err;
  }
}

export async function renameWorkspace(actor: WorkspaceActor, raw: RenameWorkspaceInput, meta: RequestMeta = {}) {
  const input = RenameWorkspaceInput.parse(raw);
  return mutate(
    actor,
    async (tx, audit) => {
      const [before] = await tx.select().from(workspaces).where(eq(workspaces.id, actor.workspaceId)).for("update");
      if (!before) throw new AppError("NOT_FOUND", "This workspace does not exist.");
      const [after] = await tx.update(workspaces).set({ name: input.name, updatedAt: new Date() }).where(eq(workspaces.id, actor.workspaceId)).returning();
      audit({
        action: "workspace.renamed",
        target: { type: "workspace", id: before.id },
        changes: { name: [before.name, after!.name] },
      });
      return { id: after!.id, slug: after!.slug, name: after!.name };
    },
    meta,
  );
}

/** Sets how long prediction logs are kept; audit events are never subject to retention. */
export async function setRetention(actor: WorkspaceActor, raw: SetRetentionInput, meta: RequestMeta = {}) {
  const input = SetRetentionInput.parse(raw);
  return mutate(
    actor,
    async (tx, audit) => {
      const [before] = await tx.select().from(workspaces).where(eq(workspaces.id, actor.workspaceId)).for("update");
      if (!before) throw new AppError("NOT_FOUND", "This workspace does not exist.");
      // A compliance framework enabled for the workspace may require a minimum (server/shared/frameworks.ts).
      const floor = retentionFloor(before.frameworks);
      if (floor && input.predictionRetentionDays < floor.days) {
        throw new AppError(
          "INVALID",
          `predictionRetentionDays: prediction logs must be kept at least ${floor.days} days while ${floor.framework.shortName} is enabled for this workspace (${floor.framework.retention!.basis.split(":")[0]}). Choose ${floor.days} or more, or disable the framework first.`,
          { field: "predictionRetentionDays" },
        );
      }
      await tx
        .update(workspaces)
        .set({ predictionRetentionDays: input.predictionRetentionDays, updatedAt: new Date() })
        .where(eq(workspaces.id, actor.workspaceId));
      audit({
        action: "workspace.retention_changed",
        target: { type: "workspace", id: before.id },
        changes: { predictionRetentionDays: [before.predictionRetentionDays, input.predictionRetentionDays] },
      });
      return { predictionRetentionDays: input.predictionRetentionDays };
    },
    meta,
  );
}

/** Whether viewers may download model and dataset files; recorded with its before and after. */
export async function setViewerDownloads(actor: WorkspaceActor, raw: SetViewerDownloadsInput, meta: RequestMeta = {}) {
  const input = SetViewerDownloadsInput.parse(raw);
  return mutate(
    actor,
    async (tx, audit) => {
      const [before] = await tx.select().from(workspaces).where(eq(workspaces.id, actor.workspaceId)).for("update");
      if (!before) throw new AppError("NOT_FOUND", "This workspace does not exist.");
      await tx.update(workspaces).set({ viewerDownloads: input.viewerDownloads, updatedAt: new Date() }).where(eq(workspaces.id, actor.workspaceId));
      audit({
        action: "workspace.downloads_changed",
        target: { type: "workspace", id: before.id },
        changes: { viewerDownloads: [before.viewerDownloads, input.viewerDownloads] },
      });
      return { viewerDownloads: input.viewerDownloads };
    },
    meta,
  );
}

export async function getSettings(actor: WorkspaceActor) {
  const [ws] = await getDb()
    .select({ predictionRetentionDays: workspaces.predictionRetentionDays, viewerDownloads: workspaces.viewerDownloads })
    .from(workspaces)
    .where(eq(workspaces.id, actor.workspaceId));
  return ws!;
}

export async function listWorkspacesFor(userId: string): Promise<WorkspaceDto[]> {
  return getDb()
    .select({ id: workspaces.id, slug: workspaces.slug, name: workspaces.name, role: memberships.role })
    .from(memberships)
    .innerJoin(workspaces, eq(workspaces.id, memberships.workspaceId))
    .where(eq(memberships.userId, userId))
    .orderBy(asc(workspaces.name));
}

/** The workspace and the user's role in it; null when it does not exist or the user is no member. */
export async function findMembership(userId: string, where: { workspaceId?: string; slug?: string }) {
  const cond = where.workspaceId ? eq(workspaces.id, where.workspaceId) : eq(workspaces.slug, where.slug ?? "");
  const [row] = await getDb()
    .select({ id: workspaces.id, slug: workspaces.slug, name: workspaces.name, role: memberships.role })
    .from(workspaces)
    .innerJoin(memberships, and(eq(memberships.workspaceId, workspaces.id), eq(memberships.userId, userId)))
    .where(cond)
    .limit(1);
  return row ?? null;
}

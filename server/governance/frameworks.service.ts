import "server-only";
import { eq } from "drizzle-orm";
import { getDb } from "~/db/client";
import { workspaces } from "~/db/schema";
import type { RequestMeta, WorkspaceActor } from "~/server/audit/actor";
import { mutate } from "~/server/audit/mutate";
import { AppError } from "~/server/errors";
import { FRAMEWORKS, frameworkById, retentionFloor } from "~/server/shared/frameworks";
import { FrameworksBody } from "~/server/shared/governance.schema";

/*
 * The frameworks a workspace reports against, and the retention floor they set. Enabling
 * a framework whose minimum log retention is above the workspace's setting is refused with
 * the figures, unless the caller confirms `raiseRetention`: then the retention is raised to
 * the minimum in the same transaction, with its own audit event. Keeping logs longer is a
 * data-protection decision too, so it is never made silently. The floor is enforced on
 * every later retention change (workspaces.setRetention) and by the retention job.
 */

export async function getFrameworks(actor: WorkspaceActor) {
  const [ws] = await getDb()
    .select({ frameworks: workspaces.frameworks, days: workspaces.predictionRetentionDays })
    .from(workspaces)
    .where(eq(workspaces.id, actor.workspaceId));
  if (!ws) throw new AppError("NOT_FOUND", "This workspace does not exist.");
  const floor = retentionFloor(ws.frameworks);
  return {
    enabled: ws.frameworks,
    predictionRetentionDays: ws.days,
    retentionFloor: floor ? { days: floor.days, framework: floor.framework.id, basis: floor.framework.retention!.basis } : null,
    available: FRAMEWORKS.map((f) => ({
      id: f.id,
      name: f.name,
      shortName: f.shortName,
      version: f.version,
      legalStatus: f.legalStatus,
      supersededBy: f.supersededBy ?? null,
      retentionMinDays: f.retention?.minDays ?? null,
    })),
  };
}

export async function setFrameworks(actor: WorkspaceActor, raw: unknown, meta: RequestMeta = {}) {
  const input = FrameworksBody.parse(raw);
  const next = [...input.frameworks].sort();
  return mutate(
    actor,
    async (tx, audit) => {
      const [before] = await tx.select().from(workspaces).where(eq(workspaces.id, actor.workspaceId)).for("update");
      if (!before) throw new AppError("NOT_FOUND", "This workspace does not exist.");
      const prev = [...before.frameworks].sort();
      if (prev.join() === next.join())
        throw new AppError("PRECONDITION_FAILED", "These frameworks are already the ones enabled; nothing changed.", { field: "frameworks" });
      const floor = retentionFloor(next);
      let days = before.predictionRetentionDays;
      if (floor && days < floor.days) {
        if (!input.raiseRetention) {
          throw new AppError(
            "PRECONDITION_FAILED",
            `${floor.framework.shortName} requires prediction logs to be kept at least ${floor.days} days (${floor.framework.retention!.basis.split(":")[0]}); this workspace keeps them ${days} days. Raise the retention to ${floor.days} days or more first, or confirm raising it (raiseRetention: true).`,
            { field: "predictionRetentionDays" },
          );
        }
        audit({
          action: "workspace.retention_changed",
          target: { type: "workspace", id: before.id },
          changes: { predictionRetentionDays: [days, floor.days] },
          metadata: { reason: "framework_floor", framework: floor.framework.id },
        });
        days = floor.days;
      }
      await tx.update(workspaces).set({ frameworks: next, predictionRetentionDays: days, updatedAt: new Date() }).where(eq(workspaces.id, before.id));
      audit({
        action: "workspace.frameworks_changed",
        target: { type: "workspace", id: before.id },
        changes: { frameworks: [prev, next] },
        metadata: { versions: Object.fromEntries(next.map((id) => [id, frameworkById(id)!.version])), retentionFloorDays: floor?.days ?? null },
      });
      return { enabled: next, predictionRetentionDays: days, retentionFloor: floor ? { days: floor.days, framework: floor.framework.id } : null };
    },
    meta,
  );
}

import "server-only";
import { cursorKey, pageOf, TrpcPage } from "~/server/web/rest/pagination";
import type { TRPCRouterRecord } from "@trpc/server";
import { z } from "zod";
import { env } from "~/env";
import { AppError } from "~/server/errors";
import { INTERNAL_HEADER, signInternalCall } from "~/server/platform/keys";
import { WorkspaceIdInput } from "~/server/shared/identity.schema";
import { workspaceProcedure } from "~/server/web/trpc/procedures";
import * as svc from "~/server/serving/deployments.service";
import * as rollouts from "~/server/serving/rollouts.service";

const Ref = WorkspaceIdInput.extend({ name: svc.DeploymentName });

/** The web app calls the inference process on a member's behalf, signed with the internal-call key ring. */
async function tryPredict(workspaceId: string, userId: string, name: string, body: string) {
  if (!env.INFERENCE_URL) throw new AppError("PRECONDITION_FAILED", "The inference server's address is not configured (INFERENCE_URL).");
  const internal = signInternalCall({ workspaceId, userId, deployment: name });
  let res: Response;
  try {
    res = await fetch(`${env.INFERENCE_URL.replace(/\/$/, "")}/v1/deployments/${name}/predict`, {
      method: "POST",
      headers: { "content-type": "application/json", [INTERNAL_HEADER]: internal },
      body,
    });
  } catch {
    throw new AppError("PRECONDITION_FAILED", "The inference server is not reachable; is it running?");
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = { error: { message: text.slice(0, 300) } };
  }
  return { status: res.status, body: json };
}

export const deploymentsRouter = {
  list: workspaceProcedure("registry:read")
    .input(WorkspaceIdInput)
    .query(({ ctx }) => svc.listDeployments(ctx.actor)),
  /** The deployments table: pages by name, as GET /deployments. */
  page: workspaceProcedure("registry:read")
    .input(WorkspaceIdInput.extend(TrpcPage.shape))
    .query(async ({ ctx, input }) =>
      pageOf(
        await svc.listDeployments(ctx.actor, { after: cursorKey.string("deployments", input.cursor ?? undefined), limit: input.limit + 1 }),
        input.limit,
        "deployments",
        (d) => d.name,
      ),
    ),
  get: workspaceProcedure("registry:read")
    .input(Ref)
    .query(({ ctx, input }) => svc.getDeployment(ctx.actor, input.name)),
  predictions: workspaceProcedure("registry:read")
    .input(Ref)
    .query(({ ctx, input }) => svc.recentPredictions(ctx.actor, input.name)),
  create: workspaceProcedure("deployment:manage")
    .input(WorkspaceIdInput.extend(svc.CreateDeploymentInput.shape))
    .mutation(({ ctx, input }) => svc.createDeployment(ctx.actor, input, ctx.meta)),
  setTraffic: workspaceProcedure("deployment:manage")
    .input(WorkspaceIdInput.extend(svc.SetTrafficInput.shape))
    .mutation(({ ctx, input }) => svc.setTraffic(ctx.actor, input, ctx.meta)),
  promoteCanary: workspaceProcedure("deployment:manage")
    .input(WorkspaceIdInput.extend(svc.PromoteCanaryInput.shape))
    .mutation(({ ctx, input }) => svc.promoteCanary(ctx.actor, input, ctx.meta)),
  rollback: workspaceProcedure("deployment:manage")
    .input(WorkspaceIdInput.extend(svc.RollbackInput.shape))
    .mutation(({ ctx, input }) => svc.rollback(ctx.actor, input, ctx.meta)),
  setFollow: workspaceProcedure("deployment:manage")
    .input(WorkspaceIdInput.extend(svc.SetFollowInput.shape))
    .mutation(({ ctx, input }) => svc.setFollow(ctx.actor, input, ctx.meta)),
  setStatus: workspaceProcedure("deployment:manage")
    .input(WorkspaceIdInput.extend(svc.SetStatusInput.shape))
    .mutation(({ ctx, input }) => svc.setStatus(ctx.actor, input, ctx.meta)),
  rollouts: workspaceProcedure("registry:read")
    .input(Ref)
    .query(({ ctx, input }) => rollouts.listRollouts(ctx.actor, input.name)),
  rollout: workspaceProcedure("registry:read")
    .input(Ref.extend({ rollout: z.union([z.uuid(), z.literal("latest")]) }))
    .query(({ ctx, input }) => rollouts.getRollout(ctx.actor, input)),
  updateSettings: workspaceProcedure("deployment:manage")
    .input(Ref.extend({ settings: svc.SettingsInput }))
    .mutation(({ ctx, input }) => svc.updateSettings(ctx.actor, input.name, input.settings, ctx.meta)),
  createKey: workspaceProcedure("deployment:manage")
    .input(Ref.extend({ keyName: z.string().trim().min(1).max(60) }))
    .mutation(({ ctx, input }) => svc.createKey(ctx.actor, input, ctx.meta)),
  revokeKey: workspaceProcedure("deployment:manage")
    .input(WorkspaceIdInput.extend({ keyId: z.uuid() }))
    .mutation(({ ctx, input }) => svc.revokeKey(ctx.actor, input.keyId, ctx.meta)),
  tryPredict: workspaceProcedure("deployment:predict")
    .input(Ref.extend({ body: z.string().max(1_000_000, "The request must be at most 1 MB here; use the API for larger ones.") }))
    .mutation(({ ctx, input }) => tryPredict(ctx.actor.workspaceId, ctx.actor.userId, input.name, input.body)),
} satisfies TRPCRouterRecord;

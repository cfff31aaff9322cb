import "server-only";
import { createHmac } from "node:crypto";
import type { TRPCRouterRecord } from "@trpc/server";
import { z } from "zod";
import { env } from "~/env";
import { AppError } from "~/server/errors";
import { RegistryName, VersionNumber, WorkspaceRef } from "~/server/registry/registry.schema";
import { workspaceProcedure } from "~/server/trpc/procedures";
import * as svc from "./deployments.service";

const Ref = WorkspaceRef.extend({ name: svc.DeploymentName });

/** The web app calls the inference process on a member's behalf, signed with the shared secret. */
async function tryPredict(workspaceId: string, userId: string, name: string, body: string) {
  if (!env.INFERENCE_URL) throw new AppError("PRECONDITION_FAILED", "The inference server's address is not configured (INFERENCE_URL).");
  const ts = String(Date.now());
  const mac = createHmac("sha256", env.AUTH_SECRET).update(`${workspaceId}.${userId}.${ts}`).digest("hex");
  let res: Response;
  try {
    res = await fetch(`${env.INFERENCE_URL.replace(/\/$/, "")}/v1/deployments/${name}/predict`, { method: "POST", headers: { "content-type": "application/json", "x-steward-internal": `${workspaceId}.${userId}.${ts}.${mac}` }, body });
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
  list: workspaceProcedure("registry:read").input(WorkspaceRef).query(({ ctx }) => svc.listDeployments(ctx.actor)),
  get: workspaceProcedure("registry:read").input(Ref).query(({ ctx, input }) => svc.getDeployment(ctx.actor, input.name)),
  predictions: workspaceProcedure("registry:read").input(Ref).query(({ ctx, input }) => svc.recentPredictions(ctx.actor, input.name)),
  create: workspaceProcedure("deployment:manage")
    .input(WorkspaceRef.extend({ name: svc.DeploymentName, environment: z.string().trim().min(1).max(40), model: RegistryName, version: VersionNumber.optional(), followAlias: z.string().min(1).max(40).nullable().optional() }))
    .mutation(({ ctx, input }) => svc.createDeployment(ctx.actor, input, ctx.meta)),
  setTraffic: workspaceProcedure("deployment:manage")
    .input(Ref.extend({ canaryVersion: VersionNumber.nullable().optional(), canaryPercent: z.number().int().min(0).max(100).optional(), shadowVersion: VersionNumber.nullable().optional() }))
    .mutation(({ ctx, input }) => svc.setTraffic(ctx.actor, input, ctx.meta)),
  promoteCanary: workspaceProcedure("deployment:manage").input(Ref).mutation(({ ctx, input }) => svc.promoteCanary(ctx.actor, input.name, ctx.meta)),
  rollback: workspaceProcedure("deployment:manage").input(Ref).mutation(({ ctx, input }) => svc.rollback(ctx.actor, input.name, ctx.meta)),
  setStatus: workspaceProcedure("deployment:manage").input(Ref.extend({ status: z.enum(["active", "stopped"]) })).mutation(({ ctx, input }) => svc.setStatus(ctx.actor, input.name, input.status, ctx.meta)),
  updateSettings: workspaceProcedure("deployment:manage").input(Ref.extend({ settings: svc.SettingsInput })).mutation(({ ctx, input }) => svc.updateSettings(ctx.actor, input.name, input.settings, ctx.meta)),
  createKey: workspaceProcedure("deployment:manage").input(Ref.extend({ keyName: z.string().trim().min(1).max(60) })).mutation(({ ctx, input }) => svc.createKey(ctx.actor, input, ctx.meta)),
  revokeKey: workspaceProcedure("deployment:manage").input(WorkspaceRef.extend({ keyId: z.uuid() })).mutation(({ ctx, input }) => svc.revokeKey(ctx.actor, input.keyId, ctx.meta)),
  tryPredict: workspaceProcedure("deployment:predict")
    .input(Ref.extend({ body: z.string().max(1_000_000, "The request must be at most 1 MB here; use the API for larger ones.") }))
    .mutation(({ ctx, input }) => tryPredict(ctx.actor.workspaceId, ctx.actor.userId, input.name, input.body)),
} satisfies TRPCRouterRecord;

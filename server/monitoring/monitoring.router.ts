import "server-only";
import type { TRPCRouterRecord } from "@trpc/server";
import { and, eq } from "drizzle-orm";
import { z } from "zod";
import { deployments } from "~/db/schema";
import { AppError } from "~/server/errors";
import { monitoringDrift } from "~/server/jobs/definitions";
import { enqueue } from "~/server/jobs/enqueue";
import { mutate } from "~/server/audit/mutate";
import { WorkspaceRef } from "~/server/registry/registry.schema";
import { workspaceProcedure } from "~/server/trpc/procedures";
import * as alerts from "./alerts.service";
import * as svc from "./monitoring.service";
import * as perf from "./performance.service";
import * as hooks from "./webhooks.service";

const Ref = WorkspaceRef.extend({ name: z.string().min(1).max(63) });

export const monitoringRouter = {
  overview: workspaceProcedure("registry:read").input(WorkspaceRef).query(({ ctx }) => svc.overview(ctx.actor)),
  traffic: workspaceProcedure("registry:read")
    .input(Ref.extend({ range: z.enum(["15m", "1h", "6h", "24h", "7d", "30d"]).default("1h") }))
    .query(({ ctx, input }) => svc.traffic(ctx.actor, input.name, input.range)),
  resources: workspaceProcedure("registry:read")
    .input(Ref.extend({ range: z.enum(["15m", "1h", "6h", "24h", "7d", "30d"]).default("1h") }))
    .query(({ ctx, input }) => svc.resources(ctx.actor, input.name, input.range)),
  drift: workspaceProcedure("registry:read").input(Ref).query(({ ctx, input }) => svc.drift(ctx.actor, input.name)),
  /** Compute drift now (ops and admins) instead of at the next 10-minute slot. */
  computeDrift: workspaceProcedure("deployment:manage")
    .input(Ref.extend({ windowMinutes: z.number().int().min(5).max(10080).default(60) }))
    .mutation(async ({ ctx, input }) => {
      await mutate(
        ctx.actor,
        async (tx, audit) => {
          const [d] = await tx.select({ id: deployments.id }).from(deployments).where(and(eq(deployments.workspaceId, ctx.actor.workspaceId), eq(deployments.name, input.name)));
          if (!d) throw new AppError("NOT_FOUND", `There is no deployment "${input.name}" in this workspace.`, { field: "name" });
          await enqueue(tx, monitoringDrift, { windowMinutes: input.windowMinutes, deploymentId: d.id });
          audit({ action: "monitoring.drift_requested", target: { type: "deployment", id: d.id }, metadata: { name: input.name, windowMinutes: input.windowMinutes } });
        },
        ctx.meta,
      );
      return { queued: true };
    }),
  performance: workspaceProcedure("registry:read").input(Ref).query(({ ctx, input }) => perf.performance(ctx.actor, input.name)),
  alerts: workspaceProcedure("registry:read").input(Ref).query(({ ctx, input }) => alerts.listAlerts(ctx.actor, input.name)),
  saveRule: workspaceProcedure("deployment:manage")
    .input(Ref.extend({ ruleId: z.uuid().optional(), rule: z.unknown() }))
    .mutation(({ ctx, input }) => alerts.saveRule(ctx.actor, input, ctx.meta)),
  acknowledge: workspaceProcedure("deployment:manage").input(WorkspaceRef.extend({ incidentId: z.uuid() })).mutation(({ ctx, input }) => alerts.acknowledge(ctx.actor, input, ctx.meta)),
  webhooks: workspaceProcedure("workspace:update").input(WorkspaceRef).query(({ ctx }) => hooks.listWebhooks(ctx.actor)),
  createWebhook: workspaceProcedure("workspace:update").input(WorkspaceRef.extend({ name: z.string(), url: z.string() })).mutation(({ ctx, input }) => hooks.createWebhook(ctx.actor, input, ctx.meta)),
  setWebhookEnabled: workspaceProcedure("workspace:update").input(WorkspaceRef.extend({ id: z.uuid(), enabled: z.boolean() })).mutation(({ ctx, input }) => hooks.setWebhookEnabled(ctx.actor, input, ctx.meta)),
} satisfies TRPCRouterRecord;

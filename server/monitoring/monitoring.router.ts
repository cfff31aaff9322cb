import "server-only";
import type { TRPCRouterRecord } from "@trpc/server";
import { z } from "zod";
import { WorkspaceRef } from "~/server/registry/registry.schema";
import { workspaceProcedure } from "~/server/trpc/procedures";
import * as alerts from "./alerts.service";
import { RangeInput } from "./monitoring.schema";
import * as svc from "./monitoring.service";
import * as perf from "./performance.service";
import * as hooks from "./webhooks.service";

const Ref = WorkspaceRef.extend({ name: z.string().min(1).max(63) });

export const monitoringRouter = {
  overview: workspaceProcedure("registry:read").input(WorkspaceRef).query(({ ctx }) => svc.overview(ctx.actor)),
  traffic: workspaceProcedure("registry:read")
    .input(Ref.extend({ range: RangeInput }))
    .query(({ ctx, input }) => svc.traffic(ctx.actor, input.name, input.range)),
  resources: workspaceProcedure("registry:read")
    .input(Ref.extend({ range: RangeInput }))
    .query(({ ctx, input }) => svc.resources(ctx.actor, input.name, input.range)),
  drift: workspaceProcedure("registry:read").input(Ref).query(({ ctx, input }) => svc.drift(ctx.actor, input.name)),
  /** Compute drift now (ops and admins) instead of at the next 10-minute slot. */
  computeDrift: workspaceProcedure("deployment:manage")
    .input(Ref.extend({ windowMinutes: z.number().int().min(5).max(10080).default(60) }))
    .mutation(({ ctx, input }) => svc.requestDrift(ctx.actor, input, ctx.meta)),
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

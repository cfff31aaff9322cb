import "server-only";
import type { TRPCRouterRecord } from "@trpc/server";
import { z } from "zod";
import { WorkspaceIdInput } from "~/server/shared/identity.schema";
import { workspaceProcedure } from "~/server/web/trpc/procedures";
import * as alerts from "~/server/monitoring/alerts.service";
import { IncidentsFilter, RangeInput, ReopenIncidentInput, ResolveIncidentInput } from "~/server/shared/monitoring.schema";
import * as svc from "~/server/monitoring/monitoring.service";
import * as perf from "~/server/monitoring/performance.service";

const Ref = WorkspaceIdInput.extend({ name: z.string().min(1).max(63) });

export const monitoringRouter = {
  overview: workspaceProcedure("registry:read")
    .input(WorkspaceIdInput)
    .query(({ ctx }) => svc.overview(ctx.actor)),
  traffic: workspaceProcedure("registry:read")
    .input(Ref.extend({ range: RangeInput }))
    .query(({ ctx, input }) => svc.traffic(ctx.actor, input.name, input.range)),
  resources: workspaceProcedure("registry:read")
    .input(Ref.extend({ range: RangeInput }))
    .query(({ ctx, input }) => svc.resources(ctx.actor, input.name, input.range)),
  drift: workspaceProcedure("registry:read")
    .input(Ref)
    .query(({ ctx, input }) => svc.drift(ctx.actor, input.name)),
  /** Compute drift now (ops and admins) instead of at the next 10-minute slot. */
  computeDrift: workspaceProcedure("deployment:manage")
    .input(Ref.extend({ windowMinutes: z.number().int().min(5).max(10080).default(60) }))
    .mutation(({ ctx, input }) => svc.requestDrift(ctx.actor, input, ctx.meta)),
  performance: workspaceProcedure("registry:read")
    .input(Ref)
    .query(({ ctx, input }) => perf.performance(ctx.actor, input.name)),
  alerts: workspaceProcedure("registry:read")
    .input(Ref)
    .query(({ ctx, input }) => alerts.listAlerts(ctx.actor, input.name)),
  saveRule: workspaceProcedure("deployment:manage")
    .input(Ref.extend({ ruleId: z.uuid().optional(), rule: z.unknown() }))
    .mutation(({ ctx, input }) => alerts.saveRule(ctx.actor, input, ctx.meta)),
  deleteRule: workspaceProcedure("deployment:manage")
    .input(Ref.extend({ ruleId: z.uuid("ruleId must be a rule's id.") }))
    .mutation(({ ctx, input }) => alerts.deleteRule(ctx.actor, input, ctx.meta)),
  incidents: workspaceProcedure("registry:read")
    .input(WorkspaceIdInput.extend(IncidentsFilter.shape))
    .query(({ ctx, input }) => alerts.listIncidents(ctx.actor, input)),
  acknowledge: workspaceProcedure("deployment:manage")
    .input(WorkspaceIdInput.extend({ incidentId: z.uuid() }))
    .mutation(({ ctx, input }) => alerts.acknowledge(ctx.actor, input, ctx.meta)),
  /** Resolve a firing or acknowledged incident by hand, with a note. */
  resolveIncident: workspaceProcedure("deployment:manage")
    .input(WorkspaceIdInput.extend(ResolveIncidentInput.shape))
    .mutation(({ ctx, input }) => alerts.resolveIncident(ctx.actor, input, ctx.meta)),
  /** Reopen a resolved incident, with a note. */
  reopenIncident: workspaceProcedure("deployment:manage")
    .input(WorkspaceIdInput.extend(ReopenIncidentInput.shape))
    .mutation(({ ctx, input }) => alerts.reopenIncident(ctx.actor, input, ctx.meta)),
} satisfies TRPCRouterRecord;

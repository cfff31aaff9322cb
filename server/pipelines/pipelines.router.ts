import "server-only";
import type { TRPCRouterRecord } from "@trpc/server";
import { workspaceProcedure } from "~/server/trpc/procedures";
import { WorkspaceRef } from "~/server/registry/registry.schema";
import * as defs from "./definitions.service";
import * as runs from "./runs.service";
import { LogsInput, PipelineRef, RunRef, RunsFilter, SavePipelineInput, StartRunInput, VersionValidationInput } from "./pipelines.schema";

export const pipelinesRouter = {
  list: workspaceProcedure("registry:read").input(WorkspaceRef).query(({ ctx }) => defs.listPipelines(ctx.actor)),
  get: workspaceProcedure("registry:read").input(PipelineRef).query(({ ctx, input }) => defs.getPipeline(ctx.actor, input.name, input.version)),
  save: workspaceProcedure("pipeline:define").input(SavePipelineInput).mutation(({ ctx, input }) => defs.savePipeline(ctx.actor, input, ctx.meta)),
  start: workspaceProcedure("pipeline:run").input(StartRunInput).mutation(({ ctx, input }) => runs.startManualRun(ctx.actor, input, ctx.meta)),
} satisfies TRPCRouterRecord;

export const runsRouter = {
  list: workspaceProcedure("registry:read").input(RunsFilter).query(({ ctx, input }) => runs.listRuns(ctx.actor, input)),
  get: workspaceProcedure("registry:read").input(RunRef).query(({ ctx, input }) => runs.getRun(ctx.actor, input.runId)),
  logs: workspaceProcedure("registry:read").input(LogsInput).query(({ ctx, input }) => runs.getStepLogs(ctx.actor, input.stepRunId, input.afterId)),
  forVersion: workspaceProcedure("registry:read").input(VersionValidationInput).query(({ ctx, input }) => runs.latestValidation(ctx.actor, input.name, input.version)),
  cancel: workspaceProcedure("pipeline:run").input(RunRef).mutation(({ ctx, input }) => runs.cancelRun(ctx.actor, input.runId, ctx.meta)),
  rerun: workspaceProcedure("pipeline:run").input(RunRef).mutation(({ ctx, input }) => runs.rerun(ctx.actor, input.runId, ctx.meta)),
} satisfies TRPCRouterRecord;

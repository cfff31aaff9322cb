import "server-only";
import { cursorKey, pageOf, TrpcPage } from "~/server/web/rest/pagination";
import type { TRPCRouterRecord } from "@trpc/server";
import { workspaceProcedure } from "~/server/web/trpc/procedures";
import { WorkspaceIdInput } from "~/server/shared/identity.schema";
import * as defs from "~/server/pipelines/definitions.service";
import * as runs from "~/server/pipelines/runs.service";
import * as runQueries from "~/server/pipelines/runs.queries";
import { LogsInput, PipelineRef, RunRef, RunsFilter, SavePipelineInput, StartRunInput, VersionValidationInput } from "~/server/shared/pipelines.schema";

export const pipelinesRouter = {
  list: workspaceProcedure("registry:read")
    .input(WorkspaceIdInput)
    .query(({ ctx }) => defs.listPipelines(ctx.actor)),
  get: workspaceProcedure("registry:read")
    .input(PipelineRef)
    .query(({ ctx, input }) => defs.getPipeline(ctx.actor, input.name, input.version)),
  save: workspaceProcedure("pipeline:define")
    .input(SavePipelineInput)
    .mutation(({ ctx, input }) => defs.savePipeline(ctx.actor, input, ctx.meta)),
  start: workspaceProcedure("pipeline:run")
    .input(StartRunInput)
    .mutation(({ ctx, input }) => runs.startManualRun(ctx.actor, input, ctx.meta)),
} satisfies TRPCRouterRecord;

export const runsRouter = {
  list: workspaceProcedure("registry:read")
    .input(RunsFilter)
    .query(({ ctx, input }) => runQueries.listRuns(ctx.actor, input)),
  /** The runs table: newest first, every run reachable (pages as GET /runs). */
  page: workspaceProcedure("registry:read")
    .input(RunsFilter.omit({ limit: true }).extend(TrpcPage.shape))
    .query(async ({ ctx, input: { cursor, limit, ...filter } }) =>
      pageOf(
        await runQueries.listRuns(ctx.actor, { ...filter, before: cursorKey.number("runs", cursor ?? undefined), limit: limit + 1 }),
        limit,
        "runs",
        (r) => r.number,
      ),
    ),
  get: workspaceProcedure("registry:read")
    .input(RunRef)
    .query(({ ctx, input }) => runQueries.getRun(ctx.actor, input.runId)),
  logs: workspaceProcedure("registry:read")
    .input(LogsInput)
    .query(({ ctx, input }) => runQueries.getStepLogs(ctx.actor, input.stepRunId, input.afterId)),
  forVersion: workspaceProcedure("registry:read")
    .input(VersionValidationInput)
    .query(({ ctx, input }) => runQueries.latestValidation(ctx.actor, input.name, input.version)),
  cancel: workspaceProcedure("pipeline:run")
    .input(RunRef)
    .mutation(({ ctx, input }) => runs.cancelRun(ctx.actor, input.runId, ctx.meta)),
  rerun: workspaceProcedure("pipeline:run")
    .input(RunRef)
    .mutation(({ ctx, input }) => runs.rerun(ctx.actor, input.runId, ctx.meta)),
} satisfies TRPCRouterRecord;

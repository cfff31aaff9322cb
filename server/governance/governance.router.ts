import "server-only";
import type { TRPCRouterRecord } from "@trpc/server";
import { WorkspaceIdInput } from "~/server/identity/identity.schema";
import { workspaceProcedure } from "~/server/trpc/procedures";
import { ModelVersionRef } from "~/server/registry/registry.schema";
import { accessReview } from "./access-review.service";
import { buildReport } from "./report.service";

export const governanceRouter = {
  report: workspaceProcedure("registry:read")
    .input(ModelVersionRef)
    .query(({ ctx, input }) => buildReport(ctx.actor, input.name, input.version)),
  accessReview: workspaceProcedure("audit:export").input(WorkspaceIdInput).query(({ ctx }) => accessReview(ctx.actor)),
} satisfies TRPCRouterRecord;

import "server-only";
import type { TRPCRouterRecord } from "@trpc/server";
import { WorkspaceIdInput } from "~/server/shared/identity.schema";
import { workspaceProcedure } from "~/server/web/trpc/procedures";
import { ModelVersionRef } from "~/server/shared/registry.schema";
import { accessReview } from "~/server/governance/access-review.service";
import { getFrameworks, setFrameworks } from "~/server/governance/frameworks.service";
import { SetFrameworksInput } from "~/server/shared/governance.schema";
import { buildReport } from "~/server/governance/report.service";

export const governanceRouter = {
  report: workspaceProcedure("registry:read")
    .input(ModelVersionRef)
    .query(({ ctx, input }) => buildReport(ctx.actor, input.name, input.version)),
  accessReview: workspaceProcedure("audit:export")
    .input(WorkspaceIdInput)
    .query(({ ctx }) => accessReview(ctx.actor)),
  frameworks: workspaceProcedure("workspace:read")
    .input(WorkspaceIdInput)
    .query(({ ctx }) => getFrameworks(ctx.actor)),
  setFrameworks: workspaceProcedure("workspace:update")
    .input(SetFrameworksInput)
    .mutation(({ ctx, input }) => setFrameworks(ctx.actor, { frameworks: input.frameworks, raiseRetention: input.raiseRetention }, ctx.meta)),
} satisfies TRPCRouterRecord;

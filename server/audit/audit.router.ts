import "server-only";
import type { TRPCRouterRecord } from "@trpc/server";
import { WorkspaceIdInput } from "~/server/identity/identity.schema";
import { workspaceProcedure } from "~/server/trpc/procedures";
import { ListAuditInput } from "./audit.schema";
import * as audit from "./audit.service";

export const auditRouter = {
  list: workspaceProcedure("audit:read")
    .input(ListAuditInput)
    .query(({ ctx, input }) => audit.listAuditEvents(ctx.actor, input)),
  activity: workspaceProcedure("workspace:read")
    .input(WorkspaceIdInput)
    .query(({ ctx }) => audit.listActivity(ctx.actor)),
  verify: workspaceProcedure("audit:verify")
    .input(WorkspaceIdInput)
    .mutation(({ ctx }) => audit.verifyWorkspaceChain(ctx.actor, ctx.meta)),
} satisfies TRPCRouterRecord;

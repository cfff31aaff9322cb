import "server-only";
import type { TRPCRouterRecord } from "@trpc/server";
import { WorkspaceIdInput } from "~/server/shared/identity.schema";
import { workspaceProcedure } from "~/server/web/trpc/procedures";
import { ListAuditInput } from "~/server/shared/audit.schema";
import * as audit from "~/server/audit/audit.service";
import { listCheckpoints, publicKeyInfo, signCheckpoint } from "~/server/audit/checkpoints.service";

export const auditRouter = {
  list: workspaceProcedure("audit:read")
    .input(ListAuditInput)
    .query(({ ctx, input }) => audit.listAuditEvents(ctx.actor, input)),
  checkpoints: workspaceProcedure("audit:read")
    .input(WorkspaceIdInput)
    .query(async ({ ctx }) => ({ key: publicKeyInfo(), checkpoints: await listCheckpoints(ctx.actor.workspaceId) })),
  signCheckpoint: workspaceProcedure("audit:export")
    .input(WorkspaceIdInput)
    .mutation(({ ctx }) => signCheckpoint(ctx.actor, ctx.actor.workspaceId, {}, ctx.meta)),
  verify: workspaceProcedure("audit:verify")
    .input(WorkspaceIdInput)
    .mutation(({ ctx }) => audit.verifyWorkspaceChain(ctx.actor, ctx.meta)),
} satisfies TRPCRouterRecord;

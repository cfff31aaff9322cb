import "server-only";
import type { TRPCRouterRecord } from "@trpc/server";
import { WorkspaceIdInput } from "~/server/identity/identity.schema";
import { workspaceProcedure } from "~/server/trpc/procedures";
import { ListAuditInput } from "./audit.schema";
import * as audit from "./audit.service";
import { listCheckpoints, publicKeyInfo, signCheckpoint } from "./checkpoints.service";

export const auditRouter = {
  list: workspaceProcedure("audit:read")
    .input(ListAuditInput)
    .query(({ ctx, input }) => audit.listAuditEvents(ctx.actor, input)),
  activity: workspaceProcedure("workspace:read")
    .input(WorkspaceIdInput)
    .query(({ ctx }) => audit.listActivity(ctx.actor)),
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

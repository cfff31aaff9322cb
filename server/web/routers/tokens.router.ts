import "server-only";
import type { TRPCRouterRecord } from "@trpc/server";
import { WorkspaceIdInput } from "~/server/shared/identity.schema";
import { CreateTokenInput, RevokeTokenInput } from "~/server/shared/registry.schema";
import { workspaceProcedure } from "~/server/web/trpc/procedures";
import * as tokens from "~/server/tokens/tokens.service";

export const tokensRouter = {
  list: workspaceProcedure("token:create")
    .input(WorkspaceIdInput)
    .query(({ ctx }) => tokens.listTokens(ctx.actor)),
  create: workspaceProcedure("token:create")
    .input(CreateTokenInput)
    .mutation(({ ctx, input }) => tokens.createToken(ctx.actor, input, ctx.meta)),
  revoke: workspaceProcedure("token:create")
    .input(RevokeTokenInput)
    .mutation(({ ctx, input }) => tokens.revokeToken(ctx.actor, input.tokenId, ctx.meta)),
} satisfies TRPCRouterRecord;

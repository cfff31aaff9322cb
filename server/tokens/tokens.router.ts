import "server-only";
import type { TRPCRouterRecord } from "@trpc/server";
import { CreateTokenInput, RevokeTokenInput, WorkspaceRef } from "~/server/registry/registry.schema";
import { workspaceProcedure } from "~/server/trpc/procedures";
import * as tokens from "./tokens.service";

export const tokensRouter = {
  list: workspaceProcedure("token:create").input(WorkspaceRef).query(({ ctx }) => tokens.listTokens(ctx.actor)),
  create: workspaceProcedure("token:create")
    .input(CreateTokenInput)
    .mutation(({ ctx, input }) => tokens.createToken(ctx.actor, input, ctx.meta)),
  revoke: workspaceProcedure("token:create")
    .input(RevokeTokenInput)
    .mutation(({ ctx, input }) => tokens.revokeToken(ctx.actor, input.tokenId, ctx.meta)),
} satisfies TRPCRouterRecord;

import "server-only";
import type { TRPCRouterRecord } from "@trpc/server";
import { WorkspaceIdInput } from "~/server/shared/identity.schema";
import { workspaceProcedure } from "~/server/web/trpc/procedures";
import { InventoryModelRef, ListInventoryInput, RecordRevalidationInput, UpdateInventoryInput } from "~/server/shared/inventory.schema";
import * as inventory from "~/server/governance/inventory.service";

export const inventoryRouter = {
  list: workspaceProcedure("registry:read")
    .input(ListInventoryInput)
    .query(({ ctx, input: { workspaceId: _, ...filter } }) => inventory.listInventory(ctx.actor, filter)),
  get: workspaceProcedure("registry:read")
    .input(InventoryModelRef)
    .query(({ ctx, input }) => inventory.getInventory(ctx.actor, input.name)),
  questionnaire: workspaceProcedure("registry:read")
    .input(WorkspaceIdInput)
    .query(() => inventory.questionnaire()),
  update: workspaceProcedure("model:write")
    .input(UpdateInventoryInput)
    .mutation(({ ctx, input }) => inventory.updateInventory(ctx.actor, input, ctx.meta)),
  recordRevalidation: workspaceProcedure("inventory:revalidate")
    .input(RecordRevalidationInput)
    .mutation(({ ctx, input }) => inventory.recordRevalidation(ctx.actor, input, ctx.meta)),
} satisfies TRPCRouterRecord;

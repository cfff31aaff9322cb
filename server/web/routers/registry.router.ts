import "server-only";
import type { TRPCRouterRecord } from "@trpc/server";
import { workspaceProcedure } from "~/server/web/trpc/procedures";
import * as ds from "~/server/registry/datasets.service";
import * as ms from "~/server/registry/models.service";
import { CompareInput, DatasetRef, DatasetVersionRef, ModelRef, ModelVersionRef, RemoveAliasInput, SetAliasInput } from "~/server/shared/registry.schema";
import { WorkspaceIdInput } from "~/server/shared/identity.schema";

export const datasetsRouter = {
  list: workspaceProcedure("registry:read")
    .input(WorkspaceIdInput)
    .query(({ ctx }) => ds.listDatasets(ctx.actor)),
  byName: workspaceProcedure("registry:read")
    .input(DatasetRef)
    .query(({ ctx, input }) => ds.getDataset(ctx.actor, input.name)),
  version: workspaceProcedure("registry:read")
    .input(DatasetVersionRef)
    .query(({ ctx, input }) => ds.getDatasetVersion(ctx.actor, input.name, input.version)),
} satisfies TRPCRouterRecord;

export const modelsRouter = {
  list: workspaceProcedure("registry:read")
    .input(WorkspaceIdInput)
    .query(({ ctx }) => ms.listModels(ctx.actor)),
  byName: workspaceProcedure("registry:read")
    .input(ModelRef)
    .query(({ ctx, input }) => ms.getModel(ctx.actor, input.name)),
  version: workspaceProcedure("registry:read")
    .input(ModelVersionRef)
    .query(({ ctx, input }) => ms.getModelVersion(ctx.actor, input.name, input.version)),
  compare: workspaceProcedure("registry:read")
    .input(CompareInput)
    .query(({ ctx, input }) => ms.compareVersions(ctx.actor, input.name, input.a, input.b)),
  setAlias: workspaceProcedure("model:alias")
    .input(SetAliasInput)
    .mutation(({ ctx, input }) => ms.setAlias(ctx.actor, input, ctx.meta)),
  removeAlias: workspaceProcedure("model:alias")
    .input(RemoveAliasInput)
    .mutation(({ ctx, input }) => ms.removeAlias(ctx.actor, input, ctx.meta)),
} satisfies TRPCRouterRecord;

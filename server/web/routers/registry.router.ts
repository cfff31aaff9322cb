import "server-only";
import { z } from "zod";
import { cursorKey, pageOf, TrpcPage } from "~/server/web/rest/pagination";
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
  /** The datasets table: pages by name, as GET /datasets. */
  page: workspaceProcedure("registry:read")
    .input(WorkspaceIdInput.extend(TrpcPage.shape))
    .query(async ({ ctx, input }) =>
      pageOf(
        await ds.listDatasets(ctx.actor, { after: cursorKey.string("datasets", input.cursor ?? undefined), limit: input.limit + 1 }),
        input.limit,
        "datasets",
        (d) => d.name,
      ),
    ),
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
  /** The models table: pages by name, as GET /models. */
  page: workspaceProcedure("registry:read")
    .input(WorkspaceIdInput.extend(TrpcPage.shape))
    .query(async ({ ctx, input }) =>
      pageOf(
        await ms.listModels(ctx.actor, { after: cursorKey.string("models", input.cursor ?? undefined), limit: input.limit + 1 }),
        input.limit,
        "models",
        (m) => m.name,
      ),
    ),
  /** A model's versions, newest first, narrowed by a filter string; pages as GET /models/{name}/versions. */
  versions: workspaceProcedure("registry:read")
    .input(ModelRef.extend({ filter: z.string().max(2000).optional(), ...TrpcPage.shape }))
    .query(async ({ ctx, input }) =>
      pageOf(
        await ms.listModelVersions(ctx.actor, input.name, {
          filter: input.filter,
          before: cursorKey.number("versions", input.cursor ?? undefined),
          limit: input.limit + 1,
        }),
        input.limit,
        "versions",
        (v) => v.version,
      ),
    ),
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

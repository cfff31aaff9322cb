import "server-only";
import type { TRPCRouterRecord } from "@trpc/server";
import { search } from "~/server/search/search.service";
import { SearchInput } from "~/server/shared/search.schema";
import { workspaceProcedure } from "~/server/web/trpc/procedures";

/** The ⌘K palette's search: the workspace's models, versions, aliases, datasets, pipelines, deployments, reviews and people. */
export const searchRouter = {
  query: workspaceProcedure("registry:read")
    .input(SearchInput)
    .query(({ ctx, input }) => search(ctx.actor, input.q)),
} satisfies TRPCRouterRecord;

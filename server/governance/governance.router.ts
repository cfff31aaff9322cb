import "server-only";
import type { TRPCRouterRecord } from "@trpc/server";
import { WorkspaceIdInput } from "~/server/identity/identity.schema";
import { workspaceProcedure } from "~/server/trpc/procedures";
import { accessReview } from "./access-review.service";

export const governanceRouter = {
  accessReview: workspaceProcedure("audit:export").input(WorkspaceIdInput).query(({ ctx }) => accessReview(ctx.actor)),
} satisfies TRPCRouterRecord;

import "server-only";
import type { TRPCRouterRecord } from "@trpc/server";
import { listActivity, needsYou } from "~/server/home/home.queries";
import { HomeActivityInput } from "~/server/shared/home.schema";
import { WorkspaceIdInput } from "~/server/shared/identity.schema";
import { workspaceProcedure } from "~/server/web/trpc/procedures";

/** The workspace home: what needs the signed-in person, and the activity feed. Every member reads their own. */
export const homeRouter = {
  needs: workspaceProcedure("workspace:read")
    .input(WorkspaceIdInput)
    .query(({ ctx }) => needsYou(ctx.actor, ctx.workspace.slug)),
  activity: workspaceProcedure("workspace:read")
    .input(HomeActivityInput)
    .query(({ ctx, input }) => listActivity(ctx.actor, ctx.workspace.slug, input)),
} satisfies TRPCRouterRecord;

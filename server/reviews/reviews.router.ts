import "server-only";
import type { TRPCRouterRecord } from "@trpc/server";
import { z } from "zod";
import { WorkspaceRef } from "~/server/registry/registry.schema";
import { protectedProcedure, workspaceProcedure } from "~/server/trpc/procedures";
import * as comments from "./comments.service";
import * as notes from "./notifications.service";
import * as policies from "./policies.service";
import * as svc from "./reviews.service";

const Num = WorkspaceRef.extend({ number: z.number().int().positive() });

export const reviewsRouter = {
  list: workspaceProcedure("registry:read")
    .input(WorkspaceRef.extend({ status: z.enum(["open", "closed"]).optional() }))
    .query(({ ctx, input }) => svc.listReviews(ctx.actor, { status: input.status })),
  get: workspaceProcedure("registry:read").input(Num).query(({ ctx, input }) => svc.getRoom(ctx.actor, input.number)),
  open: workspaceProcedure("review:participate")
    .input(WorkspaceRef.extend({ model: z.string(), version: z.number(), alias: z.string(), summary: z.string(), assignees: z.array(z.string()).optional() }))
    .mutation(({ ctx, input }) => svc.openReview(ctx.actor, input, ctx.meta)),
  updateCard: workspaceProcedure("review:participate")
    .input(Num.extend({ markdown: z.string(), baseRevision: z.number().int().min(0) }))
    .mutation(({ ctx, input }) => svc.updateCard(ctx.actor, input, ctx.meta)),
  withdraw: workspaceProcedure("review:participate").input(Num).mutation(({ ctx, input }) => svc.withdrawReview(ctx.actor, input.number, ctx.meta)),
  sign: workspaceProcedure("review:sign")
    .input(Num.extend({ decision: z.enum(["approve", "reject"]), meaning: z.string(), reason: z.string().optional(), password: z.string() }))
    .mutation(({ ctx, input }) => svc.sign(ctx.actor, input, ctx.meta)),
  requestChanges: workspaceProcedure("review:sign").input(Num.extend({ reason: z.string() })).mutation(({ ctx, input }) => svc.requestChanges(ctx.actor, input, ctx.meta)),
  clearChanges: workspaceProcedure("review:sign").input(Num).mutation(({ ctx, input }) => svc.clearChanges(ctx.actor, input, ctx.meta)),
  comment: workspaceProcedure("review:participate")
    .input(Num.extend({ body: z.string(), anchor: z.string().optional(), threadId: z.uuid().optional() }))
    .mutation(({ ctx, input }) => comments.addComment(ctx.actor, input, ctx.meta)),
  editComment: workspaceProcedure("review:participate").input(Num.extend({ commentId: z.uuid(), body: z.string() })).mutation(({ ctx, input }) => comments.editComment(ctx.actor, input, ctx.meta)),
  resolveThread: workspaceProcedure("review:participate")
    .input(Num.extend({ threadId: z.uuid(), resolved: z.boolean() }))
    .mutation(({ ctx, input }) => comments.setThreadResolved(ctx.actor, input, ctx.meta)),
  commentHistory: workspaceProcedure("registry:read").input(Num.extend({ commentId: z.uuid() })).query(({ ctx, input }) => comments.commentHistory(ctx.actor, input)),
} satisfies TRPCRouterRecord;

export const policiesRouter = {
  list: workspaceProcedure("registry:read").input(WorkspaceRef).query(({ ctx }) => policies.listPolicies(ctx.actor)),
  save: workspaceProcedure("workspace:update")
    .input(WorkspaceRef.extend({ alias: z.string(), rules: z.unknown(), active: z.boolean().optional() }))
    .mutation(({ ctx, input }) => policies.savePolicy(ctx.actor, input, ctx.meta)),
} satisfies TRPCRouterRecord;

export const notificationsRouter = {
  list: protectedProcedure.input(z.object({ unreadOnly: z.boolean().optional() }).optional()).query(({ ctx, input }) => notes.listNotifications(ctx.actor, { unreadOnly: input?.unreadOnly })),
  unreadCount: protectedProcedure.input(z.void()).query(({ ctx }) => notes.unreadCount(ctx.actor)),
  markRead: protectedProcedure.input(z.object({ ids: z.union([z.array(z.uuid()).max(500), z.literal("all")]) })).mutation(({ ctx, input }) => notes.markRead(ctx.actor, input.ids)),
} satisfies TRPCRouterRecord;

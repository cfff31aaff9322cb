import "server-only";
import { cursorKey, pageOf, TrpcPage } from "~/server/web/rest/pagination";
import type { TRPCRouterRecord } from "@trpc/server";
import { z } from "zod";
import { WorkspaceIdInput } from "~/server/shared/identity.schema";
import { protectedProcedure, workspaceProcedure } from "~/server/web/trpc/procedures";
import * as comments from "~/server/reviews/comments.service";
import * as notes from "~/server/reviews/notifications.service";
import * as policies from "~/server/reviews/policies.service";
import * as queries from "~/server/reviews/reviews.queries";
import * as requests from "~/server/reviews/requests.service";
import * as signing from "~/server/reviews/signing.service";
import * as sso from "~/server/reviews/sso-signing.service";

const Num = WorkspaceIdInput.extend({ number: z.number().int().positive() });

export const reviewsRouter = {
  list: workspaceProcedure("registry:read")
    .input(WorkspaceIdInput.extend({ status: z.enum(["open", "closed"]).optional() }))
    .query(({ ctx, input }) => queries.listReviews(ctx.actor, { status: input.status })),
  /** The reviews list: newest first, pages as GET /reviews. */
  page: workspaceProcedure("registry:read")
    .input(WorkspaceIdInput.extend({ status: z.enum(["open", "closed"]).optional(), ...TrpcPage.shape }))
    .query(async ({ ctx, input }) =>
      pageOf(
        await queries.listReviews(ctx.actor, { status: input.status, before: cursorKey.number("reviews", input.cursor ?? undefined), limit: input.limit + 1 }),
        input.limit,
        "reviews",
        (r) => r.number,
      ),
    ),
  get: workspaceProcedure("registry:read")
    .input(Num)
    .query(({ ctx, input }) => queries.getRoom(ctx.actor, input.number)),
  open: workspaceProcedure("review:participate")
    .input(WorkspaceIdInput.extend(requests.OpenReviewInput.shape))
    .mutation(({ ctx, input }) => requests.openReview(ctx.actor, input, ctx.meta)),
  updateCard: workspaceProcedure("review:participate")
    .input(Num.extend({ markdown: z.string(), baseRevision: z.number().int().min(0) }))
    .mutation(({ ctx, input }) => requests.updateCard(ctx.actor, input, ctx.meta)),
  withdraw: workspaceProcedure("review:participate")
    .input(Num)
    .mutation(({ ctx, input }) => requests.withdrawReview(ctx.actor, input.number, ctx.meta)),
  rebase: workspaceProcedure("review:participate")
    .input(Num)
    .mutation(({ ctx, input }) => requests.rebaseReview(ctx.actor, input, ctx.meta)),
  sign: workspaceProcedure("review:sign")
    .input(Num.extend({ decision: z.enum(["approve", "reject"]), meaning: z.string(), reason: z.string().optional(), password: z.string() }))
    .mutation(({ ctx, input }) => signing.sign(ctx.actor, input, ctx.meta)),
  /** How this instance lets people sign: the password always; single sign-on when it is configured. */
  signingMethods: workspaceProcedure("registry:read")
    .input(WorkspaceIdInput)
    .query(() => ({ sso: sso.ssoSigning() })),
  /** Sign after a fresh login at the identity provider: returns where to send the browser. */
  startSsoSignature: workspaceProcedure("review:sign")
    .input(Num.extend(sso.StartSsoSignatureInput.shape))
    .mutation(({ ctx, input }) => sso.startSsoSignature(ctx.actor, input)),
  ssoSignatureStatus: workspaceProcedure("review:sign")
    .input(Num.extend({ challengeId: z.string() }))
    .query(({ ctx, input }) => sso.ssoSignatureStatus(ctx.actor, input)),
  requestChanges: workspaceProcedure("review:sign")
    .input(Num.extend({ reason: z.string() }))
    .mutation(({ ctx, input }) => signing.requestChanges(ctx.actor, input, ctx.meta)),
  clearChanges: workspaceProcedure("review:sign")
    .input(Num)
    .mutation(({ ctx, input }) => signing.clearChanges(ctx.actor, input, ctx.meta)),
  comment: workspaceProcedure("review:participate")
    .input(Num.extend({ body: z.string(), anchor: z.string().optional(), threadId: z.uuid().optional() }))
    .mutation(({ ctx, input }) => comments.addComment(ctx.actor, input, ctx.meta)),
  editComment: workspaceProcedure("review:participate")
    .input(Num.extend({ commentId: z.uuid(), body: z.string() }))
    .mutation(({ ctx, input }) => comments.editComment(ctx.actor, input, ctx.meta)),
  resolveThread: workspaceProcedure("review:participate")
    .input(Num.extend({ threadId: z.uuid(), resolved: z.boolean() }))
    .mutation(({ ctx, input }) => comments.setThreadResolved(ctx.actor, input, ctx.meta)),
  commentHistory: workspaceProcedure("registry:read")
    .input(Num.extend({ commentId: z.uuid() }))
    .query(({ ctx, input }) => comments.commentHistory(ctx.actor, input)),
} satisfies TRPCRouterRecord;

export const policiesRouter = {
  list: workspaceProcedure("registry:read")
    .input(WorkspaceIdInput)
    .query(({ ctx }) => policies.listPolicies(ctx.actor)),
  save: workspaceProcedure("workspace:update")
    .input(WorkspaceIdInput.extend({ alias: z.string(), rules: z.unknown(), active: z.boolean().optional(), reason: z.string().optional() }))
    .mutation(({ ctx, input }) => policies.savePolicy(ctx.actor, input, ctx.meta)),
  decide: workspaceProcedure("workspace:update")
    .input(WorkspaceIdInput.extend({ id: z.string(), decision: z.enum(["approve", "reject"]), note: z.string().optional() }))
    .mutation(({ ctx, input }) => policies.decidePolicyChange(ctx.actor, input, ctx.meta)),
  withdraw: workspaceProcedure("workspace:update")
    .input(WorkspaceIdInput.extend({ id: z.string() }))
    .mutation(({ ctx, input }) => policies.withdrawPolicyChange(ctx.actor, input, ctx.meta)),
} satisfies TRPCRouterRecord;

export const notificationsRouter = {
  list: protectedProcedure
    .input(z.object({ unreadOnly: z.boolean().optional() }).optional())
    .query(({ ctx, input }) => notes.listNotifications(ctx.actor, { unreadOnly: input?.unreadOnly })),
  unreadCount: protectedProcedure.input(z.void()).query(({ ctx }) => notes.unreadCount(ctx.actor)),
  markRead: protectedProcedure
    .input(z.object({ ids: z.union([z.array(z.uuid()).max(500), z.literal("all")]) }))
    .mutation(({ ctx, input }) => notes.markRead(ctx.actor, input.ids)),
} satisfies TRPCRouterRecord;

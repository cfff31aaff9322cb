import "server-only";
import { cursorKey, pageOf, pairKey, TrpcPage } from "~/server/web/rest/pagination";
import type { TRPCRouterRecord } from "@trpc/server";
import { z } from "zod";
import { protectedProcedure, publicProcedure, workspaceProcedure } from "~/server/web/trpc/procedures";
import {
  ChangeRoleInput,
  CreateWorkspaceInput,
  InvitationTokenInput,
  InviteMemberInput,
  RemoveMemberInput,
  RenameWorkspaceInput,
  RevokeInvitationInput,
  SetRetentionInput,
  SetViewerDownloadsInput,
  SignUpInput,
  WorkspaceIdInput,
} from "~/server/shared/identity.schema";
import * as members from "~/server/identity/members.service";
import * as signup from "~/server/identity/signup.service";
import * as usersService from "~/server/identity/users.service";
import * as ws from "~/server/identity/workspaces.service";

export const authRouter = {
  signUp: publicProcedure.input(SignUpInput).mutation(({ ctx, input }) => signup.publicSignUp(input, { requestId: ctx.requestId, ip: ctx.ip })),
  /** "Sign out everywhere": ends every live session of this account, this one included. */
  endAllSessions: protectedProcedure.input(z.void()).mutation(({ ctx }) => usersService.endAllSessions(ctx.actor, ctx.meta)),
  me: protectedProcedure.input(z.void()).query(({ ctx }) => usersService.accountInfo(ctx.actor)),
  /** For accounts made through single sign-on: a password to e-sign with. */
  setPassword: protectedProcedure
    .input(z.object({ password: z.string() }))
    .mutation(({ ctx, input }) => usersService.setInitialPassword(ctx.actor, input, ctx.meta, ctx.session?.sid)),
} satisfies TRPCRouterRecord;

/** Steward administrators (the instance's first account, and whom it makes one) manage accounts. */
export const accountsRouter = {
  list: protectedProcedure.input(z.void()).query(({ ctx }) => usersService.listAccounts(ctx.actor)),
  setActive: protectedProcedure
    .input(z.object({ userId: z.uuid(), active: z.boolean() }))
    .mutation(({ ctx, input }) => usersService.setAccountActive(ctx.actor, input, ctx.meta)),
} satisfies TRPCRouterRecord;

export const workspacesRouter = {
  list: protectedProcedure.input(z.void()).query(({ ctx }) => ws.listWorkspacesFor(ctx.user.id)),
  create: protectedProcedure.input(CreateWorkspaceInput).mutation(({ ctx, input }) => ws.createWorkspace(ctx.actor, input, ctx.meta)),
  settings: workspaceProcedure("workspace:read")
    .input(WorkspaceIdInput)
    .query(({ ctx }) => ws.getSettings(ctx.actor)),
  setRetention: workspaceProcedure("workspace:update")
    .input(SetRetentionInput)
    .mutation(({ ctx, input }) => ws.setRetention(ctx.actor, input, ctx.meta)),
  setViewerDownloads: workspaceProcedure("workspace:update")
    .input(SetViewerDownloadsInput)
    .mutation(({ ctx, input }) => ws.setViewerDownloads(ctx.actor, input, ctx.meta)),
  rename: workspaceProcedure("workspace:update")
    .input(RenameWorkspaceInput)
    .mutation(({ ctx, input }) => ws.renameWorkspace(ctx.actor, input, ctx.meta)),
} satisfies TRPCRouterRecord;

export const membersRouter = {
  list: workspaceProcedure("member:read")
    .input(WorkspaceIdInput)
    .query(({ ctx }) => members.listMembers(ctx.actor)),
  /** The members table: pages by name, as GET /members. */
  page: workspaceProcedure("member:read")
    .input(WorkspaceIdInput.extend(TrpcPage.shape))
    .query(async ({ ctx, input }) =>
      pageOf(
        await members.listMembers(ctx.actor, { after: cursorKey.pair("members", input.cursor ?? undefined), limit: input.limit + 1 }),
        input.limit,
        "members",
        (m) => pairKey(m.name, m.userId),
      ),
    ),
  invitations: workspaceProcedure("member:manage")
    .input(WorkspaceIdInput)
    .query(({ ctx }) => members.listInvitations(ctx.actor)),
  invite: workspaceProcedure("member:manage")
    .input(InviteMemberInput)
    .mutation(({ ctx, input }) => members.inviteMember(ctx.actor, input, ctx.meta)),
  revokeInvitation: workspaceProcedure("member:manage")
    .input(RevokeInvitationInput)
    .mutation(({ ctx, input }) => members.revokeInvitation(ctx.actor, input.invitationId, ctx.meta)),
  changeRole: workspaceProcedure("member:manage")
    .input(ChangeRoleInput)
    .mutation(({ ctx, input }) => members.changeRole(ctx.actor, input, ctx.meta)),
  remove: workspaceProcedure("member:manage")
    .input(RemoveMemberInput)
    .mutation(({ ctx, input }) => members.removeMember(ctx.actor, input.userId, ctx.meta)),
  leave: workspaceProcedure("member:leave")
    .input(WorkspaceIdInput)
    .mutation(({ ctx }) => members.removeMember(ctx.actor, ctx.actor.userId, ctx.meta)),
} satisfies TRPCRouterRecord;

export const invitationsRouter = {
  preview: publicProcedure.input(InvitationTokenInput).query(({ input }) => members.previewInvitation(input.token)),
  accept: protectedProcedure.input(InvitationTokenInput).mutation(({ ctx, input }) => members.acceptInvitation(ctx.actor, input.token, ctx.meta)),
} satisfies TRPCRouterRecord;

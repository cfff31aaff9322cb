import "server-only";
import { z } from "zod";
import * as audit from "~/server/audit/audit.service";
import { signCheckpoint } from "~/server/audit/checkpoints.service";
import * as members from "~/server/identity/members.service";
import * as workspaces from "~/server/identity/workspaces.service";
import * as comments from "~/server/reviews/comments.service";
import * as requests from "~/server/reviews/requests.service";
import * as reviewQueries from "~/server/reviews/reviews.queries";
import * as signing from "~/server/reviews/signing.service";
import * as sso from "~/server/reviews/sso-signing.service";
import { ListAuditInput } from "~/server/shared/audit.schema";
import {
  ChangeRoleInput,
  InviteMemberInput,
  RoleInput,
  RenameWorkspaceInput,
  SetRetentionInput,
  SetViewerDownloadsInput,
} from "~/server/shared/identity.schema";
import { cursorKey, PageQuery, paged, pairKey } from "./pagination";
import { route } from "./rest";
import { uuidParam, Ws, WsReview } from "./params";

/*
 * Reviews (the discussion and the e-signature), members and invitations, workspace
 * settings and the audit explorer's query: the same service calls as the reviews,
 * members, workspaces and audit routers.
 */

export const PEOPLE_ROUTES = [
  // ---- reviews
  route({
    method: "GET",
    path: "/workspaces/{workspace}/reviews",
    tag: "reviews",
    summary:
      "Review requests, newest first: number, model, version, alias, status, requester, what the policy still misses; ?status=open or closed. Pages of `limit` (default 100): the X-Next-Cursor header (and a Link rel=next) holds the `cursor` of older ones.",
    permission: "registry:read",
    trpc: "reviews.list",
    params: Ws,
    query: PageQuery.extend({ status: z.enum(["open", "closed"], { error: "status must be open or closed." }).optional() }),
    handler: async ({ actor, query, url, meta }) => {
      const rows = await reviewQueries.listReviews(actor, { status: query.status, before: cursorKey.number("reviews", query.cursor), limit: query.limit + 1 });
      return paged(rows, query.limit, "reviews", (r) => r.number, url, meta.requestId!);
    },
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/reviews/{number}/comments",
    tag: "reviews",
    summary: "Comment on a review (markdown, @mentions notify): a new thread, on an anchor (card, checks, metrics…) or in reply to threadId.",
    permission: "review:participate",
    trpc: "reviews.comment",
    params: WsReview,
    body: z.object({ body: z.string(), anchor: z.string().optional(), threadId: z.uuid("threadId must be a thread's id.").optional() }),
    status: 201,
    handler: ({ actor, params, body, meta }) => comments.addComment(actor, { number: params.number, ...body }, meta),
  }),
  route({
    method: "PUT",
    path: "/workspaces/{workspace}/reviews/{number}/comments/{commentId}",
    tag: "reviews",
    summary: "Edit your comment (its history is kept).",
    permission: "review:participate",
    trpc: "reviews.editComment",
    params: WsReview.extend({ commentId: uuidParam("commentId", "a comment") }),
    body: z.object({ body: z.string() }),
    handler: ({ actor, params, body, meta }) => comments.editComment(actor, { number: params.number, commentId: params.commentId, body: body.body }, meta),
  }),
  route({
    method: "PUT",
    path: "/workspaces/{workspace}/reviews/{number}/threads/{threadId}",
    tag: "reviews",
    summary: "Resolve ({resolved: true}) or reopen a discussion thread.",
    permission: "review:participate",
    trpc: "reviews.resolveThread",
    params: WsReview.extend({ threadId: uuidParam("threadId", "a thread") }),
    body: z.object({ resolved: z.boolean({ error: "resolved must be true or false." }) }),
    handler: ({ actor, params, body, meta }) =>
      comments.setThreadResolved(actor, { number: params.number, threadId: params.threadId, resolved: body.resolved }, meta),
  }),
  route({
    method: "PUT",
    path: "/workspaces/{workspace}/reviews/{number}/card",
    tag: "reviews",
    summary: "Replace the model card (markdown) of an open review; baseRevision is the revision you edited (a stale one is refused, 409).",
    permission: "review:participate",
    trpc: "reviews.updateCard",
    params: WsReview,
    body: z.object({ markdown: z.string(), baseRevision: z.number().int().min(0) }),
    handler: ({ actor, params, body, meta }) => requests.updateCard(actor, { number: params.number, ...body }, meta),
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/reviews/{number}/changes",
    tag: "reviews",
    summary:
      "Request changes (reviewers, compliance officers, admins, owners), with a reason: the requester is notified; the request cannot be approved until you clear it.",
    permission: "review:sign",
    trpc: "reviews.requestChanges",
    params: WsReview,
    body: z.object({ reason: z.string() }),
    status: 201,
    handler: ({ actor, params, body, meta }) => signing.requestChanges(actor, { number: params.number, reason: body.reason }, meta),
  }),
  route({
    method: "DELETE",
    path: "/workspaces/{workspace}/reviews/{number}/changes",
    tag: "reviews",
    summary: "Clear your request for changes. If the policy is then satisfied, the approval completes and the alias moves.",
    permission: "review:sign",
    trpc: "reviews.clearChanges",
    params: WsReview,
    handler: ({ actor, params, meta }) => signing.clearChanges(actor, { number: params.number }, meta),
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/reviews/{number}/signatures",
    tag: "reviews",
    summary:
      "E-sign a review: approve or reject, with the meaning of the signature and the signer's password (re-authentication: a token alone cannot sign; wrong passwords are rate-limited and audited). The signature is bound to the artifact's hash and the evidence shown; when the policy is satisfied the alias moves.",
    permission: "review:sign",
    trpc: "reviews.sign",
    params: WsReview,
    body: signing.SignInput,
    status: 201,
    handler: ({ actor, params, body, meta }) => signing.sign(actor, { number: params.number, ...body }, meta),
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/reviews/{number}/signatures/sso",
    tag: "reviews",
    summary:
      "Start an e-signature confirmed by a fresh single-sign-on login (for accounts without a password): the decision and meaning are fixed now; open `authorizeUrl` in a browser, where the identity provider asks for the signer's credentials again (prompt=login, max_age=0). Its callback checks the login (auth_time after this call, same person) and records the signature. `returnTo` may be a loopback address (http://127.0.0.1:PORT/…) the browser is sent to afterwards, for a CLI.",
    permission: "review:sign",
    trpc: "reviews.startSsoSignature",
    params: WsReview,
    body: sso.StartSsoSignatureInput,
    status: 201,
    handler: ({ actor, params, body }) => sso.startSsoSignature(actor, { number: params.number, ...body }),
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/reviews/{number}/signatures/sso/{challenge}",
    tag: "reviews",
    summary: "Where an SSO-confirmed signature you started stands: pending, signed (with the outcome), refused (with why) or expired.",
    permission: "review:sign",
    trpc: "reviews.ssoSignatureStatus",
    params: WsReview.extend({ challenge: z.string() }),
    handler: ({ actor, params }) => sso.ssoSignatureStatus(actor, { number: params.number, challengeId: params.challenge }),
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/reviews/{number}/withdraw",
    tag: "reviews",
    summary: "Withdraw an open review request (its requester, or an admin or owner).",
    permission: "review:participate",
    trpc: "reviews.withdraw",
    params: WsReview,
    handler: ({ actor, params, meta }) => requests.withdrawReview(actor, params.number, meta),
  }),
  // ---- members and invitations
  route({
    method: "GET",
    path: "/workspaces/{workspace}/members",
    tag: "members",
    summary:
      "Members of the workspace by name, with their roles; ?role= narrows them. Pages of `limit` (default 100): the X-Next-Cursor header (and a Link rel=next) holds the `cursor` of the next page, absent on the last.",
    permission: "member:read",
    trpc: "members.list",
    params: Ws,
    query: PageQuery.extend({ role: RoleInput.optional() }),
    handler: async ({ actor, query, url, meta }) => {
      const rows = await members.listMembers(actor, { after: cursorKey.pair("members", query.cursor), role: query.role, limit: query.limit + 1 });
      return paged(rows, query.limit, "members", (m) => pairKey(m.name, m.userId), url, meta.requestId!);
    },
  }),
  route({
    method: "PUT",
    path: "/workspaces/{workspace}/members/{userId}",
    tag: "members",
    summary: "Change a member's role (admins and owners; only an owner makes an owner; the last owner stays one).",
    permission: "member:manage",
    trpc: "members.changeRole",
    params: Ws.extend({ userId: uuidParam("userId", "a member") }),
    body: ChangeRoleInput.omit({ workspaceId: true }).pick({ role: true }),
    handler: ({ actor, params, body, meta }) => members.changeRole(actor, { workspaceId: actor.workspaceId, userId: params.userId, role: body.role }, meta),
  }),
  route({
    method: "DELETE",
    path: "/workspaces/{workspace}/members/{userId}",
    tag: "members",
    summary: "Remove a member (admins and owners; not the last owner). Their API tokens for this workspace stop working.",
    permission: "member:manage",
    trpc: "members.remove",
    params: Ws.extend({ userId: uuidParam("userId", "a member") }),
    handler: ({ actor, params, meta }) => members.removeMember(actor, params.userId, meta),
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/invitations",
    tag: "members",
    summary: "Open invitations (admins and owners).",
    permission: "member:manage",
    trpc: "members.invitations",
    params: Ws,
    handler: ({ actor }) => members.listInvitations(actor),
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/invitations",
    tag: "members",
    summary:
      "Invite someone by e-mail with a role (replaces an open invitation to the same address). The answer holds the invitation token, for the link /invite/<token>; it is not shown again.",
    permission: "member:manage",
    trpc: "members.invite",
    params: Ws,
    body: InviteMemberInput.omit({ workspaceId: true }),
    status: 201,
    handler: ({ actor, body, meta }) => members.inviteMember(actor, { workspaceId: actor.workspaceId, ...body }, meta),
  }),
  route({
    method: "DELETE",
    path: "/workspaces/{workspace}/invitations/{invitationId}",
    tag: "members",
    summary: "Revoke an open invitation.",
    permission: "member:manage",
    trpc: "members.revokeInvitation",
    params: Ws.extend({ invitationId: uuidParam("invitationId", "an invitation") }),
    handler: ({ actor, params, meta }) => members.revokeInvitation(actor, params.invitationId, meta),
  }),
  // ---- workspace settings
  route({
    method: "GET",
    path: "/workspaces/{workspace}/settings",
    tag: "workspace",
    summary: "The workspace's name, slug, prediction-log retention and viewer downloads.",
    permission: "workspace:read",
    trpc: "workspaces.settings",
    params: Ws,
    handler: ({ actor }) => workspaces.getSettings(actor),
  }),
  route({
    method: "PUT",
    path: "/workspaces/{workspace}/settings/name",
    tag: "workspace",
    summary: "Rename the workspace (its slug, and so these URLs, stay).",
    permission: "workspace:update",
    trpc: "workspaces.rename",
    params: Ws,
    body: RenameWorkspaceInput.omit({ workspaceId: true }),
    handler: ({ actor, body, meta }) => workspaces.renameWorkspace(actor, { workspaceId: actor.workspaceId, ...body }, meta),
  }),
  route({
    method: "PUT",
    path: "/workspaces/{workspace}/settings/retention",
    tag: "workspace",
    summary: "How many days prediction logs are kept (1 to 3650; the compliance frameworks chosen may set a floor).",
    permission: "workspace:update",
    trpc: "workspaces.setRetention",
    params: Ws,
    body: SetRetentionInput.omit({ workspaceId: true }),
    handler: ({ actor, body, meta }) => workspaces.setRetention(actor, { workspaceId: actor.workspaceId, ...body }, meta),
  }),
  route({
    method: "PUT",
    path: "/workspaces/{workspace}/settings/viewer-downloads",
    tag: "workspace",
    summary: "Whether viewers may download model and dataset files (other roles always may).",
    permission: "workspace:update",
    trpc: "workspaces.setViewerDownloads",
    params: Ws,
    body: SetViewerDownloadsInput.omit({ workspaceId: true }),
    handler: ({ actor, body, meta }) => workspaces.setViewerDownloads(actor, { workspaceId: actor.workspaceId, ...body }, meta),
  }),
  // ---- audit
  route({
    method: "GET",
    path: "/workspaces/{workspace}/audit/events",
    tag: "audit",
    summary:
      "The audit explorer's query: events newest first, filtered by actor (e-mail or id), action, targetType, targetId, q (text), from, to; limit (default 50, at most 200) and the cursor of the answer's nextCursor for the next page.",
    permission: "audit:read",
    trpc: "audit.list",
    params: Ws,
    query: ListAuditInput.omit({ workspaceId: true }).extend({
      cursor: z.coerce.number().int().positive("cursor must be a nextCursor from an earlier page.").optional(),
      limit: z.coerce.number().int().min(1, "limit must be at least 1.").max(200, "limit must be at most 200.").default(50),
    }),
    handler: ({ actor, query }) => audit.listAuditEvents(actor, { workspaceId: actor.workspaceId, ...query }),
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/audit/verify",
    tag: "audit",
    summary: "Verify the workspace's audit chain in the database (hashes, signatures, sequence) and record the verification.",
    permission: "audit:verify",
    trpc: "audit.verify",
    params: Ws,
    handler: ({ actor, meta }) => audit.verifyWorkspaceChain(actor, meta),
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/audit/checkpoints",
    tag: "audit",
    summary: "Sign a checkpoint of the chain's head now (the worker also signs every chain that changed, every AUDIT_CHECKPOINT_MINUTES).",
    permission: "audit:export",
    trpc: "audit.signCheckpoint",
    params: Ws,
    status: 201,
    handler: ({ actor, meta }) => signCheckpoint(actor, actor.workspaceId, {}, meta),
  }),
];

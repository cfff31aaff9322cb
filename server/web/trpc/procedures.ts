import "server-only";
import { TRPCError } from "@trpc/server";
import type { UserActor, WorkspaceActor } from "~/server/audit/actor";
import { WorkspaceIdInput } from "~/server/shared/identity.schema";
import { can, ROLE_LABELS, type Permission } from "~/server/shared/permissions";
import { findUser } from "~/server/identity/users.service";
import { findMembership } from "~/server/identity/workspaces.service";
import { isInstanceAdmin } from "~/server/instance/settings.service";
import { errorMapper, storableInput, t } from "./init";

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

const base = t.procedure.use(errorMapper).use(storableInput);

/** Anyone, signed in or not. */
export const publicProcedure = base.meta({ auth: "public" });

const authenticated = t.middleware(async ({ ctx, next }) => {
  if (!ctx.session) throw new TRPCError({ code: "UNAUTHORIZED", message: "Sign in to continue." });
  // The session outlives nothing: a deleted account stops working at once.
  const user = await findUser(ctx.session.id);
  if (!user) throw new TRPCError({ code: "UNAUTHORIZED", message: "Your session has ended. Sign in again." });
  const actor: UserActor = { type: "user", userId: user.id, email: user.email };
  return next({ ctx: { user, actor, meta: { requestId: ctx.requestId, ip: ctx.ip } } });
});

/** A signed-in user, workspace or not. */
export const protectedProcedure = base.meta({ auth: "user" }).use(authenticated);

/**
 * An instance administrator (users.instance_admin): the instance's settings, its accounts
 * and its processes. Workspace roles do not count: owning a workspace is not administering
 * the instance. Anyone else signed in gets FORBIDDEN.
 */
export const instanceAdminProcedure = base
  .meta({ auth: "instance" })
  .use(authenticated)
  .use(async ({ ctx, next }) => {
    if (!(await isInstanceAdmin(ctx.user.id))) {
      throw new TRPCError({ code: "FORBIDDEN", message: "Only instance administrators can do this. Ask one of them if you need it." });
    }
    return next();
  });

/**
 * A member of the workspace named by `input.workspaceId` whose role has `permission`.
 * A non-member gets NOT_FOUND (existence is not revealed); a member without the
 * permission gets FORBIDDEN. Runs before the procedure's own input parsing.
 */
export function workspaceProcedure(permission: Permission) {
  return base
    .meta({ auth: "workspace", permission })
    .use(authenticated)
    .use(async ({ ctx, getRawInput, next }) => {
      const ref = WorkspaceIdInput.safeParse(await getRawInput());
      if (!ref.success) throw new TRPCError({ code: "BAD_REQUEST", message: "workspaceId: must be a UUID." });
      const ws = await findMembership(ctx.user.id, { workspaceId: ref.data.workspaceId });
      if (!ws) throw new TRPCError({ code: "NOT_FOUND", message: "This workspace does not exist or you are not a member." });
      if (!can(ws.role, permission)) {
        throw new TRPCError({
          code: "FORBIDDEN",
          message: `Your role (${ROLE_LABELS[ws.role]}) does not allow this: it needs the "${permission}" permission.`,
        });
      }
      const actor: WorkspaceActor = { ...ctx.actor, workspaceId: ws.id, role: ws.role };
      return next({ ctx: { actor, workspace: ws } });
    });
}

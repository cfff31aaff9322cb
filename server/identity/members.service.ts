import "server-only";
import { createHash, randomBytes } from "node:crypto";
import { and, asc, count, desc, eq, isNull, sql } from "drizzle-orm";
import { getDb, type Tx } from "~/db/client";
import { invitations, memberships, users, workspaces } from "~/db/schema";
import type { Role } from "~/db/schema/identity";
import type { RequestMeta, UserActor, WorkspaceActor } from "~/server/audit/actor";
import { mutate } from "~/server/audit/mutate";
import { AppError, isUniqueViolation } from "~/server/errors";
import { publish } from "~/server/realtime/publish";
import { credentialsChanged } from "~/server/platform/credentials";
import { ChangeRoleInput, InvitationToken, InviteMemberInput } from "~/server/shared/identity.schema";

export const INVITATION_TTL_DAYS = 7;

const hashToken = (token: string) => createHash("sha256").update(token).digest("hex");

/** Members by name (then id); `after` is the last row's [name, userId] when paging (REST). */
export async function listMembers(actor: WorkspaceActor, page: { after?: [string, string]; limit?: number; role?: Role } = {}) {
  const query = getDb()
    .select({
      userId: users.id,
      email: users.email,
      name: users.name,
      role: memberships.role,
      joinedAt: memberships.createdAt,
      lastSignInAt: users.lastSignInAt,
    })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(
      and(
        eq(memberships.workspaceId, actor.workspaceId),
        page.after ? sql`(${users.name}, ${users.id}::text) > (${page.after[0]}, ${page.after[1]})` : undefined,
        page.role ? eq(memberships.role, page.role) : undefined,
      ),
    )
    .orderBy(asc(users.name), asc(users.id))
    .$dynamic();
  return page.limit ? query.limit(page.limit) : query;
}

export async function listInvitations(actor: WorkspaceActor) {
  return getDb()
    .select({
      id: invitations.id,
      email: invitations.email,
      role: invitations.role,
      expiresAt: invitations.expiresAt,
      createdAt: invitations.createdAt,
      invitedBy: users.email,
    })
    .from(invitations)
    .innerJoin(users, eq(users.id, invitations.invitedBy))
    .where(and(eq(invitations.workspaceId, actor.workspaceId), isNull(invitations.acceptedAt), isNull(invitations.revokedAt)))
    .orderBy(desc(invitations.createdAt));
}

function assertMayGrant(actor: WorkspaceActor, role: Role) {
  if (role === "owner" && actor.role !== "owner") {
    throw new AppError("FORBIDDEN", "Only an owner can make someone an owner.", { field: "role" });
  }
}

/**
 * Invites an e-mail address with a role. Returns the one-time token for the link; only
 * its hash is stored. An open invitation to the same address is replaced.
 */
export async function inviteMember(actor: WorkspaceActor, raw: InviteMemberInput, meta: RequestMeta = {}) {
  const input = InviteMemberInput.parse(raw);
  assertMayGrant(actor, input.role);
  const token = randomBytes(32).toString("base64url");
  const expiresAt = new Date(Date.now() + INVITATION_TTL_DAYS * 86_400_000);
  try {
    return await mutate(
      actor,
      async (tx, audit) => {
        const [existingMember] = await tx
          .select({ id: users.id })
          .from(memberships)
          .innerJoin(users, eq(users.id, memberships.userId))
          .where(and(eq(memberships.workspaceId, actor.workspaceId), eq(users.email, input.email)))
          .limit(1);
        if (existingMember) {
          throw new AppError("CONFLICT", `${input.email} is already a member of this workspace.`, { field: "email" });
        }
        const revoked = await tx
          .update(invitations)
          .set({ revokedAt: new Date() })
          .where(
            and(
              eq(invitations.workspaceId, actor.workspaceId),
              eq(invitations.email, input.email),
              isNull(invitations.acceptedAt),
              isNull(invitations.revokedAt),
            ),
          )
          .returning({ id: invitations.id });
        for (const r of revoked) {
          audit({ action: "invitation.revoked", target: { type: "invitation", id: r.id }, metadata: { replaced: true } });
        }
        const [inv] = await tx
          .insert(invitations)
          .values({
            workspaceId: actor.workspaceId,
            email: input.email,
            role: input.role,
            tokenHash: hashToken(token),
            invitedBy: actor.userId,
            expiresAt,
          })
          .returning();
        audit({
          action: "member.invited",
          target: { type: "invitation", id: inv!.id },
          changes: { role: [null, input.role] },
          metadata: { email: input.email, expiresAt: expiresAt.toISOString() },
        });
        return { id: inv!.id, email: inv!.email, role: inv!.role, expiresAt, token };
      },
      meta,
    );
  } catch (err) {
    if (isUniqueViolation(err)) {
      throw new AppError("CONFLICT", `${input.email} was just invited by someone else. Refresh and try again.`, {
        field: "email",
        cause: err,
      });
    }
    throw err;
  }
}

export async function revokeInvitation(actor: WorkspaceActor, invitationId: string, meta: RequestMeta = {}) {
  return mutate(
    actor,
    async (tx, audit) => {
      const [inv] = await tx
        .update(invitations)
        .set({ revokedAt: new Date() })
        .where(
          and(eq(invitations.id, invitationId), eq(invitations.workspaceId, actor.workspaceId), isNull(invitations.acceptedAt), isNull(invitations.revokedAt)),
        )
        .returning();
      if (!inv) throw new AppError("NOT_FOUND", "This invitation does not exist or is no longer open.");
      audit({ action: "invitation.revoked", target: { type: "invitation", id: inv.id }, metadata: { email: inv.email } });
      return { id: inv.id };
    },
    meta,
  );
}

async function findOpenInvitation(tx: Tx | ReturnType<typeof getDb>, token: string) {
  const parsed = InvitationToken.safeParse(token);
  if (!parsed.success) throw new AppError("INVALID", parsed.error.issues[0]!.message, { field: "token" });
  const [row] = await tx
    .select({
      id: invitations.id,
      email: invitations.email,
      role: invitations.role,
      expiresAt: invitations.expiresAt,
      acceptedAt: invitations.acceptedAt,
      revokedAt: invitations.revokedAt,
      workspaceId: workspaces.id,
      workspaceName: workspaces.name,
      workspaceSlug: workspaces.slug,
      invitedBy: users.name,
    })
    .from(invitations)
    .innerJoin(workspaces, eq(workspaces.id, invitations.workspaceId))
    .innerJoin(users, eq(users.id, invitations.invitedBy))
    .where(eq(invitations.tokenHash, hashToken(parsed.data)))
    .limit(1);
  if (!row) throw new AppError("NOT_FOUND", "This invitation link is not valid. Ask for a new one.", { field: "token" });
  if (row.revokedAt) throw new AppError("PRECONDITION_FAILED", "This invitation was revoked. Ask for a new one.", { field: "token" });
  if (row.acceptedAt) throw new AppError("PRECONDITION_FAILED", "This invitation was already used.", { field: "token" });
  if (row.expiresAt.getTime() <= Date.now()) {
    throw new AppError("PRECONDITION_FAILED", "This invitation has expired. Ask for a new one.", { field: "token" });
  }
  return row;
}

/** What the invitation page shows before accepting; no membership needed. */
export async function previewInvitation(token: string) {
  const inv = await findOpenInvitation(getDb(), token);
  return {
    email: inv.email,
    role: inv.role,
    workspaceName: inv.workspaceName,
    invitedBy: inv.invitedBy,
    expiresAt: inv.expiresAt,
  };
}

/** Accepts an invitation for the signed-in user, whose e-mail must be the one invited. */
export async function acceptInvitation(actor: UserActor, token: string, meta: RequestMeta = {}) {
  const result = await mutate(
    { ...actor },
    async (tx, audit) => {
      const inv = await findOpenInvitation(tx, token);
      // Lock the invitation row: two tabs accepting at once must not both succeed.
      const [locked] = await tx
        .select({ id: invitations.id })
        .from(invitations)
        .where(and(eq(invitations.id, inv.id), isNull(invitations.acceptedAt)))
        .for("update");
      if (!locked) throw new AppError("PRECONDITION_FAILED", "This invitation was already used.", { field: "token" });
      if (inv.email !== actor.email) {
        throw new AppError("FORBIDDEN", `This invitation is for ${inv.email}, but you are signed in as ${actor.email}. Sign in with the invited address.`);
      }
      const [existing] = await tx
        .select({ id: memberships.id })
        .from(memberships)
        .where(and(eq(memberships.workspaceId, inv.workspaceId), eq(memberships.userId, actor.userId)));
      if (existing) throw new AppError("CONFLICT", "You are already a member of this workspace.");
      await tx.update(invitations).set({ acceptedAt: new Date(), acceptedBy: actor.userId }).where(eq(invitations.id, inv.id));
      await tx.insert(memberships).values({ workspaceId: inv.workspaceId, userId: actor.userId, role: inv.role });
      audit({ action: "invitation.accepted", target: { type: "invitation", id: inv.id }, workspaceId: inv.workspaceId });
      audit({
        action: "member.joined",
        target: { type: "user", id: actor.userId },
        workspaceId: inv.workspaceId,
        changes: { role: [null, inv.role] },
        metadata: { email: actor.email, via: "invitation" },
      });
      return { workspaceId: inv.workspaceId, slug: inv.workspaceSlug, role: inv.role };
    },
    meta,
  );
  publish.grantWorkspace(actor.userId, result.workspaceId);
  publish.toWorkspace(result.workspaceId, "members.changed", { workspaceId: result.workspaceId });
  return result;
}

async function lockMember(tx: Tx, workspaceId: string, userId: string) {
  const [m] = await tx
    .select({ id: memberships.id, role: memberships.role, email: users.email })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(eq(memberships.workspaceId, workspaceId), eq(memberships.userId, userId)))
    .for("update", { of: memberships });
  if (!m) throw new AppError("NOT_FOUND", "This person is not a member of this workspace.", { field: "userId" });
  return m;
}

/** Counts owners under a lock on the workspace row, so two demotions cannot race past the check. */
async function otherOwners(tx: Tx, workspaceId: string, userId: string) {
  await tx.select({ id: workspaces.id }).from(workspaces).where(eq(workspaces.id, workspaceId)).for("update");
  const [row] = await tx
    .select({ n: count() })
    .from(memberships)
    .where(and(eq(memberships.workspaceId, workspaceId), eq(memberships.role, "owner"), sql`${memberships.userId} <> ${userId}`));
  return row?.n ?? 0;
}

export async function changeRole(actor: WorkspaceActor, raw: ChangeRoleInput, meta: RequestMeta = {}) {
  const input = ChangeRoleInput.parse(raw);
  assertMayGrant(actor, input.role);
  const result = await mutate(
    actor,
    async (tx, audit) => {
      const m = await lockMember(tx, actor.workspaceId, input.userId);
      if (m.role === input.role) return { userId: input.userId, role: m.role };
      if (m.role === "owner" && actor.role !== "owner") {
        throw new AppError("FORBIDDEN", "Only an owner can change another owner's role.");
      }
      if (m.role === "owner" && (await otherOwners(tx, actor.workspaceId, input.userId)) === 0) {
        throw new AppError("PRECONDITION_FAILED", "A workspace needs at least one owner. Make someone else an owner first.", { field: "role" });
      }
      await tx.update(memberships).set({ role: input.role, updatedAt: new Date() }).where(eq(memberships.id, m.id));
      await credentialsChanged(tx, "member.role_changed");
      audit({
        action: "member.role_changed",
        target: { type: "user", id: input.userId },
        changes: { role: [m.role, input.role] },
        metadata: { email: m.email },
      });
      return { userId: input.userId, role: input.role };
    },
    meta,
  );
  publish.toWorkspace(actor.workspaceId, "members.changed", { workspaceId: actor.workspaceId });
  return result;
}

/** Removes a member (or, with userId = the actor's, leaves). The last owner can do neither. */
export async function removeMember(actor: WorkspaceActor, userId: string, meta: RequestMeta = {}) {
  const self = userId === actor.userId;
  await mutate(
    actor,
    async (tx, audit) => {
      const m = await lockMember(tx, actor.workspaceId, userId);
      if (!self && m.role === "owner" && actor.role !== "owner") {
        throw new AppError("FORBIDDEN", "Only an owner can remove an owner.");
      }
      if (m.role === "owner" && (await otherOwners(tx, actor.workspaceId, userId)) === 0) {
        throw new AppError(
          "PRECONDITION_FAILED",
          self
            ? "You are the last owner. Make someone else an owner before you leave."
            : "A workspace needs at least one owner. Make someone else an owner first.",
        );
      }
      await tx.delete(memberships).where(eq(memberships.id, m.id));
      await credentialsChanged(tx, "member.removed");
      audit({
        action: self ? "member.left" : "member.removed",
        target: { type: "user", id: userId },
        changes: { role: [m.role, null] },
        metadata: { email: m.email },
      });
    },
    meta,
  );
  publish.revokeWorkspace(userId, actor.workspaceId);
  publish.toWorkspace(actor.workspaceId, "members.changed", { workspaceId: actor.workspaceId });
  return { userId };
}

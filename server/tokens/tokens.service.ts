import "server-only";
import { createHash, randomBytes } from "node:crypto";
import { and, desc, eq, isNull, lt, or, sql } from "drizzle-orm";
import { getDb } from "~/db/client";
import { apiTokens, memberships, users, workspaces } from "~/db/schema";
import type { Role } from "~/db/schema/identity";
import type { RequestMeta, WorkspaceActor } from "~/server/audit/actor";
import { mutate } from "~/server/audit/mutate";
import { can, ROLE_LABELS, ROLE_PERMISSIONS } from "~/server/shared/permissions";
import { AppError } from "~/server/errors";
import { CreateTokenInput } from "~/server/shared/registry.schema";
import { credentialsChanged } from "~/server/platform/credentials";

export const TOKEN_PREFIX = "stw_";
const hashToken = (t: string) => createHash("sha256").update(t).digest("hex");

/** True when every permission of `role` is also one of `limit`'s: a token never exceeds its creator. */
export function roleWithin(role: Role, limit: Role) {
  return ROLE_PERMISSIONS[role].every((p) => can(limit, p));
}

/** Creates a token for the actor's workspace with a role no higher than the actor's. Shown once. */
export async function createToken(actor: WorkspaceActor, raw: CreateTokenInput, meta: RequestMeta = {}) {
  const input = CreateTokenInput.parse(raw);
  if (!roleWithin(input.role, actor.role)) {
    throw new AppError("FORBIDDEN", `A token cannot have more rights than you: your role is ${ROLE_LABELS[actor.role]}.`, { field: "role" });
  }
  const token = `${TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;
  const expiresAt = input.expiresInDays ? new Date(Date.now() + input.expiresInDays * 86_400_000) : null;
  return mutate(
    actor,
    async (tx, audit) => {
      const [row] = await tx
        .insert(apiTokens)
        .values({
          workspaceId: actor.workspaceId,
          name: input.name,
          tokenHash: hashToken(token),
          prefix: token.slice(0, 10),
          role: input.role,
          createdBy: actor.userId,
          expiresAt,
        })
        .returning();
      audit({
        action: "token.created",
        target: { type: "api_token", id: row!.id },
        metadata: { name: input.name, role: input.role, prefix: row!.prefix, expiresAt: expiresAt?.toISOString() ?? null },
      });
      return { id: row!.id, name: row!.name, role: row!.role, prefix: row!.prefix, expiresAt, token };
    },
    meta,
  );
}

export async function listTokens(actor: WorkspaceActor) {
  const all = can(actor.role, "token:manage");
  return getDb()
    .select({
      id: apiTokens.id,
      name: apiTokens.name,
      prefix: apiTokens.prefix,
      role: apiTokens.role,
      createdAt: apiTokens.createdAt,
      lastUsedAt: apiTokens.lastUsedAt,
      expiresAt: apiTokens.expiresAt,
      revokedAt: apiTokens.revokedAt,
      createdBy: users.email,
      mine: sql<boolean>`${apiTokens.createdBy} = ${actor.userId}`,
    })
    .from(apiTokens)
    .innerJoin(users, eq(users.id, apiTokens.createdBy))
    .where(and(eq(apiTokens.workspaceId, actor.workspaceId), all ? undefined : eq(apiTokens.createdBy, actor.userId)))
    .orderBy(desc(apiTokens.createdAt));
}

export async function revokeToken(actor: WorkspaceActor, tokenId: string, meta: RequestMeta = {}) {
  return mutate(
    actor,
    async (tx, audit) => {
      const [t] = await tx
        .select()
        .from(apiTokens)
        .where(and(eq(apiTokens.id, tokenId), eq(apiTokens.workspaceId, actor.workspaceId)))
        .for("update");
      if (!t || (t.createdBy !== actor.userId && !can(actor.role, "token:manage"))) {
        throw new AppError("NOT_FOUND", "This token does not exist.", { field: "tokenId" });
      }
      if (t.revokedAt) throw new AppError("PRECONDITION_FAILED", "This token is already revoked.");
      await tx.update(apiTokens).set({ revokedAt: new Date() }).where(eq(apiTokens.id, t.id));
      await credentialsChanged(tx, "token.revoked");
      audit({ action: "token.revoked", target: { type: "api_token", id: t.id }, metadata: { name: t.name, prefix: t.prefix } });
      return { id: t.id };
    },
    meta,
  );
}

/**
 * The actor behind a bearer token, or an AppError("UNAUTHORIZED"). A token acts as its
 * creator with the token's role, and only while the creator is still a member whose role
 * covers it: demoting or removing a person disarms their tokens at once.
 */
export async function actorForToken(token: string): Promise<WorkspaceActor & { tokenId: string; workspaceSlug: string }> {
  if (!token.startsWith(TOKEN_PREFIX) || token.length > 200) throw new AppError("UNAUTHORIZED", "The API token is malformed.");
  const [row] = await getDb()
    .select({
      id: apiTokens.id,
      role: apiTokens.role,
      workspaceId: apiTokens.workspaceId,
      slug: workspaces.slug,
      userId: apiTokens.createdBy,
      email: users.email,
      memberRole: memberships.role,
      revokedAt: apiTokens.revokedAt,
      deactivatedAt: users.deactivatedAt,
      expiresAt: apiTokens.expiresAt,
      lastUsedAt: apiTokens.lastUsedAt,
    })
    .from(apiTokens)
    .innerJoin(workspaces, eq(workspaces.id, apiTokens.workspaceId))
    .innerJoin(users, eq(users.id, apiTokens.createdBy))
    .leftJoin(memberships, and(eq(memberships.workspaceId, apiTokens.workspaceId), eq(memberships.userId, apiTokens.createdBy)))
    .where(eq(apiTokens.tokenHash, hashToken(token)));
  if (!row) throw new AppError("UNAUTHORIZED", "The API token is not valid.");
  if (row.revokedAt) throw new AppError("UNAUTHORIZED", "The API token was revoked.");
  if (row.deactivatedAt) throw new AppError("UNAUTHORIZED", "The API token's creator is deactivated: the token no longer works.");
  if (row.expiresAt && row.expiresAt.getTime() <= Date.now()) throw new AppError("UNAUTHORIZED", "The API token has expired.");
  if (!row.memberRole || !roleWithin(row.role, row.memberRole)) {
    throw new AppError("UNAUTHORIZED", "The API token's creator no longer has the rights it grants; create a new token.");
  }
  // Last use, at most once a minute per token: not audited (telemetry, not state).
  await getDb()
    .update(apiTokens)
    .set({ lastUsedAt: new Date() })
    .where(and(eq(apiTokens.id, row.id), or(isNull(apiTokens.lastUsedAt), lt(apiTokens.lastUsedAt, new Date(Date.now() - 60_000)))));
  return {
    type: "user",
    userId: row.userId,
    email: row.email,
    workspaceId: row.workspaceId,
    role: row.role,
    tokenId: row.id,
    workspaceSlug: row.slug,
  };
}

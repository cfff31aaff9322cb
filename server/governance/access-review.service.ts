import "server-only";
import { and, eq, isNull, max, sql } from "drizzle-orm";
import { getDb } from "~/db/client";
import { apiTokens, auditEvents, memberships, users } from "~/db/schema";
import type { WorkspaceActor } from "~/server/audit/actor";

/** Who has access to the workspace, with what, and when they last used it. */
export async function accessReview(actor: WorkspaceActor) {
  const db = getDb();
  const people = await db
    .select({
      userId: users.id,
      name: users.name,
      email: users.email,
      role: memberships.role,
      memberSince: memberships.createdAt,
      lastSignInAt: users.lastSignInAt,
    })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(eq(memberships.workspaceId, actor.workspaceId))
    .orderBy(users.name);
  const activity = await db
    .select({ actorId: auditEvents.actorId, last: max(auditEvents.occurredAt) })
    .from(auditEvents)
    .where(and(eq(auditEvents.workspaceId, actor.workspaceId), eq(auditEvents.actorType, "user")))
    .groupBy(auditEvents.actorId);
  const tokens = await db
    .select({ createdBy: apiTokens.createdBy, name: apiTokens.name, role: apiTokens.role, lastUsedAt: apiTokens.lastUsedAt, expiresAt: apiTokens.expiresAt })
    .from(apiTokens)
    .where(
      and(eq(apiTokens.workspaceId, actor.workspaceId), isNull(apiTokens.revokedAt), sql`(${apiTokens.expiresAt} is null or ${apiTokens.expiresAt} > now())`),
    );
  return people.map((p) => ({
    ...p,
    lastActivityAt: activity.find((a) => a.actorId === p.userId)?.last ?? null,
    tokens: tokens.filter((t) => t.createdBy === p.userId).map(({ createdBy: _, ...t }) => t),
  }));
}

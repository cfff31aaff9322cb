import "server-only";
import { asc, eq } from "drizzle-orm";
import { getDb } from "~/db/client";
import { memberships, workspaces } from "~/db/schema";
import type { RequestMeta, WorkspaceActor } from "~/server/audit/actor";
import { AppError } from "~/server/errors";
import { authenticate } from "~/server/identity/users.service";
import { createToken } from "./tokens.service";

/*
 * Signing in with a password to get a token lives apart from tokens.service.ts, which the
 * inference process loads to check tokens: checking a token must not load argon2.
 */

/** For `steward login` with e-mail and password: a token in one workspace with the member's role. */
export async function tokenFromPassword(input: { email: string; password: string; workspace: string; name: string }, meta: RequestMeta = {}) {
  const user = await authenticate({ email: input.email, password: input.password }, meta);
  const mine = await getDb()
    .select({ workspaceId: workspaces.id, slug: workspaces.slug, role: memberships.role })
    .from(memberships)
    .innerJoin(workspaces, eq(workspaces.id, memberships.workspaceId))
    .where(eq(memberships.userId, user.id))
    .orderBy(asc(workspaces.slug));
  const m = mine.find((w) => w.slug === input.workspace);
  if (!m) {
    // The password was right: naming the caller's own workspaces reveals nothing they cannot see.
    const yours = mine.length ? `Your workspaces: ${mine.map((w) => w.slug).join(", ")}.` : "You are not a member of any workspace yet.";
    throw new AppError("NOT_FOUND", `You are not a member of a workspace "${input.workspace}". ${yours}`, { field: "workspace" });
  }
  const actor: WorkspaceActor = { type: "user", userId: user.id, email: user.email, workspaceId: m.workspaceId, role: m.role };
  const created = await createToken(actor, { workspaceId: m.workspaceId, name: input.name, role: m.role }, meta);
  return { ...created, workspace: m.slug };
}

import { randomBytes, randomUUID } from "node:crypto";
import type { Role } from "~/db/schema/identity";
import type { UserActor, WorkspaceActor } from "~/server/audit/actor";
import { acceptInvitation, inviteMember } from "~/server/identity/members.service";
import { signUp } from "~/server/identity/users.service";
import { createWorkspace as createWs } from "~/server/identity/workspaces.service";

/** Shared by the demo seed, integration tests and Playwright: real services, real audit events. */

export function strongPassword() {
  return `Stw-${randomBytes(9).toString("base64url")}-9`;
}

export async function createUser(opts: { name?: string; email?: string; password?: string } = {}) {
  const id = randomUUID().slice(0, 8);
  const password = opts.password ?? strongPassword();
  const user = await signUp({
    name: opts.name ?? `User ${id}`,
    email: opts.email ?? `user-${id}@test.steward.local`,
    password,
  });
  const actor: UserActor = { type: "user", userId: user.id, email: user.email };
  return { ...user, password, actor };
}

export type CreatedUser = Awaited<ReturnType<typeof createUser>>;

/**
 * A workspace owned by a new user, with one new member per entry in `members`, each
 * joined through a real invitation.
 */
export async function createWorkspace(
  opts: { name?: string; slug?: string; owner?: CreatedUser; members?: { role: Role; user?: CreatedUser }[]; defaultPipeline?: boolean } = {},
) {
  const owner = opts.owner ?? (await createUser());
  const suffix = randomUUID().slice(0, 8);
  // Without the default validate pipeline unless asked: most tests register models without wanting runs.
  const ws = await createWs(
    owner.actor,
    { name: opts.name ?? `Workspace ${suffix}`, slug: opts.slug ?? `ws-${suffix}` },
    {},
    { defaultPipeline: opts.defaultPipeline ?? false },
  );
  const ownerActor: WorkspaceActor = { ...owner.actor, workspaceId: ws.id, role: "owner" };
  const members: (CreatedUser & { role: Role; wsActor: WorkspaceActor })[] = [];
  for (const m of opts.members ?? []) {
    const user = m.user ?? (await createUser());
    const inv = await inviteMember(ownerActor, { workspaceId: ws.id, email: user.email, role: m.role });
    await acceptInvitation(user.actor, inv.token);
    members.push({ ...user, role: m.role, wsActor: { ...user.actor, workspaceId: ws.id, role: m.role } });
  }
  return { workspace: ws, owner: { ...owner, wsActor: ownerActor }, members };
}

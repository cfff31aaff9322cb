import type { IncomingMessage } from "node:http";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "~/db/client";
import { auditEvents, users } from "~/db/schema";
import { createUser, createWorkspace } from "~/db/seed/factories";
import { userFromHandshake } from "~/server/web/realtime/io";
import { sessionCookie } from "~/server/web/realtime/test-clients";
import { actorForToken } from "~/server/tokens/tokens.service";
import { callerFor, expectTrpcError } from "~/test/helpers";
import { authenticate, upsertOidcUser } from "./users.service";

// A freshly recorded session each time: what is under test here is the session version.
const handshake = async (user: { id: string; email: string }, sv: number) =>
  userFromHandshake({ headers: { cookie: await sessionCookie(user, sv) } } as unknown as IncomingMessage);

describe("deactivating an account and ending sessions", () => {
  it("takes effect at once: no session, no socket, no token, no sign-in, no signature; reactivation restores sign-in but not old sessions", async () => {
    const admin = await createUser();
    await getDb().update(users).set({ instanceAdmin: true }).where(eq(users.id, admin.id));
    const { workspace, members } = await createWorkspace({ members: [{ role: "reviewer" }] });
    const rev = members[0]!;
    const { token } = await callerFor(rev).tokens.create({ workspaceId: workspace.id, name: "ci", role: "viewer" });
    expect(await handshake(rev, 0)).toMatchObject({ id: rev.id });

    await expectTrpcError(callerFor(rev).accounts.setActive({ userId: admin.id, active: false }), "FORBIDDEN", /Only Steward administrators/);
    await expectTrpcError(callerFor(admin).accounts.setActive({ userId: admin.id, active: false }), "PRECONDITION_FAILED", /your own account/);
    await callerFor(admin).accounts.setActive({ userId: rev.id, active: false });

    await expectTrpcError(callerFor(rev).workspaces.list(), "UNAUTHORIZED");
    await expectTrpcError(callerFor(rev).reviews.list({ workspaceId: workspace.id }), "UNAUTHORIZED");
    expect(await handshake(rev, 0)).toBeNull();
    expect(await handshake(rev, 1)).toBeNull();
    await expect(actorForToken(token)).rejects.toThrow(/creator is deactivated/);
    await expect(authenticate({ email: rev.email, password: rev.password })).rejects.toThrow(/deactivated/);
    const [ev] = await getDb().select().from(auditEvents).where(eq(auditEvents.action, "user.deactivated")).orderBy(auditEvents.occurredAt);
    expect(ev).toBeTruthy();
    expect((await callerFor(admin).accounts.list()).find((a) => a.id === rev.id)!.deactivatedAt).not.toBeNull();

    await callerFor(admin).accounts.setActive({ userId: rev.id, active: true });
    await expect(authenticate({ email: rev.email, password: rev.password })).resolves.toMatchObject({ id: rev.id });
    expect(await handshake(rev, 0)).toBeNull(); // the session from before stays ended
    expect(await handshake(rev, 1)).toMatchObject({ id: rev.id });

    // "Sign out everywhere" ends every session of the account.
    await callerFor(rev).auth.endAllSessions();
    expect(await handshake(rev, 1)).toBeNull();
    expect(await handshake(rev, 2)).toMatchObject({ id: rev.id }); // a new sign-in works
  });

  it("lets an account made through single sign-on set a password once, to e-sign with", async () => {
    const email = `sso-${Date.now()}@test.steward.local`;
    const sso = await upsertOidcUser(email, "Sso Person");
    expect(await callerFor(sso).auth.me()).toMatchObject({ hasPassword: false });
    await expectTrpcError(callerFor(sso).auth.setPassword({ password: "short" }), "BAD_REQUEST");
    await callerFor(sso).auth.setPassword({ password: "Correct-Horse-Battery-9" });
    expect(await callerFor(sso).auth.me()).toMatchObject({ hasPassword: true });
    await expect(authenticate({ email, password: "Correct-Horse-Battery-9" })).resolves.toMatchObject({ id: sso.id });
    await expectTrpcError(callerFor(sso).auth.setPassword({ password: "Another-Horse-Battery-9" }), "PRECONDITION_FAILED", /already has a password/);
  });
});

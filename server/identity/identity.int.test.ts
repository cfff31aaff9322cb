import { randomBytes, randomUUID } from "node:crypto";
import { count, eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "~/db/client";
import { auditEvents, invitations, memberships, users, workspaces } from "~/db/schema";
import { createUser, createWorkspace } from "~/db/seed/factories";
import { auditFor, callerFor, expectAudit, expectTrpcError } from "~/test/helpers";
import { authenticate } from "./users.service";

const email = () => `p-${randomUUID().slice(0, 8)}@test.steward.local`;

async function userCount(address: string) {
  const [r] = await getDb().select({ n: count() }).from(users).where(eq(users.email, address));
  return r!.n;
}

describe("auth.signUp", () => {
  const anon = () => callerFor(null);

  it("creates the account with an argon2id hash and records user.signed_up", async () => {
    const address = email();
    const u = await anon().auth.signUp({ name: "Ada", email: address.toUpperCase(), password: "a-long-enough-pass" });
    expect(u.email).toBe(address);
    const [row] = await getDb().select().from(users).where(eq(users.id, u.id));
    expect(row!.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    const [ev] = await getDb().select().from(auditEvents).where(eq(auditEvents.targetId, u.id));
    expect(ev).toMatchObject({ action: "user.signed_up", workspaceId: null });
  });

  it.each([
    [{ name: "A", email: "not-an-email", password: "a-long-enough-pass" }, /email: Enter a valid e-mail address/],
    [{ name: "A", email: email(), password: "short" }, /password: Password must be at least 12 characters/],
    [{ name: "A", email: email(), password: "password1234" }, /too common/],
    [{ name: "A", email: email(), password: "aaaaaaaaaaaaaaa" }, /too repetitive/],
    [{ name: "x".repeat(81), email: email(), password: "a-long-enough-pass" }, /name: Name must be at most 80 characters/],
    [{ name: "A", email: `${"x".repeat(250)}@e.com`, password: "a-long-enough-pass" }, /email: E-mail must be at most 254/],
  ])("rejects bad input with a message naming the field (%#)", async (input, message) => {
    const err = await expectTrpcError(anon().auth.signUp(input), "BAD_REQUEST", message);
    expect(err.cause).toBeTruthy();
    if (input.email.includes("@") && input.email.length < 254) expect(await userCount(input.email)).toBe(0);
  });

  it("refuses a duplicate e-mail with CONFLICT and leaves one account", async () => {
    const address = email();
    await anon().auth.signUp({ name: "A", email: address, password: "a-long-enough-pass" });
    await expectTrpcError(anon().auth.signUp({ name: "B", email: address, password: "another-long-pass" }), "CONFLICT", /already exists/);
    expect(await userCount(address)).toBe(1);
  });
});

describe("sign-in", () => {
  it("accepts the right password and records user.signed_in in each of the user's workspaces", async () => {
    const { workspace, owner } = await createWorkspace();
    const u = await authenticate({ email: owner.email, password: owner.password }, { ip: "10.9.8.7" });
    expect(u.id).toBe(owner.id);
    const ev = await expectAudit(workspace.id, { action: "user.signed_in", targetId: owner.id });
    expect(ev.metadata).toMatchObject({ method: "password", ip: "10.9.8.7" });
  });
  // Throttling of failed sign-ins is tested in server/auth/rate-limit.int.test.ts.
});

describe("workspaces", () => {
  it("creates a workspace with the creator as owner and the default validate pipeline, audited", async () => {
    const u = await createUser();
    const slug = `team-${randomUUID().slice(0, 6)}`;
    const ws = await callerFor(u).workspaces.create({ name: "Team", slug });
    expect(ws).toMatchObject({ slug, role: "owner" });
    const events = await auditFor(ws.id);
    expect(events.map((e) => e.action)).toEqual(["workspace.created", "member.joined", "pipeline.created"]);
  });

  it("rejects a taken slug with CONFLICT on the slug field, and reserved or malformed slugs", async () => {
    const { workspace } = await createWorkspace();
    const u = await createUser();
    const err = await expectTrpcError(callerFor(u).workspaces.create({ name: "Xy", slug: workspace.slug }), "CONFLICT", /already taken/);
    expect(err.cause).toMatchObject({ field: "slug" });
    await expectTrpcError(callerFor(u).workspaces.create({ name: "Xy", slug: "settings" }), "BAD_REQUEST", /reserved/);
    await expectTrpcError(callerFor(u).workspaces.create({ name: "Xy", slug: "Bad Slug!" }), "BAD_REQUEST", /slug/);
    await expectTrpcError(callerFor(u).workspaces.create({ name: "x".repeat(61) }), "BAD_REQUEST", /name: Workspace name must be at most 60/);
    const [n] = await getDb().select({ n: count() }).from(memberships).where(eq(memberships.userId, u.id));
    expect(n!.n).toBe(0);
  });

  it("renames with the before and after in the audit event", async () => {
    const { workspace, owner } = await createWorkspace();
    await callerFor(owner).workspaces.rename({ workspaceId: workspace.id, name: "Renamed" });
    const ev = await expectAudit(workspace.id, { action: "workspace.renamed" });
    expect(ev.changes).toEqual({ name: [workspace.name, "Renamed"] });
  });
});

describe("invitations", () => {
  it("invites, previews and accepts; the member appears with the role", async () => {
    const { workspace, owner } = await createWorkspace();
    const invitee = await createUser();
    const inv = await callerFor(owner).members.invite({ workspaceId: workspace.id, email: invitee.email, role: "reviewer" });
    expect(inv.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const [stored] = await getDb().select().from(invitations).where(eq(invitations.id, inv.id));
    expect(stored!.tokenHash).not.toContain(inv.token);
    const preview = await callerFor(null).invitations.preview({ token: inv.token });
    expect(preview).toMatchObject({ email: invitee.email, role: "reviewer", workspaceName: workspace.name });
    const res = await callerFor(invitee).invitations.accept({ token: inv.token });
    expect(res).toMatchObject({ workspaceId: workspace.id, role: "reviewer" });
    const list = await callerFor(owner).members.list({ workspaceId: workspace.id });
    expect(list.find((m) => m.userId === invitee.id)?.role).toBe("reviewer");
    await expectAudit(workspace.id, { action: "member.invited", targetId: inv.id });
    await expectAudit(workspace.id, { action: "invitation.accepted", targetId: inv.id });
    await expectAudit(workspace.id, { action: "member.joined", targetId: invitee.id });
    // A link works once.
    await expectTrpcError(callerFor(invitee).invitations.accept({ token: inv.token }), "PRECONDITION_FAILED", /already used/);
  });

  it("rejects malformed, unknown, expired and revoked tokens, and the wrong account", async () => {
    const { workspace, owner } = await createWorkspace();
    const someone = await createUser();
    await expectTrpcError(callerFor(someone).invitations.accept({ token: "short" }), "BAD_REQUEST", /malformed/);
    await expectTrpcError(callerFor(someone).invitations.accept({ token: randomBytes(32).toString("base64url") }), "NOT_FOUND", /not valid/);
    const expired = await callerFor(owner).members.invite({ workspaceId: workspace.id, email: someone.email, role: "viewer" });
    await getDb()
      .update(invitations)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(invitations.id, expired.id));
    await expectTrpcError(callerFor(someone).invitations.accept({ token: expired.token }), "PRECONDITION_FAILED", /expired/);

    const revoked = await callerFor(owner).members.invite({ workspaceId: workspace.id, email: someone.email, role: "viewer" });
    await callerFor(owner).members.revokeInvitation({ workspaceId: workspace.id, invitationId: revoked.id });
    await expectTrpcError(callerFor(someone).invitations.accept({ token: revoked.token }), "PRECONDITION_FAILED", /revoked/);

    const other = await createUser();
    const forSomeone = await callerFor(owner).members.invite({ workspaceId: workspace.id, email: someone.email, role: "viewer" });
    await expectTrpcError(callerFor(other).invitations.accept({ token: forSomeone.token }), "FORBIDDEN", /is for/);
    const [m] = await getDb().select({ n: count() }).from(memberships).where(eq(memberships.workspaceId, workspace.id));
    expect(m!.n).toBe(1);
  });

  it("rejects an unknown role and an existing member, naming the field", async () => {
    const { workspace, owner, members } = await createWorkspace({ members: [{ role: "viewer" }] });
    await expectTrpcError(
      callerFor(owner).members.invite({ workspaceId: workspace.id, email: email(), role: "superuser" as "viewer" }),
      "BAD_REQUEST",
      /role: Role must be one of: viewer, ml_engineer/,
    );
    const err = await expectTrpcError(
      callerFor(owner).members.invite({ workspaceId: workspace.id, email: members[0]!.email, role: "viewer" }),
      "CONFLICT",
      /already a member/,
    );
    expect(err.cause).toMatchObject({ field: "email" });
  });

  it("lets only an owner grant the owner role", async () => {
    const { workspace, members } = await createWorkspace({ members: [{ role: "admin" }] });
    await expectTrpcError(callerFor(members[0]!).members.invite({ workspaceId: workspace.id, email: email(), role: "owner" }), "FORBIDDEN", /Only an owner/);
  });
});

describe("roles and removal", () => {
  it("changes a role with before/after in the audit event", async () => {
    const { workspace, owner, members } = await createWorkspace({ members: [{ role: "viewer" }] });
    await callerFor(owner).members.changeRole({ workspaceId: workspace.id, userId: members[0]!.id, role: "ops" });
    const ev = await expectAudit(workspace.id, { action: "member.role_changed", targetId: members[0]!.id });
    expect(ev.changes).toEqual({ role: ["viewer", "ops"] });
  });

  it("never leaves a workspace without an owner", async () => {
    const { workspace, owner, members } = await createWorkspace({ members: [{ role: "admin" }] });
    await expectTrpcError(
      callerFor(owner).members.changeRole({ workspaceId: workspace.id, userId: owner.id, role: "admin" }),
      "PRECONDITION_FAILED",
      /at least one owner/,
    );
    await expectTrpcError(callerFor(owner).members.leave({ workspaceId: workspace.id }), "PRECONDITION_FAILED", /last owner/);
    await expectTrpcError(callerFor(members[0]!).members.remove({ workspaceId: workspace.id, userId: owner.id }), "FORBIDDEN", /Only an owner/);
    // With a second owner, the first may step down.
    await callerFor(owner).members.changeRole({ workspaceId: workspace.id, userId: members[0]!.id, role: "owner" });
    await callerFor(owner).members.leave({ workspaceId: workspace.id });
    await expectAudit(workspace.id, { action: "member.left", targetId: owner.id });
  });

  it("serialises two owners demoting each other: one must remain", async () => {
    const { workspace, owner, members } = await createWorkspace({ members: [{ role: "owner" }] });
    const other = members[0]!;
    const results = await Promise.allSettled([
      callerFor(owner).members.changeRole({ workspaceId: workspace.id, userId: other.id, role: "admin" }),
      callerFor(other).members.changeRole({ workspaceId: workspace.id, userId: owner.id, role: "admin" }),
    ]);
    const owners = await getDb()
      .select({ n: count() })
      .from(memberships)
      .where(sql`${memberships.workspaceId} = ${workspace.id} and ${memberships.role} = 'owner'`);
    expect(owners[0]!.n).toBe(1);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
  });

  it("removes a member, who then cannot read the workspace", async () => {
    const { workspace, owner, members } = await createWorkspace({ members: [{ role: "ml_engineer" }] });
    const m = members[0]!;
    await callerFor(m).members.list({ workspaceId: workspace.id });
    await callerFor(owner).members.remove({ workspaceId: workspace.id, userId: m.id });
    await expectTrpcError(callerFor(m).members.list({ workspaceId: workspace.id }), "NOT_FOUND");
    await expectAudit(workspace.id, { action: "member.removed", targetId: m.id });
    const [ws] = await getDb().select().from(workspaces).where(eq(workspaces.id, workspace.id));
    expect(ws).toBeTruthy();
  });
});

describe("workspaces.setRetention", () => {
  it("sets prediction-log retention with before/after in the audit trail, and rejects nonsense", async () => {
    const { workspace, owner, members } = await createWorkspace({ members: [{ role: "ml_engineer" }] });
    expect(await callerFor(owner).workspaces.settings({ workspaceId: workspace.id })).toEqual({ predictionRetentionDays: 90, viewerDownloads: true });
    await callerFor(owner).workspaces.setRetention({ workspaceId: workspace.id, predictionRetentionDays: 30 });
    const ev = await expectAudit(workspace.id, { action: "workspace.retention_changed" });
    expect(ev.changes).toEqual({ predictionRetentionDays: [90, 30] });
    await expectTrpcError(callerFor(owner).workspaces.setRetention({ workspaceId: workspace.id, predictionRetentionDays: 0 }), "BAD_REQUEST", /at least 1 day/);
    await expectTrpcError(callerFor(members[0]!).workspaces.setRetention({ workspaceId: workspace.id, predictionRetentionDays: 7 }), "FORBIDDEN");
  });
});

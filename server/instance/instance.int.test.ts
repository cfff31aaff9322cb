import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

// test/setup-env.ts pins these for every other test file (they share the database); this
// file tests what Settings › Instance decides, so it unpins them before ~/env is read.
vi.hoisted(() => {
  delete process.env.SIGNUP;
  delete process.env.SIGNUP_DOMAINS;
  delete process.env.WORKSPACE_CREATION;
  delete process.env.COMMAND_STEPS;
});

import { randomUUID } from "node:crypto";
import { and, desc, eq, isNull } from "drizzle-orm";
import { getDb } from "~/db/client";
import { auditEvents, users } from "~/db/schema";
import { createUser, createWorkspace, strongPassword, type CreatedUser } from "~/db/seed/factories";
import { savePipeline } from "~/server/pipelines/definitions.service";
import { startManualRun } from "~/server/pipelines/runs.service";
import { callerFor, expectTrpcError } from "~/test/helpers";
import { drive } from "~/test/pipelines";

let admin: CreatedUser;
const asAdmin = () => callerFor(admin).instance;
const person = (domain = "test.steward.local") => {
  const id = randomUUID().slice(0, 8);
  return { name: `Person ${id}`, email: `p-${id}@${domain}`, password: strongPassword() };
};
async function lastInstanceEvent() {
  const [e] = await getDb()
    .select()
    .from(auditEvents)
    .where(and(isNull(auditEvents.workspaceId), eq(auditEvents.action, "instance.settings_updated")))
    .orderBy(desc(auditEvents.seq))
    .limit(1);
  return e!;
}

beforeAll(async () => {
  admin = await createUser();
  await getDb().update(users).set({ instanceAdmin: true }).where(eq(users.id, admin.id));
});
afterAll(async () => {
  // Back to the defaults for whoever uses this database next (sign-up follows "has an administrator").
  await asAdmin().update({ signupDomains: [], workspaceCreation: "anyone", commandSteps: "all", commandStepWorkspaces: [] });
});

describe("auth.signUp under the instance's rules", () => {
  it("is refused when sign-up is closed, with the reason; the change is audited in the instance chain", async () => {
    await asAdmin().update({ signupOpen: true, signupDomains: [] });
    await asAdmin().update({ signupOpen: false });
    const event = await lastInstanceEvent();
    expect(event).toMatchObject({ workspaceId: null, actorId: admin.id, changes: { signupOpen: [true, false] } });
    await expectTrpcError(
      callerFor(null).auth.signUp(person()),
      "FORBIDDEN",
      /Sign-up is closed on this Steward instance: only invited people can create an account/,
    );
  });

  it("lets an invited address create its account while sign-up is closed", async () => {
    await asAdmin().update({ signupOpen: false, signupDomains: [] });
    const { workspace, owner } = await createWorkspace();
    const bob = person();
    await callerFor(owner).members.invite({ workspaceId: workspace.id, email: bob.email, role: "viewer" });
    await expect(callerFor(null).auth.signUp(bob)).resolves.toMatchObject({ email: bob.email });
  });

  it("is refused for an e-mail outside the allowed domains, naming them and the domain", async () => {
    await asAdmin().update({ signupOpen: true, signupDomains: ["Example.COM", "@acme.test"] });
    expect((await callerFor(admin).instance.settings()).signupDomains).toEqual(["acme.test", "example.com"]);
    await expectTrpcError(
      callerFor(null).auth.signUp(person("elsewhere.org")),
      "FORBIDDEN",
      /limited to e-mail addresses at acme\.test, example\.com; elsewhere\.org is not one of them/,
    );
    await expect(callerFor(null).auth.signUp(person("example.com"))).resolves.toMatchObject({ email: expect.stringMatching(/@example\.com$/) });
  });

  it("refuses a malformed domain with the field's message", async () => {
    await expectTrpcError(asAdmin().update({ signupDomains: ["not a domain"] }), "BAD_REQUEST", /signupDomains.*Enter a domain such as example\.com/);
  });
});

describe("instance administration is for instance administrators", () => {
  it("a workspace owner cannot read system.status or the instance settings, nor change them", async () => {
    const { owner, workspace } = await createWorkspace();
    await expectTrpcError(callerFor(owner).system.status(), "FORBIDDEN", /Only instance administrators/);
    await expectTrpcError(callerFor(owner).instance.settings(), "FORBIDDEN");
    await expectTrpcError(callerFor(owner).instance.update({ signupOpen: true }), "FORBIDDEN");
    // The old call shape (with a workspace the owner owns) is refused too.
    await expectTrpcError(callerFor(owner).system.status({ workspaceId: workspace.id } as never), "FORBIDDEN");
    await expect(callerFor(admin).system.status()).resolves.toMatchObject({ workers: expect.any(Array) });
  });
});

describe("workspaces.create when only administrators may create workspaces", () => {
  it("refuses anyone else with the reason, and lets an administrator create one", async () => {
    await asAdmin().update({ workspaceCreation: "admins" });
    const someone = await createUser();
    await expectTrpcError(callerFor(someone).workspaces.create({ name: "Side project" }), "FORBIDDEN", /only instance administrators create workspaces/);
    const slug = `adm-${randomUUID().slice(0, 8)}`;
    await expect(callerFor(admin).workspaces.create({ name: "Admin's", slug })).resolves.toMatchObject({ slug, role: "owner" });
    await asAdmin().update({ workspaceCreation: "anyone" });
    await expect(callerFor(someone).workspaces.create({ name: "Side project", slug: `side-${randomUUID().slice(0, 8)}` })).resolves.toMatchObject({
      role: "owner",
    });
  });
});

describe("command steps and the instance's allow-list", () => {
  it("fails a command step in a workspace not on the list with a clear message, and runs it in one that is", async () => {
    const listed = await createWorkspace();
    const other = await createWorkspace();
    await asAdmin().update({ commandSteps: "selected", commandStepWorkspaces: [listed.workspace.id] });
    const yaml = "steps:\n  hello:\n    type: command\n    run: 'echo hello'\n";
    const runIn = async (ws: typeof listed) => {
      const name = `hello-${randomUUID().slice(0, 8)}`;
      await savePipeline(ws.owner.wsActor, { name, yaml });
      const started = await startManualRun(ws.owner.wsActor, { pipeline: name });
      const done = await drive(started.id);
      return callerFor(ws.owner).runs.get({ workspaceId: ws.workspace.id, runId: done.id });
    };
    const refused = await runIn(other);
    expect(refused.steps[0]).toMatchObject({
      status: "failed",
      reason: expect.stringMatching(/^Command steps are not allowed in this workspace: .*Settings › Instance/),
    });
    const ran = await runIn(listed);
    expect(ran.steps[0]).toMatchObject({ status: "passed" });

    await asAdmin().update({ commandSteps: "none" });
    const off = await runIn(listed);
    expect(off.steps[0]!.reason).toMatch(/Command steps are turned off on this instance/);
  }, 60_000);
});

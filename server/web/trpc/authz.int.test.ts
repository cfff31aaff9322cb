import { TRPCError } from "@trpc/server";
import { beforeAll, describe, expect, it } from "vitest";
import { ROLES, type Role } from "~/server/shared/permissions";
import { eq } from "drizzle-orm";
import { getDb } from "~/db/client";
import { users } from "~/db/schema";
import { createUser, createWorkspace, type CreatedUser } from "~/db/seed/factories";
import { isInstanceAdmin } from "~/server/instance/settings.service";
import { can, type Permission } from "~/server/shared/permissions";
import { callerFor } from "~/test/helpers";
import type { ProcedureMeta } from "./init";
import { appRouter } from "./root";

/**
 * Every procedure, read from the router itself, called as anonymous, as each role and
 * as a member of another workspace. A procedure without declared access metadata fails
 * this test, so a new unguarded procedure cannot land.
 */
type Proc = { _def: { meta?: ProcedureMeta; type: "query" | "mutation" | "subscription"; procedure?: boolean } };

function flatten(record: Record<string, unknown>, prefix = ""): [string, Proc][] {
  return Object.entries(record).flatMap(([key, value]) => {
    const path = prefix ? `${prefix}.${key}` : key;
    const def = (value as { _def?: { procedure?: boolean; record?: Record<string, unknown> } })._def;
    if (def?.procedure) return [[path, value as Proc]];
    return flatten(def?.record ?? (value as Record<string, unknown>), path);
  });
}
const procedures = flatten(appRouter._def.record);

/** What each role may do for the procedures whose rule is not just the permission table. */
const EXPECTED_PERMISSIONS: Record<string, Permission> = {
  "workspaces.rename": "workspace:update",
  "workspaces.settings": "workspace:read",
  "workspaces.setRetention": "workspace:update",
  "workspaces.setViewerDownloads": "workspace:update",
  "members.list": "member:read",
  "members.page": "member:read",
  "members.invitations": "member:manage",
  "members.invite": "member:manage",
  "members.revokeInvitation": "member:manage",
  "members.changeRole": "member:manage",
  "members.remove": "member:manage",
  "members.leave": "member:leave",
  "audit.list": "audit:read",
  "home.needs": "workspace:read",
  "home.activity": "workspace:read",
  "search.query": "registry:read",
  "audit.verify": "audit:verify",
  "audit.checkpoints": "audit:read",
  "audit.signCheckpoint": "audit:export",
  "datasets.list": "registry:read",
  "datasets.page": "registry:read",
  "datasets.byName": "registry:read",
  "datasets.version": "registry:read",
  "models.list": "registry:read",
  "models.page": "registry:read",
  "models.versions": "registry:read",
  "models.byName": "registry:read",
  "models.version": "registry:read",
  "models.compare": "registry:read",
  "models.setAlias": "model:alias",
  "models.removeAlias": "model:alias",
  "pipelines.list": "registry:read",
  "pipelines.get": "registry:read",
  "pipelines.save": "pipeline:define",
  "pipelines.start": "pipeline:run",
  "runs.list": "registry:read",
  "runs.page": "registry:read",
  "runs.get": "registry:read",
  "runs.logs": "registry:read",
  "runs.forVersion": "registry:read",
  "runs.cancel": "pipeline:run",
  "runs.rerun": "pipeline:run",
  "deployments.list": "registry:read",
  "deployments.page": "registry:read",
  "deployments.get": "registry:read",
  "deployments.predictions": "registry:read",
  "deployments.create": "deployment:manage",
  "deployments.setTraffic": "deployment:manage",
  "deployments.promoteCanary": "deployment:manage",
  "deployments.rollback": "deployment:manage",
  "deployments.setStatus": "deployment:manage",
  "deployments.setFollow": "deployment:manage",
  "deployments.rollouts": "registry:read",
  "deployments.rollout": "registry:read",
  "deployments.updateSettings": "deployment:manage",
  "deployments.createKey": "deployment:manage",
  "deployments.revokeKey": "deployment:manage",
  "deployments.tryPredict": "deployment:predict",
  "reviews.list": "registry:read",
  "reviews.page": "registry:read",
  "reviews.get": "registry:read",
  "reviews.open": "review:participate",
  "reviews.updateCard": "review:participate",
  "reviews.withdraw": "review:participate",
  "reviews.rebase": "review:participate",
  "reviews.sign": "review:sign",
  "reviews.signingMethods": "registry:read",
  "reviews.startSsoSignature": "review:sign",
  "reviews.ssoSignatureStatus": "review:sign",
  "reviews.requestChanges": "review:sign",
  "reviews.clearChanges": "review:sign",
  "reviews.comment": "review:participate",
  "reviews.editComment": "review:participate",
  "reviews.resolveThread": "review:participate",
  "reviews.commentHistory": "registry:read",
  "policies.list": "registry:read",
  "policies.save": "workspace:update",
  "policies.decide": "workspace:update",
  "policies.withdraw": "workspace:update",
  "monitoring.overview": "registry:read",
  "monitoring.traffic": "registry:read",
  "monitoring.resources": "registry:read",
  "monitoring.drift": "registry:read",
  "monitoring.computeDrift": "deployment:manage",
  "monitoring.alerts": "registry:read",
  "monitoring.performance": "registry:read",
  "monitoring.saveRule": "deployment:manage",
  "monitoring.acknowledge": "deployment:manage",
  "monitoring.resolveIncident": "deployment:manage",
  "monitoring.reopenIncident": "deployment:manage",
  "monitoring.deleteRule": "deployment:manage",
  "monitoring.incidents": "registry:read",
  "webhooks.list": "workspace:update",
  "webhooks.catalogue": "workspace:update",
  "webhooks.create": "workspace:update",
  "webhooks.update": "workspace:update",
  "webhooks.setEnabled": "workspace:update",
  "webhooks.delete": "workspace:update",
  "webhooks.deliveries": "workspace:update",
  "webhooks.sendTest": "workspace:update",
  "webhooks.redeliver": "workspace:update",
  "tokens.list": "token:create",
  "tokens.create": "token:create",
  "tokens.revoke": "token:create",
  "governance.accessReview": "audit:export",
  "governance.report": "registry:read",
  "governance.frameworks": "workspace:read",
  "governance.setFrameworks": "workspace:update",
  "inventory.list": "registry:read",
  "inventory.get": "registry:read",
  "inventory.questionnaire": "registry:read",
  "inventory.update": "model:write",
  "inventory.recordRevalidation": "inventory:revalidate",
};
const PUBLIC = new Set(["auth.signUp", "invitations.preview"]);
/** instanceAdminProcedure: users.instance_admin, whatever the workspace role. */
const INSTANCE_ADMIN = new Set(["system.status", "instance.settings", "instance.update"]);
const USER_ONLY = new Set([
  "workspaces.list",
  "workspaces.create",
  "invitations.accept",
  "notifications.list",
  "notifications.unreadCount",
  "notifications.markRead",
  "auth.endAllSessions",
  "auth.me",
  "auth.setPassword",
  "accounts.list",
  "accounts.setActive",
]);

function call(path: string, caller: ReturnType<typeof callerFor>, input: unknown) {
  const fn = path.split(".").reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], caller) as (i: unknown) => Promise<unknown>;
  return fn(input);
}

async function outcome(p: Promise<unknown>) {
  try {
    await p;
    return "ok";
  } catch (e) {
    if (e instanceof TRPCError) return e.code;
    throw e;
  }
}

const DENIED = new Set(["UNAUTHORIZED", "FORBIDDEN", "NOT_FOUND"]);
const SELF_CONTAINED_MUTATIONS = new Set(["members.leave"]);

describe("authorization matrix", () => {
  let workspaceId: string;
  const byRole = new Map<Role, CreatedUser>();
  let outsider: CreatedUser;
  let instanceAdmin: CreatedUser;

  beforeAll(async () => {
    const { workspace, owner, members } = await createWorkspace({
      members: ROLES.filter((r) => r !== "owner").map((role) => ({ role })),
    });
    workspaceId = workspace.id;
    byRole.set("owner", owner);
    for (const m of members) byRole.set(m.role, m);
    outsider = (await createWorkspace()).owner;
    instanceAdmin = await createUser();
    await getDb().update(users).set({ instanceAdmin: true }).where(eq(users.id, instanceAdmin.id));
  });

  it("every procedure declares its access, and the expectations cover every procedure", () => {
    expect(procedures.length).toBeGreaterThan(10);
    for (const [path, proc] of procedures) {
      const meta = proc._def.meta;
      expect(meta, `${path} has no access metadata (use publicProcedure, protectedProcedure or workspaceProcedure)`).toBeTruthy();
      if (meta!.auth === "workspace") {
        expect(EXPECTED_PERMISSIONS[path], `${path} is missing from EXPECTED_PERMISSIONS`).toBe(meta!.permission);
      } else if (meta!.auth === "instance") {
        expect(INSTANCE_ADMIN.has(path), `${path} is for instance administrators but not listed as such`).toBe(true);
      } else if (meta!.auth === "public") {
        expect(PUBLIC.has(path), `${path} is public but not listed as such`).toBe(true);
      } else {
        expect(USER_ONLY.has(path), `${path} is user-only but not listed as such`).toBe(true);
      }
    }
  });

  // Input is only { workspaceId }: an allowed call either succeeds or fails validation of
  // its other fields (BAD_REQUEST) — never UNAUTHORIZED, FORBIDDEN or NOT_FOUND.
  for (const [path, proc] of procedures) {
    const meta = proc._def.meta;
    it(`${path}: anonymous is refused unless public`, async () => {
      const code = await outcome(call(path, callerFor(null), { workspaceId: "00000000-0000-4000-8000-000000000000" }));
      if (meta?.auth === "public") expect(["UNAUTHORIZED", "FORBIDDEN"]).not.toContain(code);
      else expect(code).toBe("UNAUTHORIZED");
    });

    if (meta?.auth === "instance") {
      it(`${path}: every workspace role, owner included, is FORBIDDEN; an instance administrator is allowed`, async () => {
        for (const role of ROLES) {
          const user = byRole.get(role)!;
          const code = await outcome(call(path, callerFor(user), { workspaceId }));
          // The instance's first account is its administrator; on a fresh test database that may be one of these.
          if (await isInstanceAdmin(user.id)) expect(DENIED.has(code), `${role} (instance admin) → ${path} gave ${code}`).toBe(false);
          else expect(code, `${role} → ${path}`).toBe("FORBIDDEN");
        }
        const code = await outcome(call(path, callerFor(instanceAdmin), { workspaceId }));
        expect(DENIED.has(code), `instance admin → ${path} gave ${code}`).toBe(false);
      });
      continue;
    }
    if (meta?.auth !== "workspace") continue;
    const permission = meta.permission;

    it(`${path}: a member of another workspace gets NOT_FOUND`, async () => {
      expect(await outcome(call(path, callerFor(outsider), { workspaceId }))).toBe("NOT_FOUND");
    });

    for (const role of ROLES) {
      const allowed = can(role, permission);
      it(`${path}: ${role} is ${allowed ? "allowed" : "FORBIDDEN"}`, async () => {
        // Most mutations fail validation after authorization with only a workspaceId, so
        // the shared fixture never changes; one that needs nothing more gets its own.
        let target = { workspaceId, user: byRole.get(role)! };
        if (SELF_CONTAINED_MUTATIONS.has(path)) {
          const own = await createWorkspace({ members: role === "owner" ? [] : [{ role }] });
          target = { workspaceId: own.workspace.id, user: role === "owner" ? own.owner : own.members[0]! };
        }
        const code = await outcome(call(path, callerFor(target.user), { workspaceId: target.workspaceId }));
        if (allowed) expect(DENIED.has(code), `${role} → ${path} gave ${code}`).toBe(false);
        else expect(code).toBe("FORBIDDEN");
      });
    }
  }
});

describe("permission table", () => {
  it("matches the roles in DESIGN.md for what exists today", () => {
    expect(ROLES.filter((r) => can(r, "member:manage"))).toEqual(["admin", "owner"]);
    expect(ROLES.filter((r) => can(r, "workspace:update"))).toEqual(["admin", "owner"]);
    expect(ROLES.filter((r) => can(r, "audit:export"))).toEqual(["compliance_officer", "admin", "owner"]);
    expect(ROLES.filter((r) => can(r, "workspace:read"))).toEqual([...ROLES]);
  });
});

describe("REST authorization matrix", () => {
  it("covers every REST route: no credentials 401, each role's token allowed or 403, another workspace's token 404", async () => {
    const { REST_ROUTES } = await import("~/server/web/rest/routes");
    const { createToken } = await import("~/server/tokens/tokens.service");
    const { rest } = await import("~/test/rest-client");
    const { workspace, owner, members } = await createWorkspace({ members: ROLES.filter((r) => r !== "owner").map((role) => ({ role })) });
    const other = await createWorkspace();
    const tokens = new Map<Role, string>();
    // Each member makes a token of their own role (no token can exceed its creator's role).
    for (const m of [{ ...owner, role: "owner" as Role }, ...members]) {
      const actor = "wsActor" in m ? m.wsActor : owner.wsActor;
      tokens.set(m.role, (await createToken(actor, { workspaceId: workspace.id, name: m.role, role: m.role })).token);
    }
    const foreign = (await createToken(other.owner.wsActor, { workspaceId: other.workspace.id, name: "o", role: "owner" })).token;
    const fill = (p: string) =>
      p.replace("{workspace}", workspace.slug).replace("{name}", "x").replace("{version}", "1").replace("{alias}", "staging").replace("{number}", "1");
    const guarded = REST_ROUTES.filter((r) => r.permission !== null);
    expect(guarded.length).toBeGreaterThan(8);
    for (const r of guarded) {
      const path = fill(r.path) + (r.path.endsWith("/compare") ? "?a=1&b=2" : "");
      expect((await rest(r.method, path)).status, `${r.method} ${r.path} anonymous`).toBe(401);
      expect((await rest(r.method, path, { token: foreign })).status, `${r.method} ${r.path} foreign token`).toBe(404);
      for (const role of ROLES) {
        const { status } = await rest(r.method, path, { token: tokens.get(role) });
        if (can(role, r.permission!)) expect([401, 403], `${role} → ${r.method} ${r.path} gave ${status}`).not.toContain(status);
        else expect(status, `${role} → ${r.method} ${r.path}`).toBe(403);
      }
    }
  });
});

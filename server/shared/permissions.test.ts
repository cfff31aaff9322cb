import { describe, expect, it } from "vitest";
import { can, PERMISSIONS, permissionReason, ROLE_PERMISSIONS, ROLES, rolesThatCan } from "./permissions";

describe("permissions", () => {
  it("every role can do what a viewer can, and an owner what an admin can (the table's two inheritances)", () => {
    for (const role of ROLES) for (const p of ROLE_PERMISSIONS.viewer) expect(can(role, p), `${role} ${p}`).toBe(true);
    for (const p of ROLE_PERMISSIONS.admin) expect(can("owner", p), `owner ${p}`).toBe(true);
  });

  it("an admin holds every permission but the compliance officer's attestations and deleting the workspace", () => {
    expect(PERMISSIONS.filter((p) => !can("admin", p)).sort()).toEqual(["inventory:revalidate", "review:approve_compliance", "workspace:delete"]);
  });

  it("keeps approvals separate: compliance approval is the compliance officer's alone", () => {
    expect(ROLES.filter((r) => can(r, "review:approve_compliance"))).toEqual(["compliance_officer"]);
    expect(ROLES.filter((r) => can(r, "inventory:revalidate"))).toEqual(["compliance_officer"]);
    expect(can("viewer", "model:write")).toBe(false);
    expect(can("ml_engineer", "review:approve_technical")).toBe(false);
  });

  it("only owners delete the workspace", () => {
    expect(ROLES.filter((r) => can(r, "workspace:delete"))).toEqual(["owner"]);
  });
});

describe("pipelines", () => {
  it("ML engineers and above run and define pipelines; only admins and owners define command steps", () => {
    expect(ROLES.filter((r) => can(r, "pipeline:run"))).toEqual(["ml_engineer", "reviewer", "compliance_officer", "ops", "admin", "owner"]);
    expect(ROLES.filter((r) => can(r, "pipeline:command"))).toEqual(["admin", "owner"]);
  });
});

describe("permissions explained", () => {
  it("names who can do what a role cannot, from the one permission table", () => {
    expect(rolesThatCan("review:sign")).toBe("reviewers, compliance officers, admins and owners");
    expect(rolesThatCan("workspace:delete")).toBe("owners");
    expect(permissionReason("viewer", "review:participate", "open review requests")).toBe(
      `Your role (Viewer) cannot open review requests: ${rolesThatCan("review:participate")} can. An admin or owner can change your role in Settings › Members.`,
    );
  });
});

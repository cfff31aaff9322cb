import { describe, expect, it } from "vitest";
import { can, PERMISSIONS, ROLE_PERMISSIONS, ROLES } from "./permissions";

describe("permissions", () => {
  it("every role reads the workspace and only known permissions are granted", () => {
    for (const role of ROLES) {
      expect(can(role, "workspace:read")).toBe(true);
      for (const p of ROLE_PERMISSIONS[role]) expect(PERMISSIONS).toContain(p);
    }
  });

  it("keeps approvals separate: compliance approval is the compliance officer's alone", () => {
    expect(ROLES.filter((r) => can(r, "review:approve_compliance"))).toEqual(["compliance_officer"]);
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

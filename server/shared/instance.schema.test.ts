import { describe, expect, it } from "vitest";
import { EmailDomain, UpdateInstanceSettingsInput } from "./instance.schema";

describe("instance.schema", () => {
  it("normalises domains (case, a leading @, spaces) and refuses what is not one", () => {
    expect(EmailDomain.parse(" @Example.COM ")).toBe("example.com");
    expect(EmailDomain.parse("mail.acme.co.uk")).toBe("mail.acme.co.uk");
    for (const bad of ["example", "exa mple.com", "user@example.com", "-x.com", "*.example.com", ""]) {
      expect(EmailDomain.safeParse(bad).success, bad).toBe(false);
    }
  });

  it("takes any subset of the settings and refuses unknown keys and values", () => {
    expect(UpdateInstanceSettingsInput.parse({ signupOpen: false })).toEqual({ signupOpen: false });
    expect(UpdateInstanceSettingsInput.safeParse({ workspaceId: "x" }).success).toBe(false);
    expect(UpdateInstanceSettingsInput.safeParse({ commandSteps: "some" }).success).toBe(false);
    expect(UpdateInstanceSettingsInput.safeParse({ workspaceCreation: "owners" }).success).toBe(false);
    expect(UpdateInstanceSettingsInput.safeParse({ commandStepWorkspaces: ["not-a-uuid"] }).success).toBe(false);
  });
});

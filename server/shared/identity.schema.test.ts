import { describe, expect, it } from "vitest";
import { CreateWorkspaceInput, InvitationToken, SignUpInput, slugify } from "./identity.schema";

describe("identity schemas", () => {
  it("normalises e-mail to lower case and trims names", () => {
    const v = SignUpInput.parse({ name: "  Ada ", email: " Ada@Example.COM ", password: "a-long-enough-pass" });
    expect(v).toMatchObject({ name: "Ada", email: "ada@example.com" });
  });

  it("refuses a password containing the e-mail's local part", () => {
    const r = SignUpInput.safeParse({ name: "A", email: "adalovelace@example.com", password: "adalovelace-2026!" });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]).toMatchObject({ path: ["password"], message: expect.stringMatching(/e-mail/) });
  });

  it("slugifies names into valid URL names", () => {
    expect(slugify("Acme Credit Risk!")).toBe("acme-credit-risk");
    expect(CreateWorkspaceInput.safeParse({ name: "x", slug: slugify("Über Team") }).success).toBe(false); // name too short
    expect(CreateWorkspaceInput.parse({ name: "Über Team", slug: slugify("Über Team") }).slug).toMatch(/^[a-z0-9-]+$/);
    expect(slugify("AB")).toMatch(/^ab-[a-z0-9]+$/);
  });

  it("accepts only 43-character base64url invitation tokens", () => {
    expect(InvitationToken.safeParse("a".repeat(43)).success).toBe(true);
    expect(InvitationToken.safeParse("a".repeat(42)).success).toBe(false);
    expect(InvitationToken.safeParse(`${"a".repeat(42)}/`).success).toBe(false);
  });
});

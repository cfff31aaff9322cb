import { describe, expect, it } from "vitest";
import { mentionHandle, mentionTokens, resolveMention } from "./markdown";

const people = [{ email: "Grace@demo.io" }, { email: "alan@demo.io" }, { email: "alan@other.io" }];

describe("mentions", () => {
  it("reads handles and e-mails, lower-cased, trailing dots dropped, once each", () => {
    expect(mentionTokens("@Grace. and (@alan@other.io), again @grace; not an e-mail@example.com")).toEqual(["grace", "alan@other.io"]);
  });
  it("resolves an e-mail exactly and a handle only when one person has it", () => {
    expect(resolveMention("grace", people)).toBe(people[0]);
    expect(resolveMention("alan", people)).toBeNull();
    expect(resolveMention("alan@other.io", people)).toBe(people[2]);
    expect(resolveMention("nobody", people)).toBeNull();
  });
  it("writes the handle when it is unique, else the e-mail", () => {
    expect(mentionHandle(people[0]!, people)).toBe("grace");
    expect(mentionHandle(people[1]!, people)).toBe("alan@demo.io");
  });
});

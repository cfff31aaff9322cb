import { describe, expect, it } from "vitest";
import { firstSecret, parseSecretRing } from "./key-ring";

describe("secret key rings", () => {
  it("parses kid:secret entries in order: the first signs", () => {
    const ring = parseSecretRing(`k2:${"b".repeat(32)}, k1:${"a".repeat(32)}==`);
    expect(ring.map((k) => k.kid)).toEqual(["k2", "k1"]);
    expect(ring[1]!.secret).toBe(`${"a".repeat(32)}==`);
    expect(firstSecret(`k2:${"b".repeat(32)},k1:${"a".repeat(32)}`)).toBe("b".repeat(32));
    expect(firstSecret(undefined)).toBeUndefined();
  });

  it.each([
    ["", /at least one/],
    [`${"a".repeat(40)}`, /kid:secret/],
    [`k.1:${"a".repeat(40)}`, /key id "k.1"/],
    ["k1:short", /at least 32 characters/],
    [`k1:${"a".repeat(40)},k1:${"b".repeat(40)}`, /appears twice/],
  ])("refuses %j", (value, message) => {
    expect(() => parseSecretRing(value)).toThrow(message);
  });
});

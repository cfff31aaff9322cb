import { describe, expect, it } from "vitest";
import { AUDIT_ACTIONS } from "~/server/shared/audit-actions";
import { describeEvent } from "./describe";

describe("describeEvent", () => {
  it("has a sentence for every audit action", () => {
    for (const action of AUDIT_ACTIONS) {
      const s = describeEvent({ action, actorLabel: "ada@x", actorType: "user", changes: null, metadata: null });
      expect(s, action).not.toBe(`ada@x: ${action}`);
    }
  });

  it("says where an alias moved", () => {
    expect(
      describeEvent({
        action: "model.alias_moved",
        actorLabel: "ada@x",
        actorType: "user",
        changes: { production: [1, 2] },
        metadata: { name: "risk", alias: "production" },
      }),
    ).toBe("ada@x pointed risk:production at v2 (was v1)");
  });
});

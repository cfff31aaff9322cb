import { describe, expect, it } from "vitest";
import { decodeCursor, encodeCursor } from "./cursor";

describe("page cursors", () => {
  it("round-trip their key, and are refused by another list, with another type, or tampered with", () => {
    expect(decodeCursor("runs", encodeCursor("runs", 42), "number")).toBe(42);
    expect(decodeCursor("models", encodeCursor("models", "credit-risk"), "string")).toBe("credit-risk");
    for (const bad of [encodeCursor("models", 42), encodeCursor("runs", "42"), "not-a-cursor", "", encodeCursor("runs", 1.5)])
      expect(() => decodeCursor("runs", bad, "number"), bad).toThrow(/cursor is not a cursor of this list/);
  });
});

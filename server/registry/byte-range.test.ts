import { describe, expect, it } from "vitest";
import { parseRange } from "./byte-range";

describe("parseRange", () => {
  it("reads one byte range against the file's size (RFC 9110 §14.1.2)", () => {
    expect(parseRange("bytes=0-99", 1000)).toEqual({ start: 0, end: 99 });
    expect(parseRange("bytes=900-", 1000)).toEqual({ start: 900, end: 999 });
    expect(parseRange("bytes=-10", 1000)).toEqual({ start: 990, end: 999 });
    expect(parseRange("bytes=-5000", 1000)).toEqual({ start: 0, end: 999 });
    expect(parseRange("bytes=990-5000", 1000)).toEqual({ start: 990, end: 999 });
  });

  it("answers the whole file for no range, several ranges, another unit or a reversed one", () => {
    for (const h of [null, "", "bytes=0-1,5-6", "items=0-1", "bytes=-", "bytes=9-3", "bytes=abc"]) expect(parseRange(h, 1000), String(h)).toBeNull();
  });

  it("finds a range past the end, or of nothing, unsatisfiable", () => {
    expect(parseRange("bytes=1000-", 1000)).toBe("unsatisfiable");
    expect(parseRange("bytes=-0", 1000)).toBe("unsatisfiable");
  });
});

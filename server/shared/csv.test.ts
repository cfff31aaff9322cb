import { describe, expect, it } from "vitest";
import { neutraliseCell, safeCsvRow } from "./csv";

describe("neutraliseCell", () => {
  it("prefixes an apostrophe to text starting with = + - @, a tab or a carriage return", () => {
    for (const s of ['=HYPERLINK("http://x")', "+1+2", "-2+3", "@SUM(A1)", "\tcmd", "\r=1"]) expect(neutraliseCell(s)).toBe(`'${s}`);
  });
  it("leaves other text, numbers, dates and empty cells alone", () => {
    expect(neutraliseCell("Credit scoring = retail")).toBe("Credit scoring = retail");
    expect(neutraliseCell("")).toBe("");
    expect(neutraliseCell(365)).toBe(365);
    expect(neutraliseCell(-2)).toBe(-2);
    const d = new Date("2026-01-01T00:00:00Z");
    expect(neutraliseCell(d)).toBe(d);
    expect(neutraliseCell(null)).toBeNull();
  });
  it("neutralises before quoting, so the apostrophe sits inside the quotes", () => {
    expect(safeCsvRow(['=1+1,"x"', -1, "ok"])).toBe(`"'=1+1,""x""",-1,ok\n`);
  });
});

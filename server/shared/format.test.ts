import { describe, expect, it } from "vitest";
import { csvRow, formatBytes } from "./format";

describe("format", () => {
  it("formats bytes", () => {
    expect(formatBytes(512)).toBe("512 bytes");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(2 * 1024 ** 3)).toBe("2.0 GiB");
    expect(formatBytes(300 * 1024 ** 2)).toBe("300 MiB");
  });

  it("quotes CSV cells that need it", () => {
    expect(csvRow(["a", 'say "hi"', "x,y", null, new Date("2026-01-01T00:00:00Z"), { k: 1 }])).toBe(
      'a,"say ""hi""","x,y",,2026-01-01T00:00:00.000Z,"{""k"":1}"\n',
    );
  });
});

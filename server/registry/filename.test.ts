import { describe, expect, it } from "vitest";
import { displayFilename } from "./filename";

describe("displayFilename", () => {
  it("keeps Unicode names, normalised to NFC", () => {
    expect(displayFilename("modèle-数据.onnx")).toBe("modèle-数据.onnx");
    expect(displayFilename("mode\u0300le.onnx")).toBe("modèle.onnx");
    expect(displayFilename("😀.csv")).toBe("😀.csv");
  });
  it("replaces separators, control characters and bidirectional overrides", () => {
    expect(displayFilename("../a\\b\u0000c\u0085d\u202egpj.exe")).toBe(".._a_b_c_d_gpj.exe");
    expect(displayFilename("")).toBe("upload");
  });
  it("keeps the last 200 characters without cutting one in half", () => {
    const name = `${"😀".repeat(250)}.onnx`;
    const kept = displayFilename(name);
    expect(Array.from(kept)).toHaveLength(200);
    expect(kept.endsWith(".onnx")).toBe(true);
    expect(kept).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
    expect(displayFilename("a\ud800b")).toBe("a\ufffdb");
  });
});

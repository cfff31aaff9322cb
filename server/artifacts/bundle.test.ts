import { describe, expect, it } from "vitest";
import { checkExternalRefs, OnnxRejected, type ExternalRef } from "~/workers/inspect/onnx-parse";
import { bundleFilename, bundleKind, findModel, pathProblem } from "./bundle";

describe("the one path rule for entry names and external-data locations", () => {
  it.each([
    ["weights.bin", null],
    ["sub/dir/w.bin", null],
    ["é-ünïcode.bin", null],
    ["", /empty name/],
    ["/etc/passwd", /absolute path/],
    ["C:/x.bin", /drive letter/],
    ["../w.bin", /".." segment/],
    ["a/../../w.bin", /".." segment/],
    ["./w.bin", /"\." segment/],
    ["a//b", /empty segment/],
    ["a/", /empty segment/],
    ["..\\w.bin", /backslash/],
    ["a\u0000b", /control character/],
    ["%2e%2e%2fw.bin", /percent-encoded/],
    ["%252e%252e%252fw.bin", /percent-encoded/],
    ["..%2fw.bin", /percent-encoded/],
    ["*/_ORT_MEM_ADDR_/*", /reserved/],
    ["x".repeat(1025), /longer than 1024/],
    [Array.from({ length: 33 }, () => "d").join("/"), /32 folders deep/],
  ])("%j", (name, expected) => {
    const problem = pathProblem(name);
    if (expected === null) expect(problem).toBeNull();
    else expect(problem).toMatch(expected);
  });
});

describe("bundles", () => {
  it("knows archives by their names and stores them as .tar", () => {
    expect(["m.zip", "m.tar", "m.tar.gz", "m.TGZ", "m.onnx", "m.gz"].map(bundleKind)).toEqual(["zip", "tar", "tgz", "tgz", null, null]);
    expect(["m.zip", "m.tar.gz", "m.tgz", ".zip"].map(bundleFilename)).toEqual(["m.tar", "m.tar", "m.tar", "model.tar"]);
  });

  it("finds model.onnx, or the only .onnx file", () => {
    expect(findModel(["model.onnx", "w.bin"])).toBe("model.onnx");
    expect(findModel(["d/net.onnx", "d/w.bin"])).toBe("d/net.onnx");
    expect(() => findModel(["a.onnx", "b.onnx"])).toThrow(/2 .onnx files/);
    expect(() => findModel(["model.onnx", "b.onnx"])).toThrow(/model.onnx and other .onnx files \("b.onnx"\)/);
    expect(() => findModel(["w.bin"])).toThrow(/no .onnx file/);
  });

  it("checks each location against the bundle's files, relative to the model's folder", () => {
    const ref = (location: string, offset = 0, length: number | null = null, expectedBytes: number | null = 40): ExternalRef => ({
      where: "Initializer",
      tensor: "W",
      location,
      offset,
      length,
      expectedBytes,
    });
    const files = new Map([
      ["d/w.bin", 40],
      ["d/sub/x.bin", 8],
    ]);
    expect([...checkExternalRefs([ref("w.bin"), ref("sub/x.bin", 0, 8)], "d", files)]).toEqual(["w.bin", "sub/x.bin"]);
    const refused = (r: ExternalRef) => {
      try {
        checkExternalRefs([r], "d", files);
      } catch (err) {
        expect(err).toBeInstanceOf(OnnxRejected);
        return (err as Error).message;
      }
      return "accepted";
    };
    expect(refused(ref("d/w.bin"))).toMatch(/"d\/w.bin" that is not a file in the bundle/);
    expect(refused(ref("sub"))).toMatch(/"sub" that is a folder, not a file/);
    expect(refused(ref(""))).toMatch(/empty location/);
    expect(refused(ref("../d/w.bin"))).toMatch(/".." segment/);
    expect(refused(ref("w.bin", 1))).toMatch(/reads bytes 1–41 of "w.bin", which has only 40 bytes/);
    expect(refused(ref("w.bin", 41, null, null))).toMatch(/reads bytes 41–end/);
    expect(refused(ref("w.bin", 0, 41))).toMatch(/reads bytes 0–41/);
  });
});

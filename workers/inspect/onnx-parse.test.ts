import onnxProto, { type onnx as OnnxNs } from "onnx-proto";
import { describe, expect, it } from "vitest";
import { encodeModel, logisticRegressionOnnx } from "~/db/seed/onnx-builder";
import { OnnxRejected, parseOnnx, runtimeReason } from "./onnx-parse";

const { onnx } = onnxProto;
const T = onnx.TensorProto.DataType;

function base(overrides: Partial<OnnxNs.IModelProto> = {}, graph: Partial<OnnxNs.IGraphProto> = {}): OnnxNs.IModelProto {
  return {
    irVersion: 8,
    opsetImport: [{ domain: "", version: 17 }],
    graph: {
      name: "g",
      node: [{ opType: "Relu", input: ["x"], output: ["y"] }],
      input: [{ name: "x", type: { tensorType: { elemType: T.FLOAT, shape: { dim: [{ dimParam: "n" }, { dimValue: 4 }] } } } }],
      output: [{ name: "y", type: { tensorType: { elemType: T.FLOAT, shape: { dim: [{ dimParam: "n" }, { dimValue: 4 }] } } } }],
      ...graph,
    },
    ...overrides,
  };
}

const external = (location: string): OnnxNs.ITensorProto => ({
  name: "W",
  dataType: T.FLOAT,
  dims: [4],
  dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
  externalData: [
    { key: "location", value: location },
    { key: "offset", value: "0" },
    { key: "length", value: "16" },
  ],
});

function nestedIf(depth: number): OnnxNs.IGraphProto {
  let g: OnnxNs.IGraphProto = { name: "leaf", node: [{ opType: "Identity", input: ["x"], output: ["y"] }], output: [{ name: "y" }] };
  for (let i = 0; i < depth; i++) {
    g = {
      name: `level${i}`,
      node: [{ opType: "If", input: ["c"], output: ["y"], attribute: [{ name: "then_branch", type: 5, g }] }],
      output: [{ name: "y" }],
    };
  }
  return g;
}

function reject(bytes: Uint8Array): string {
  try {
    parseOnnx(bytes);
  } catch (err) {
    expect(err).toBeInstanceOf(OnnxRejected);
    return (err as Error).message;
  }
  throw new Error("expected the model to be rejected");
}

describe("parseOnnx on a hostile corpus", () => {
  it("reads a valid model's signature", () => {
    const sig = parseOnnx(logisticRegressionOnnx({ weights: [1, 2], bias: 0, featureNames: ["a", "b"] }));
    expect(sig).toMatchObject({ irVersion: 8, nodeCount: 5, initializerCount: 3, metadata: { feature_names: "a,b" } });
    expect(sig.inputs).toEqual([{ name: "features", elemType: "float", shape: ["batch", 2] }]);
  });

  it("rejects truncated files, random bytes and protobufs that are not a ModelProto", () => {
    const good = logisticRegressionOnnx({ weights: [1, 2], bias: 0 });
    expect(reject(good.subarray(0, good.length - 7))).toMatch(/not a valid ONNX model|no graph/);
    expect(reject(new TextEncoder().encode("GIF89a this is an image, not a model"))).toMatch(/not a valid ONNX model|not an ONNX model/);
    const tensor = onnx.TensorProto.encode({ name: "t", dims: [2], dataType: T.FLOAT, floatData: [1, 2] }).finish();
    expect(reject(tensor)).toMatch(/not (a valid|an) ONNX model/);
  });

  it.each([
    "../../etc/passwd",
    "/etc/passwd",
    "a/../../b",
    "..\\..\\windows\\win.ini",
    "C:\\Windows\\system.ini",
    "%2e%2e%2fetc%2fpasswd",
    "%252e%252e%252fetc%252fpasswd",
    "symlink-to-root/etc/shadow",
    "hardlink.bin",
    "",
    "weights.bin",
  ])("refuses external data at location %j without following it", (location) => {
    expect(reject(encodeModel(base({}, { initializer: [external(location)] })))).toMatch(/external file/);
  });

  it("refuses external data hidden in sparse initializers and attribute tensors", () => {
    const sparse = { values: external("../../x"), indices: { name: "i", dataType: T.INT64, dims: [1], int64Data: [0] }, dims: [4] };
    expect(reject(encodeModel(base({}, { sparseInitializer: [sparse] })))).toMatch(/Sparse initializer .* external file/);
    const node = { opType: "Constant", output: ["c"], attribute: [{ name: "value", type: 4, t: external("/etc/hosts") }] };
    expect(reject(encodeModel(base({}, { node: [node] })))).toMatch(/Attribute tensor .* external file/);
  });

  it("refuses absurd dimensions, a missing IR version and deep nesting", () => {
    const huge = base({}, { input: [{ name: "x", type: { tensorType: { elemType: T.FLOAT, shape: { dim: [{ dimValue: 2 ** 40 }] } } } }] });
    expect(reject(encodeModel(huge))).toMatch(/"x" has an absurd dimension/);
    const bigInit = base({}, { initializer: [{ name: "W", dataType: T.FLOAT, dims: [2 ** 20, 2 ** 20] }] });
    expect(reject(encodeModel(bigInit))).toMatch(/absurd/);
    expect(reject(encodeModel(base({ irVersion: 0 })))).toMatch(/no graph or IR version/);
    expect(
      reject(encodeModel(base({}, { node: [{ opType: "If", input: ["c"], output: ["y"], attribute: [{ name: "then_branch", type: 5, g: nestedIf(40) }] }] }))),
    ).toMatch(/nests subgraphs more than 16 levels|nested too deeply/);
  });
});

describe("parseOnnx leaves IR versions and opsets to onnxruntime", () => {
  it("reads old, new and unknown opsets and IR versions without a range of its own", () => {
    for (const [opset, ir] of [
      [1, 3],
      [6, 3],
      [17, 8],
      [99, 99],
    ] as const) {
      const sig = parseOnnx(encodeModel(base({ irVersion: ir, opsetImport: [{ domain: "", version: opset }] })));
      expect(sig).toMatchObject({ irVersion: ir, opsets: [{ domain: "ai.onnx", version: opset }] });
    }
    expect(parseOnnx(encodeModel(base({ opsetImport: [] }))).opsets).toEqual([]);
  });

  it("runtimeReason keeps onnxruntime's words without its C++ source location", () => {
    const raw =
      "/onnxruntime_src/onnxruntime/core/graph/model_load_utils.h:46 void onnxruntime::model_load_utils::ValidateOpsetForDomain(const std::unordered_map<std::string, int>&, const onnxruntime::logging::Logger&, bool, const std::string&, int) ONNX Runtime only *guarantees* support for models stamped with official released onnx opset versions. Opset 27 is under development.\n";
    expect(runtimeReason(new Error(raw))).toBe(
      "ONNX Runtime only *guarantees* support for models stamped with official released onnx opset versions. Opset 27 is under development.",
    );
    expect(runtimeReason(new Error("Could not find an implementation for Relu(1) node with name ''"))).toBe(
      "Could not find an implementation for Relu(1) node with name ''",
    );
  });
});

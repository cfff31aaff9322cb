import onnxProto, { type onnx as OnnxNs } from "onnx-proto";

// onnx-proto is CommonJS; its named export is not visible to Node's ESM loader.
const { onnx } = onnxProto;

/**
 * Writes small, real ONNX models with onnx-proto: what the demo seed and the tests use
 * instead of downloading anything. A logistic-regression classifier:
 *   features[batch, F] → MatMul W → Add b → Sigmoid → probability[batch, 1]
 *                                              → Greater 0.5 → Cast → label[batch, 1] (int64)
 */
export function logisticRegressionOnnx(opts: {
  weights: number[];
  bias: number;
  featureNames?: string[];
  producerVersion?: string;
  metadata?: Record<string, string>;
  opset?: number;
  irVersion?: number;
  /** Declare the feature dimension symbolic, so a wrong width fails inside onnxruntime at run time. */
  dynamicFeatures?: boolean;
}): Uint8Array {
  const F = opts.weights.length;
  const T = onnx.TensorProto.DataType;
  const tensorType = (elemType: number, dims: (number | string)[]) => ({
    tensorType: {
      elemType,
      shape: { dim: dims.map((d) => (typeof d === "string" ? { dimParam: d } : { dimValue: d })) },
    },
  });
  const graph = onnx.GraphProto.create({
    name: "logistic_regression",
    node: [
      { opType: "MatMul", input: ["features", "W"], output: ["logits_raw"], name: "matmul" },
      { opType: "Add", input: ["logits_raw", "b"], output: ["logits"], name: "add_bias" },
      { opType: "Sigmoid", input: ["logits"], output: ["probability"], name: "sigmoid" },
      { opType: "Greater", input: ["probability", "threshold"], output: ["is_positive"], name: "threshold" },
      {
        opType: "Cast",
        input: ["is_positive"],
        output: ["label"],
        name: "to_label",
        attribute: [{ name: "to", type: onnx.AttributeProto.AttributeType.INT, i: T.INT64 }],
      },
    ],
    initializer: [
      { name: "W", dataType: T.FLOAT, dims: [F, 1], floatData: opts.weights },
      { name: "b", dataType: T.FLOAT, dims: [1], floatData: [opts.bias] },
      { name: "threshold", dataType: T.FLOAT, dims: [1], floatData: [0.5] },
    ],
    input: [{ name: "features", type: tensorType(T.FLOAT, ["batch", opts.dynamicFeatures ? "features" : F]) }],
    output: [
      { name: "probability", type: tensorType(T.FLOAT, ["batch", 1]) },
      { name: "label", type: tensorType(T.INT64, ["batch", 1]) },
    ],
  });
  const model = onnx.ModelProto.create({
    irVersion: opts.irVersion ?? 8,
    opsetImport: [{ domain: "", version: opts.opset ?? 17 }],
    producerName: "steward-seed",
    producerVersion: opts.producerVersion ?? "1",
    graph,
    metadataProps: Object.entries({
      ...(opts.featureNames ? { feature_names: opts.featureNames.join(",") } : {}),
      ...opts.metadata,
    }).map(([key, value]) => ({ key, value })),
  });
  return onnx.ModelProto.encode(model).finish();
}

/** Encodes an arbitrary (possibly hostile) ModelProto: for the rejection corpus in tests. */
export function encodeModel(model: OnnxNs.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/**
 * A dense ReLU network, x[batch, sizes[0]] → … → y[batch, sizes.at(-1)], with seeded
 * weights: a model with a realistic amount of compute for the inference benches.
 */
export function mlpOnnx(sizes: number[], seed = 1): Uint8Array {
  const T = onnx.TensorProto.DataType;
  let s = seed;
  const rand = () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x7fffffff - 0.5;
  };
  const nodes: OnnxNs.INodeProto[] = [];
  const inits: OnnxNs.ITensorProto[] = [];
  let prev = "x";
  for (let i = 0; i < sizes.length - 1; i++) {
    const [a, b] = [sizes[i]!, sizes[i + 1]!];
    const scale = Math.sqrt(2 / a);
    inits.push({ name: `W${i}`, dataType: T.FLOAT, dims: [a, b], floatData: Array.from({ length: a * b }, () => rand() * scale) });
    inits.push({ name: `b${i}`, dataType: T.FLOAT, dims: [b], floatData: new Array<number>(b).fill(0) });
    nodes.push({ opType: "MatMul", input: [prev, `W${i}`], output: [`m${i}`] });
    const last = i === sizes.length - 2;
    nodes.push({ opType: "Add", input: [`m${i}`, `b${i}`], output: [last ? "y" : `a${i}`] });
    if (!last) nodes.push({ opType: "Relu", input: [`a${i}`], output: [`h${i}`] });
    prev = `h${i}`;
  }
  const vi = (name: string, n: number) => ({ name, type: { tensorType: { elemType: T.FLOAT, shape: { dim: [{ dimParam: "batch" }, { dimValue: n }] } } } });
  const graph = onnx.GraphProto.create({ name: "mlp", node: nodes, initializer: inits, input: [vi("x", sizes[0]!)], output: [vi("y", sizes.at(-1)!)] });
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: "", version: 17 }], producerName: "steward-bench", graph }),
  ).finish();
}

/**
 * Writes a valid ONNX model of about `bytes` bytes to `file` without holding it in memory:
 * one float initializer W of `bytes / 4` seeded values, y[n] = x[n] + ReduceSum(W). The
 * small parts are encoded with onnx-proto; W's raw_data is streamed in after its field
 * header (protobuf fields may be written in pieces like this: it is the same encoding).
 * For tests and benches of large uploads, generated on the fly.
 */
export async function writeLargeOnnx(file: string, bytes: number, seed = 1): Promise<void> {
  const fs = await import("node:fs");
  const T = onnx.TensorProto.DataType;
  const n = Math.max(1, Math.floor(bytes / 4));
  const vi = (name: string) => ({ name, type: { tensorType: { elemType: T.FLOAT, shape: { dim: [{ dimParam: "n" }] } } } });
  const graph = onnx.GraphProto.encode(
    onnx.GraphProto.create({
      name: "large",
      node: [
        { opType: "ReduceSum", input: ["W"], output: ["s"], attribute: [{ name: "keepdims", type: onnx.AttributeProto.AttributeType.INT, i: 0 }] },
        { opType: "Add", input: ["x", "s"], output: ["y"] },
      ],
      input: [vi("x")],
      output: [vi("y")],
    }),
  ).finish();
  const header = onnx.ModelProto.encode(
    onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: "", version: 17 }], producerName: "steward-large" }),
  ).finish();
  const tensorHead = onnx.TensorProto.encode(onnx.TensorProto.create({ name: "W", dataType: T.FLOAT, dims: [n] })).finish();
  const varint = (v: number) => {
    const out: number[] = [];
    while (v > 127) {
      out.push((v % 128) | 128);
      v = Math.floor(v / 128);
    }
    out.push(v);
    return Buffer.from(out);
  };
  const raw = n * 4;
  const rawField = Buffer.concat([Buffer.from([(9 << 3) | 2]), varint(raw)]); // TensorProto.raw_data = 9
  const tensorLen = tensorHead.length + rawField.length + raw;
  const initField = Buffer.concat([Buffer.from([(5 << 3) | 2]), varint(tensorLen)]); // GraphProto.initializer = 5
  const graphLen = graph.length + initField.length + tensorLen;
  const graphField = Buffer.concat([Buffer.from([(7 << 3) | 2]), varint(graphLen)]); // ModelProto.graph = 7
  const out = fs.createWriteStream(file);
  const write = (b: Uint8Array) => (out.write(b) ? Promise.resolve() : new Promise<void>((r) => out.once("drain", () => r())));
  for (const b of [header, graphField, graph, initField, tensorHead, rawField]) await write(b);
  let s = seed;
  const chunk = new Float32Array(256 * 1024);
  for (let left = n; left > 0; left -= chunk.length) {
    const k = Math.min(left, chunk.length);
    for (let i = 0; i < k; i++) {
      s = (s * 1103515245 + 12345) & 0x7fffffff;
      chunk[i] = s / 0x7fffffff - 0.5;
    }
    await write(Buffer.from(chunk.buffer, 0, k * 4));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

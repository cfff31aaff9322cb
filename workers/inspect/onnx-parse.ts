import onnxProto, { type onnx as OnnxNs } from "onnx-proto";

// onnx-proto is CommonJS; its named export is not visible to Node's ESM loader.
const { onnx } = onnxProto;

import type { OnnxSignature, OnnxValueInfo } from "~/db/schema/registry";

/**
 * Reads an ONNX file without trusting it. Pure (no onnxruntime): decodes the ModelProto
 * and extracts the signature, refusing external data (a single uploaded file has no
 * folder to resolve it against, so no location is ever followed), absurd dimensions,
 * unsupported IR versions and opsets, and graphs nested too deep.
 */
export class OnnxRejected extends Error {}

export const LIMITS = {
  irVersion: { min: 3, max: 12 },
  defaultOpset: { min: 7, max: 24 },
  maxGraphDepth: 16,
  maxNodes: 1_000_000,
  maxDim: 2 ** 31 - 1,
  maxTensorElements: 2 ** 34,
};

const ELEM = Object.fromEntries(Object.entries(onnx.TensorProto.DataType).map(([k, v]) => [v, k.toLowerCase()])) as Record<number, string>;
const ELEM_BYTES: Record<number, number> = { 1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 14: 8, 15: 16, 16: 2 };

// int64 fields arrive as numbers or Long objects.
const num = (v: unknown) => (v === null || v === undefined ? 0 : typeof v === "number" ? v : Number((v as { toString(): string }).toString()));
const safe = (s: string) => JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);

function typeInfo(name: string, t: OnnxNs.ITypeProto | null | undefined): OnnxValueInfo {
  if (t?.tensorType) {
    const dims = t.tensorType.shape?.dim?.map((d) => {
      if (d.dimParam) return d.dimParam;
      if (d.dimValue === null || d.dimValue === undefined) return null;
      const v = num(d.dimValue);
      if (v < 0 || v > LIMITS.maxDim) throw new OnnxRejected(`${safe(name)} has an absurd dimension (${v}).`);
      return v;
    });
    return { name, elemType: ELEM[t.tensorType.elemType ?? 0] ?? "undefined", shape: dims ?? null };
  }
  if (t?.sequenceType) return { name, elemType: "sequence", shape: null };
  if (t?.mapType) return { name, elemType: "map", shape: null };
  if (t?.optionalType) return { name, elemType: "optional", shape: null };
  return { name, elemType: "undefined", shape: null };
}

function checkTensor(t: OnnxNs.ITensorProto | null | undefined, where: string): number {
  if (!t) return 0;
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL || (t.externalData?.length ?? 0) > 0) {
    const location = t.externalData?.find((e) => e.key === "location")?.value ?? "";
    throw new OnnxRejected(
      `${where} ${safe(t.name ?? "")} stores its data in an external file${location ? ` (${safe(location)})` : ""}. Upload a single self-contained .onnx file (save with all tensors inside it).`,
    );
  }
  let elements = 1;
  for (const d of t.dims ?? []) {
    const v = num(d);
    if (v < 0 || v > LIMITS.maxDim) throw new OnnxRejected(`${where} ${safe(t.name ?? "")} has an absurd dimension (${v}).`);
    elements *= v;
  }
  if (elements > LIMITS.maxTensorElements) throw new OnnxRejected(`${where} ${safe(t.name ?? "")} declares ${elements} elements, which is absurd.`);
  if (t.rawData?.length) return t.rawData.length;
  const n = (t.floatData?.length ?? 0) + (t.int32Data?.length ?? 0) + (t.int64Data?.length ?? 0) + (t.doubleData?.length ?? 0) + (t.uint64Data?.length ?? 0);
  return n * (ELEM_BYTES[t.dataType ?? 0] ?? 0) + (t.stringData ?? []).reduce((a, b) => a + b.length, 0);
}

type Walk = { opCounts: Record<string, number>; nodeCount: number; initializerBytes: number; initializerCount: number };

function walkGraph(g: OnnxNs.IGraphProto, depth: number, acc: Walk) {
  if (depth > LIMITS.maxGraphDepth) throw new OnnxRejected(`The model nests subgraphs more than ${LIMITS.maxGraphDepth} levels deep.`);
  for (const t of g.initializer ?? []) {
    acc.initializerBytes += checkTensor(t, "Initializer");
    acc.initializerCount++;
  }
  for (const s of g.sparseInitializer ?? []) {
    acc.initializerBytes += checkTensor(s.values, "Sparse initializer") + checkTensor(s.indices, "Sparse initializer indices");
    acc.initializerCount++;
  }
  for (const n of g.node ?? []) {
    acc.nodeCount++;
    if (acc.nodeCount > LIMITS.maxNodes) throw new OnnxRejected(`The model has more than ${LIMITS.maxNodes} nodes.`);
    const op = n.domain && n.domain !== "ai.onnx" ? `${n.domain}.${n.opType ?? "?"}` : (n.opType ?? "?");
    acc.opCounts[op] = (acc.opCounts[op] ?? 0) + 1;
    for (const a of n.attribute ?? []) {
      checkTensor(a.t, "Attribute tensor");
      for (const t of a.tensors ?? []) checkTensor(t, "Attribute tensor");
      if (a.sparseTensor) {
        checkTensor(a.sparseTensor.values, "Sparse attribute");
        checkTensor(a.sparseTensor.indices, "Sparse attribute indices");
      }
      if (a.g) walkGraph(a.g, depth + 1, acc);
      for (const sg of a.graphs ?? []) walkGraph(sg, depth + 1, acc);
    }
  }
}

export function parseOnnx(bytes: Uint8Array): Omit<OnnxSignature, "runtime"> {
  let model: OnnxNs.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    if (err instanceof RangeError && /call stack/i.test(err.message)) {
      throw new OnnxRejected("The model is nested too deeply to be read.");
    }
    throw new OnnxRejected("The file is not a valid ONNX model: it could not be decoded (truncated, or not an ONNX file).");
  }
  const ir = num(model.irVersion);
  if (!model.graph || !ir) {
    throw new OnnxRejected("The file is not an ONNX model: it has no graph or IR version.");
  }
  if (ir < LIMITS.irVersion.min || ir > LIMITS.irVersion.max) {
    throw new OnnxRejected(`ONNX IR version ${ir} is not supported (supported: ${LIMITS.irVersion.min} to ${LIMITS.irVersion.max}).`);
  }
  const opsets = (model.opsetImport ?? []).map((o) => ({ domain: o.domain || "ai.onnx", version: num(o.version) }));
  if (opsets.length === 0) throw new OnnxRejected("The model declares no opset; it is not a valid ONNX model.");
  const main = opsets.find((o) => o.domain === "ai.onnx");
  if (main && (main.version < LIMITS.defaultOpset.min || main.version > LIMITS.defaultOpset.max)) {
    throw new OnnxRejected(
      `Opset ai.onnx ${main.version} is not supported (supported: ${LIMITS.defaultOpset.min} to ${LIMITS.defaultOpset.max}).`,
    );
  }
  const acc: Walk = { opCounts: {}, nodeCount: 0, initializerBytes: 0, initializerCount: 0 };
  walkGraph(model.graph, 0, acc);
  const initNames = new Set((model.graph.initializer ?? []).map((t) => t.name));
  return {
    irVersion: ir,
    opsets,
    producer: { name: model.producerName ?? "", version: model.producerVersion ?? "" },
    graphName: model.graph.name ?? "",
    inputs: (model.graph.input ?? []).filter((i) => !initNames.has(i.name)).map((i) => typeInfo(i.name ?? "", i.type)),
    outputs: (model.graph.output ?? []).map((o) => typeInfo(o.name ?? "", o.type)),
    opCounts: acc.opCounts,
    nodeCount: acc.nodeCount,
    initializerBytes: acc.initializerBytes,
    initializerCount: acc.initializerCount,
    metadata: Object.fromEntries((model.metadataProps ?? []).map((p) => [p.key ?? "", p.value ?? ""])),
  };
}

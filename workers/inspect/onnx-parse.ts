import onnxProto, { type onnx as OnnxNs } from "onnx-proto";

// onnx-proto is CommonJS; its named export is not visible to Node's ESM loader.
const { onnx } = onnxProto;

import type { OnnxSignature, OnnxValueInfo } from "~/db/schema/registry";
import { pathProblem } from "~/server/artifacts/bundle";

/**
 * Reads an ONNX file without trusting it. Pure (no onnxruntime): decodes the ModelProto
 * and extracts the signature, refusing external data (a single uploaded file has no
 * folder to resolve it against, so no location is ever followed), absurd dimensions
 * and graphs nested too deep: what would make reading it unsafe. Whether it runs is
 * onnxruntime's answer, not ours (onnx-child.ts).
 */
export class OnnxRejected extends Error {}

/**
 * onnxruntime's reason for refusing a model, as a user reads it: its first lines without the
 * C++ source location and function signature some of its errors start with.
 */
export function runtimeReason(err: unknown): string {
  // Colour codes (ESC [ … m) when the runtime writes for a terminal.
  const raw = (err instanceof Error ? err.message : String(err)).replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g"), "").trim();
  const text = raw
    .replace(/^\/\S+:\d+ .*?\)\s+(?=[A-Z])/s, "")
    .replace(/\s+/g, " ")
    .trim();
  return text.length > 600 ? `${text.slice(0, 600)}…` : text;
}

export const LIMITS = {
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

/** A tensor whose bytes live in a file beside the model (only accepted in a bundle). */
export type ExternalRef = { where: string; tensor: string; location: string; offset: number; length: number | null; expectedBytes: number | null };

const EXTERNAL_KEYS = new Set(["location", "offset", "length", "checksum"]);

function externalRef(t: OnnxNs.ITensorProto, where: string, expectedBytes: number | null): ExternalRef {
  const label = `${where} ${safe(t.name ?? "")}`;
  if (t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL)
    throw new OnnxRejected(`${label} has external-data entries but its data_location is not EXTERNAL.`);
  const kv = new Map<string, string>();
  for (const e of t.externalData ?? []) {
    const key = e.key ?? "";
    // A repeated key could mean one thing to this check and another to the runtime.
    if (kv.has(key)) throw new OnnxRejected(`${label} names its external-data ${safe(key)} twice.`);
    if (!EXTERNAL_KEYS.has(key)) throw new OnnxRejected(`${label} has an unknown external-data key ${safe(key)}.`);
    kv.set(key, e.value ?? "");
  }
  const int = (key: string) => {
    const v = kv.get(key);
    if (v === undefined) return null;
    if (!/^\d{1,15}$/.test(v)) throw new OnnxRejected(`${label} has an external-data ${key} that is not a whole number (${safe(v)}).`);
    return Number(v);
  };
  return { where, tensor: t.name ?? "", location: kv.get("location") ?? "", offset: int("offset") ?? 0, length: int("length"), expectedBytes };
}

function checkTensor(t: OnnxNs.ITensorProto | null | undefined, where: string, external: ExternalRef[] | null): number {
  if (!t) return 0;
  let elements = 1;
  for (const d of t.dims ?? []) {
    const v = num(d);
    if (v < 0 || v > LIMITS.maxDim) throw new OnnxRejected(`${where} ${safe(t.name ?? "")} has an absurd dimension (${v}).`);
    elements *= v;
  }
  if (elements > LIMITS.maxTensorElements) throw new OnnxRejected(`${where} ${safe(t.name ?? "")} declares ${elements} elements, which is absurd.`);
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL || (t.externalData?.length ?? 0) > 0) {
    if (!external) {
      const location = t.externalData?.find((e) => e.key === "location")?.value ?? "";
      throw new OnnxRejected(
        `${where} ${safe(t.name ?? "")} stores its data in an external file${location ? ` (${safe(location)})` : ""}. Upload a single self-contained .onnx file (save with all tensors inside it), or a .zip or .tar bundle holding the model and its data files.`,
      );
    }
    const width = ELEM_BYTES[t.dataType ?? 0];
    const ref = externalRef(t, where, width && t.dataType !== 8 ? elements * width : null);
    external.push(ref);
    return ref.length ?? ref.expectedBytes ?? 0;
  }
  if (t.rawData?.length) return t.rawData.length;
  const n = (t.floatData?.length ?? 0) + (t.int32Data?.length ?? 0) + (t.int64Data?.length ?? 0) + (t.doubleData?.length ?? 0) + (t.uint64Data?.length ?? 0);
  return n * (ELEM_BYTES[t.dataType ?? 0] ?? 0) + (t.stringData ?? []).reduce((a, b) => a + b.length, 0);
}

type Walk = { opCounts: Record<string, number>; nodeCount: number; initializerBytes: number; initializerCount: number; external: ExternalRef[] | null };

function walkGraph(g: OnnxNs.IGraphProto, depth: number, acc: Walk) {
  if (depth > LIMITS.maxGraphDepth) throw new OnnxRejected(`The model nests subgraphs more than ${LIMITS.maxGraphDepth} levels deep.`);
  for (const t of g.initializer ?? []) {
    acc.initializerBytes += checkTensor(t, "Initializer", acc.external);
    acc.initializerCount++;
  }
  for (const s of g.sparseInitializer ?? []) {
    acc.initializerBytes += checkTensor(s.values, "Sparse initializer", acc.external) + checkTensor(s.indices, "Sparse initializer indices", acc.external);
    acc.initializerCount++;
  }
  for (const n of g.node ?? []) {
    acc.nodeCount++;
    if (acc.nodeCount > LIMITS.maxNodes) throw new OnnxRejected(`The model has more than ${LIMITS.maxNodes} nodes.`);
    const op = n.domain && n.domain !== "ai.onnx" ? `${n.domain}.${n.opType ?? "?"}` : (n.opType ?? "?");
    acc.opCounts[op] = (acc.opCounts[op] ?? 0) + 1;
    for (const a of n.attribute ?? []) {
      checkTensor(a.t, "Attribute tensor", acc.external);
      for (const t of a.tensors ?? []) checkTensor(t, "Attribute tensor", acc.external);
      if (a.sparseTensor) {
        checkTensor(a.sparseTensor.values, "Sparse attribute", acc.external);
        checkTensor(a.sparseTensor.indices, "Sparse attribute indices", acc.external);
      }
      if (a.g) walkGraph(a.g, depth + 1, acc);
      for (const sg of a.graphs ?? []) walkGraph(sg, depth + 1, acc);
    }
  }
}

/**
 * `external`: when given (a bundle), tensors stored in external files are collected there
 * instead of refused; their locations are checked by checkExternalRefs.
 */
export function parseOnnx(bytes: Uint8Array, external: ExternalRef[] | null = null): Omit<OnnxSignature, "runtime"> {
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
  // IR versions and opsets are onnxruntime's to judge (onnx-child.ts loads every model): a
  // range of our own refused old models the runtime runs, and named no real reason.
  const opsets = (model.opsetImport ?? []).map((o) => ({ domain: o.domain || "ai.onnx", version: num(o.version) }));
  const acc: Walk = { opCounts: {}, nodeCount: 0, initializerBytes: 0, initializerCount: 0, external };
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

/**
 * Every external-data location must name a regular file of the bundle, relative to the
 * model's folder, with its bytes inside that file. `files`: the bundle's regular files
 * (paths relative to the bundle's top) and their sizes; `modelDir`: the model's folder
 * ("" at the top). Returns the referenced files, relative to the model's folder.
 */
export function checkExternalRefs(refs: ExternalRef[], modelDir: string, files: Map<string, number>): Set<string> {
  const used = new Set<string>();
  for (const r of refs) {
    const label = `${r.where} ${safe(r.tensor)}`;
    if (r.location === "") throw new OnnxRejected(`${label} stores its data externally with an empty location.`);
    const problem = pathProblem(r.location);
    if (problem) throw new OnnxRejected(`${label} has an external-data location ${safe(r.location)} that ${problem}; it was refused.`);
    const full = modelDir ? `${modelDir}/${r.location}` : r.location;
    const size = files.get(full);
    if (size === undefined) {
      const isDir = [...files.keys()].some((f) => f.startsWith(`${full}/`));
      throw new OnnxRejected(
        `${label} has an external-data location ${safe(r.location)} that ${isDir ? "is a folder, not a file" : "is not a file in the bundle"}.`,
      );
    }
    const length = r.length ?? r.expectedBytes;
    if (r.offset > size || (length !== null && r.offset + length > size)) {
      throw new OnnxRejected(
        `${label} reads bytes ${r.offset}–${length === null ? "end" : r.offset + length} of ${safe(r.location)}, which has only ${size} bytes (offset/length outside the file).`,
      );
    }
    used.add(r.location);
  }
  return used;
}

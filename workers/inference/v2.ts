import os from "node:os";
import type { OnnxSignature, OnnxValueInfo } from "~/db/schema/registry";
import {
  batchRows,
  checkDims,
  checkInputNames,
  flatJson,
  InputError,
  MAX_RANK,
  ortTypeOf,
  SUPPORTED,
  typed,
  type ParsedRequest,
  type TensorData,
} from "~/server/shared/tensors";

/*
 * The Open Inference Protocol (KServe v2, Triton's HTTP/REST) as a codec: a request's
 * bytes → typed tensors checked against a version's signature, and outputs → the answer's
 * bytes. JSON tensors follow Steward's own encoding (int64 beyond ±2^53 as strings of
 * digits, NaN and the infinities by name); the binary tensor data extension carries raw
 * little-endian bytes after the JSON header (Inference-Header-Content-Length), so a tensor
 * costs its size and no parsing. Serving itself (credentials, routing, logging, metrics) is
 * the same function as Steward's predict.
 */

/** ONNX element type → the protocol's datatype. */
export const V2_DATATYPE: Record<string, string> = {
  float: "FP32",
  double: "FP64",
  float16: "FP16",
  bfloat16: "BF16",
  int8: "INT8",
  int16: "INT16",
  int32: "INT32",
  int64: "INT64",
  uint8: "UINT8",
  uint16: "UINT16",
  uint32: "UINT32",
  uint64: "UINT64",
  bool: "BOOL",
  string: "BYTES",
};
const ELEM_OF = Object.fromEntries(Object.entries(V2_DATATYPE).map(([e, d]) => [d, e]));
const ORT_OF = { float32: "float", float64: "double" } as Record<string, string>;
/** Bytes per element in the binary extension (BYTES: a 4-byte length before each element). */
const SIZE: Record<string, number> = {
  FP32: 4,
  FP64: 8,
  FP16: 2,
  BF16: 2,
  INT8: 1,
  INT16: 2,
  INT32: 4,
  INT64: 8,
  UINT8: 1,
  UINT16: 2,
  UINT32: 4,
  UINT64: 8,
  BOOL: 1,
};
const ARRAY = {
  FP32: Float32Array,
  FP64: Float64Array,
  FP16: Uint16Array,
  BF16: Uint16Array,
  INT8: Int8Array,
  INT16: Int16Array,
  INT32: Int32Array,
  INT64: BigInt64Array,
  UINT8: Uint8Array,
  UINT16: Uint16Array,
  UINT32: Uint32Array,
  UINT64: BigUint64Array,
  BOOL: Uint8Array,
} as const;

// The extension is little-endian; typed arrays use the host's order. Every platform
// onnxruntime-node ships for is little-endian, so the bytes are the array.
if (os.endianness() !== "LE") throw new Error("The binary tensor data extension needs a little-endian host.");

export class V2Error extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type V2Input = { name: string; datatype: string; shape: number[]; data?: unknown; binary?: Buffer };
export type V2Request = {
  id?: string;
  parameters: Record<string, unknown>;
  inputs: V2Input[];
  /** The outputs asked for, in order (null: all of them, as JSON unless binary_data_output). */
  outputs: { name: string; binary: boolean }[] | null;
  binaryOutput: boolean;
};

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v);
const params = (v: unknown, where: string) => {
  if (v === undefined) return {};
  if (!isObject(v)) throw new V2Error(400, `${where}: "parameters" must be an object.`);
  return v;
};

/**
 * The request's JSON and, with the binary extension (`headerLength` from
 * Inference-Header-Content-Length), each input's bytes, in input order. Shape problems of
 * the request itself are 400s here; what the model takes is checked by `decodeV2`.
 */
export function parseV2Request(body: Buffer, headerLength: string | undefined): V2Request {
  let jsonBytes = body;
  let binary: Buffer | null = null;
  if (headerLength !== undefined) {
    const n = /^\d{1,15}$/.test(headerLength.trim()) ? Number(headerLength) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < 2 || n > body.length)
      throw new V2Error(
        400,
        `Inference-Header-Content-Length is ${JSON.stringify(headerLength.slice(0, 30))}; expected the length of the JSON header, at most the body's ${body.length} bytes.`,
      );
    jsonBytes = body.subarray(0, n);
    binary = body.subarray(n);
  }
  let json: unknown;
  try {
    json = JSON.parse(jsonBytes.toString("utf8"));
  } catch {
    throw new V2Error(
      400,
      binary
        ? "The JSON header (the first Inference-Header-Content-Length bytes) is not valid JSON."
        : "The body is not valid JSON. (Sending binary tensors? Set Inference-Header-Content-Length to the JSON header's length.)",
    );
  }
  if (!isObject(json)) throw new V2Error(400, 'The request must be a JSON object with "inputs".');
  const extra = Object.keys(json).filter((k) => !["id", "parameters", "inputs", "outputs", "model_name", "model_version"].includes(k));
  if (extra.length)
    throw new V2Error(
      400,
      `Unknown field${extra.length > 1 ? "s" : ""} ${extra.map((k) => `"${k}"`).join(", ")} in the inference request (id, parameters, inputs, outputs).`,
    );
  if (json.id !== undefined && typeof json.id !== "string") throw new V2Error(400, '"id" must be a string.');
  const parameters = params(json.parameters, "The request");
  if (!Array.isArray(json.inputs) || json.inputs.length === 0)
    throw new V2Error(400, '"inputs" must be a non-empty list of tensors ({ name, shape, datatype, data }).');
  let offset = 0;
  const seen = new Set<string>();
  const inputs = json.inputs.map((raw: unknown, i): V2Input => {
    if (!isObject(raw)) throw new V2Error(400, `inputs[${i}] must be an object { name, shape, datatype, data }.`);
    const name = raw.name;
    if (typeof name !== "string" || !name) throw new V2Error(400, `inputs[${i}] has no "name".`);
    if (seen.has(name)) throw new V2Error(400, `Input "${name}" is given twice.`);
    seen.add(name);
    const datatype = raw.datatype;
    if (typeof datatype !== "string" || !(datatype in ELEM_OF))
      throw new V2Error(
        400,
        `Input "${name}" has datatype ${JSON.stringify(datatype)?.slice(0, 30) ?? "missing"}; expected one of ${Object.keys(ELEM_OF).join(", ")}.`,
      );
    const shape = raw.shape;
    if (!Array.isArray(shape) || shape.length > MAX_RANK || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0))
      throw new V2Error(
        400,
        `Input "${name}" has shape ${Array.isArray(shape) && shape.length > MAX_RANK ? `of rank ${shape.length}` : JSON.stringify(shape)?.slice(0, 60)}; expected a list of at most ${MAX_RANK} non-negative integers.`,
      );
    const p = params(raw.parameters, `Input "${name}"`);
    const size = p.binary_data_size;
    if (size !== undefined) {
      if (!binary)
        throw new V2Error(400, `Input "${name}" has binary_data_size but the request has no Inference-Header-Content-Length header, so no binary section.`);
      if (!Number.isSafeInteger(size) || (size as number) < 0)
        throw new V2Error(400, `Input "${name}" has binary_data_size ${JSON.stringify(size)?.slice(0, 30)}; expected a number of bytes.`);
      if (raw.data !== undefined) throw new V2Error(400, `Input "${name}" has both "data" and binary_data_size; send one.`);
      if (offset + (size as number) > binary.length)
        throw new V2Error(400, `Input "${name}" declares ${size as number} binary bytes but only ${binary.length - offset} remain after the JSON header.`);
      const bytes = binary.subarray(offset, offset + (size as number));
      offset += size as number;
      return { name, datatype, shape: shape as number[], binary: bytes };
    }
    if (raw.data === undefined) throw new V2Error(400, `Input "${name}" has no "data" (or binary_data_size with the binary extension).`);
    return { name, datatype, shape: shape as number[], data: raw.data };
  });
  if (binary && offset !== binary.length)
    throw new V2Error(400, `The binary section holds ${binary.length} bytes after the JSON header but the inputs' binary_data_size add up to ${offset}.`);
  if (parameters.binary_data_output !== undefined && typeof parameters.binary_data_output !== "boolean")
    throw new V2Error(400, "binary_data_output must be true or false.");
  const binaryOutput = parameters.binary_data_output === true;
  let outputs: V2Request["outputs"] = null;
  if (json.outputs !== undefined) {
    if (!Array.isArray(json.outputs)) throw new V2Error(400, '"outputs" must be a list of { name, parameters }.');
    outputs = json.outputs.map((o: unknown, i) => {
      if (!isObject(o) || typeof o.name !== "string") throw new V2Error(400, `outputs[${i}] must be an object with a "name".`);
      const op = params(o.parameters, `Output "${o.name}"`);
      if (op.binary_data !== undefined && typeof op.binary_data !== "boolean") throw new V2Error(400, `Output "${o.name}": binary_data must be true or false.`);
      // binary_data on an output overrides the request's binary_data_output.
      return { name: o.name, binary: typeof op.binary_data === "boolean" ? op.binary_data : binaryOutput };
    });
  }
  return { id: json.id, parameters, inputs, outputs, binaryOutput };
}

/** Nested or flat JSON data, flattened row-major; refuses deeper nesting than the shape's rank. */
function flatten(data: unknown, name: string, rank: number): unknown[] {
  if (!Array.isArray(data)) return [data];
  const out: unknown[] = [];
  const walk = (v: unknown[], depth: number) => {
    if (depth > Math.max(rank, 1)) throw new InputError(`Input "${name}" nests its data ${depth} lists deep; its shape has rank ${rank}.`, name);
    for (const x of v)
      if (Array.isArray(x)) walk(x, depth + 1);
      else out.push(x);
  };
  walk(data, 1);
  return out;
}

/** BYTES elements in binary: a little-endian uint32 length, then that many bytes (UTF-8 here). */
function readBytesElements(buf: Buffer, count: number, name: string): string[] {
  const out: string[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 4 > buf.length)
      throw new InputError(`Input "${name}" binary data ends inside element ${i}'s length (BYTES elements are a 4-byte length, then the bytes).`, name);
    const n = buf.readUInt32LE(at);
    at += 4;
    if (at + n > buf.length) throw new InputError(`Input "${name}" element ${i} declares ${n} bytes but only ${buf.length - at} remain.`, name);
    out.push(buf.toString("utf8", at, at + n));
    at += n;
  }
  if (at !== buf.length) throw new InputError(`Input "${name}" has ${buf.length - at} bytes after its ${count} BYTES elements.`, name);
  return out;
}

function fromBinary(info: OnnxValueInfo, datatype: string, count: number, buf: Buffer): TensorData["data"] {
  if (datatype === "BYTES") return readBytesElements(buf, count, info.name);
  const size = SIZE[datatype]!;
  if (buf.length !== count * size)
    throw new InputError(
      `Input "${info.name}" has binary_data_size ${buf.length} but its shape holds ${count} ${datatype} element${count === 1 ? "" : "s"}: ${count * size} bytes.`,
      info.name,
    );
  // A copy into a buffer of its own: aligned for the typed array and transferable to the inference thread.
  const own = new Uint8Array(buf.length);
  own.set(buf);
  const a = new ARRAY[datatype as keyof typeof ARRAY](own.buffer);
  if (datatype === "BOOL") {
    const i = (a as Uint8Array).findIndex((b) => b > 1);
    if (i >= 0) throw new InputError(`Input "${info.name}" element ${i} is the byte ${(a as Uint8Array)[i]}; BOOL elements are 0 or 1.`, info.name);
  }
  return a;
}

/**
 * Checks a parsed request against one version's signature (the primary, canary and shadow
 * may differ) and builds its feeds. Every problem is an InputError naming the input.
 */
export function decodeV2(
  sig: Pick<OnnxSignature, "inputs" | "outputs">,
  req: V2Request,
  limits: { maxElements: number } = { maxElements: 5_000_000 },
): ParsedRequest {
  checkInputNames(
    sig,
    req.inputs.map((i) => i.name),
  );
  if (req.outputs) {
    const unknown = req.outputs.filter((o) => !sig.outputs.some((s) => s.name === o.name)).map((o) => o.name);
    if (unknown.length)
      throw new InputError(
        `Unknown output${unknown.length > 1 ? "s" : ""} ${unknown.map((n) => `"${n}"`).join(", ")} requested (the model returns ${sig.outputs.map((o) => o.name).join(", ")}).`,
      );
  }
  const feeds: Record<string, TensorData> = {};
  let rows = -1;
  let elements = 0;
  for (const info of sig.inputs) {
    const given = req.inputs.find((i) => i.name === info.name)!;
    if (!SUPPORTED.has(info.elemType))
      throw new InputError(`Input "${info.name}" has element type ${info.elemType}, which the server cannot build.`, info.name);
    const expected = V2_DATATYPE[info.elemType];
    if (given.datatype !== expected)
      throw new InputError(`Input "${info.name}" is ${given.datatype}; the model takes ${expected} (${info.elemType}).`, info.name);
    const dims = given.shape;
    checkDims(info, dims);
    const count = dims.reduce((a, d) => a * d, 1);
    elements += count;
    if (elements > limits.maxElements)
      throw new InputError(`The request holds more than ${limits.maxElements.toLocaleString("en")} values; send smaller batches.`, info.name);
    let data: TensorData["data"];
    if (given.binary) data = fromBinary(info, given.datatype, count, given.binary);
    else {
      const flat = flatten(given.data, info.name, dims.length);
      if (flat.length !== count)
        throw new InputError(
          `Input "${info.name}" has ${flat.length} value${flat.length === 1 ? "" : "s"} but shape [${dims.join(", ")}] holds ${count}.`,
          info.name,
        );
      data = typed(info, flat);
    }
    feeds[info.name] = { type: ortTypeOf(info.elemType), data, dims };
    rows = batchRows(info, dims, rows);
  }
  return { feeds, rows: Math.max(rows, 0) };
}

const shapeV2 = (shape: OnnxValueInfo["shape"]) => (shape ?? []).map((d) => (typeof d === "number" && d > 0 ? d : -1));
const tensorMeta = (t: OnnxValueInfo) => ({ name: t.name, datatype: V2_DATATYPE[t.elemType] ?? t.elemType.toUpperCase(), shape: shapeV2(t.shape) });

/** Model metadata: names, datatypes and shapes from the signature, -1 for a dynamic dimension. */
export function modelMetadata(name: string, versions: number[], sig: Pick<OnnxSignature, "inputs" | "outputs">) {
  // "<project>_<format>", as the protocol asks; the value Triton reports for ONNX models.
  return { name, versions: versions.map(String), platform: "onnxruntime_onnx", inputs: sig.inputs.map(tensorMeta), outputs: sig.outputs.map(tensorMeta) };
}

function toBinary(t: TensorData): Buffer {
  if (Array.isArray(t.data)) {
    const parts = t.data.flatMap((s) => {
      const b = Buffer.from(s, "utf8");
      const len = Buffer.alloc(4);
      len.writeUInt32LE(b.length);
      return [len, b];
    });
    return Buffer.concat(parts);
  }
  return Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/**
 * The answer: JSON alone, or JSON then each binary output's bytes in output order with
 * `headerLength` for Inference-Header-Content-Length. Outputs in the order asked for, only
 * those asked for; all of the model's, in its order, when none were.
 */
export function encodeV2Response(opts: {
  modelName: string;
  modelVersion: number;
  id?: string;
  parameters: Record<string, string | number | boolean>;
  sig: Pick<OnnxSignature, "outputs">;
  outputs: Record<string, TensorData>;
  req: V2Request;
}): { body: Buffer; headerLength: number | null } {
  const wanted = opts.req.outputs ?? opts.sig.outputs.filter((o) => o.name in opts.outputs).map((o) => ({ name: o.name, binary: opts.req.binaryOutput }));
  const chunks: Buffer[] = [];
  const outputs = wanted.map(({ name, binary }) => {
    const t = opts.outputs[name];
    if (!t) throw new Error(`the model returned no output "${name}"`);
    const elem = opts.sig.outputs.find((o) => o.name === name)?.elemType ?? ORT_OF[t.type] ?? t.type;
    const head = { name, datatype: V2_DATATYPE[elem] ?? elem.toUpperCase(), shape: t.dims };
    if (!binary) return { ...head, data: flatJson(t) };
    const bytes = toBinary(t);
    chunks.push(bytes);
    return { ...head, parameters: { binary_data_size: bytes.length } };
  });
  const header = Buffer.from(
    JSON.stringify({
      model_name: opts.modelName,
      model_version: String(opts.modelVersion),
      ...(opts.id !== undefined ? { id: opts.id } : {}),
      parameters: opts.parameters,
      outputs,
    }),
    "utf8",
  );
  if (!chunks.length) return { body: header, headerLength: null };
  return { body: Buffer.concat([header, ...chunks]), headerLength: header.length };
}

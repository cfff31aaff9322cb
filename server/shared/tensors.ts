import { Float16Array } from "@petamoriken/float16";
import type { OnnxSignature, OnnxValueInfo } from "~/db/schema/registry";
import { featureNames, planInputs, PlanError } from "./tabular";

/*
 * Turns a predict request's JSON into typed tensors, checked against the model's
 * signature before anything runs: every problem names the input and what was expected.
 * Pure and isomorphic (the inference server and the "try it" form both use it).
 */

export type TensorData = { type: string; data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array | Int16Array | Uint16Array | Uint32Array | BigUint64Array | string[]; dims: number[] };
export class InputError extends Error {
  constructor(
    message: string,
    readonly input?: string,
  ) {
    super(message);
  }
}

const ORT: Record<string, string> = { float: "float32", double: "float64" };
export const ortTypeOf = (elem: string) => ORT[elem] ?? elem;

const INT_RANGE: Record<string, [number, number]> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
};
const SUPPORTED = new Set(["float", "float16", "double", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "bool", "string"]);

function shapeOf(value: unknown): number[] {
  const dims: number[] = [];
  let v = value;
  while (Array.isArray(v)) {
    dims.push(v.length);
    if (v.length === 0) break;
    v = v[0];
  }
  return dims;
}

function flatten(value: unknown, dims: number[], name: string): unknown[] {
  const out: unknown[] = [];
  const walk = (v: unknown, depth: number, path: string) => {
    if (depth === dims.length) {
      if (Array.isArray(v)) throw new InputError(`Input "${name}" is ragged or deeper than expected at ${path}: expected a value, found a list.`, name);
      out.push(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== dims[depth]) {
      throw new InputError(`Input "${name}" is ragged at ${path}: expected a list of ${dims[depth]}, found ${Array.isArray(v) ? `a list of ${v.length}` : typeof v}.`, name);
    }
    for (let i = 0; i < v.length; i++) walk(v[i], depth + 1, `${path}[${i}]`);
  };
  walk(value, 0, name);
  return out;
}

function typed(info: OnnxValueInfo, values: unknown[]): TensorData["data"] {
  const name = info.name;
  const elem = info.elemType;
  const bad = (i: number, expected: string) => new InputError(`Input "${name}" element ${i} is ${JSON.stringify(values[i])?.slice(0, 40)}; expected ${expected} (${elem}).`, name);
  if (elem === "string") {
    return values.map((v, i) => {
      if (typeof v !== "string") throw bad(i, "a string");
      return v;
    });
  }
  if (elem === "bool") {
    const a = new Uint8Array(values.length);
    values.forEach((v, i) => {
      if (typeof v !== "boolean") throw bad(i, "true or false");
      a[i] = v ? 1 : 0;
    });
    return a;
  }
  if (elem === "int64" || elem === "uint64") {
    const a = elem === "int64" ? new BigInt64Array(values.length) : new BigUint64Array(values.length);
    const [lo, hi] = elem === "int64" ? [-(2n ** 63n), 2n ** 63n - 1n] : [0n, 2n ** 64n - 1n];
    values.forEach((v, i) => {
      // Exact integers beyond 2^53 travel as strings of digits: JSON numbers would lose them.
      let b: bigint;
      if (typeof v === "number" && Number.isSafeInteger(v)) b = BigInt(v);
      else if (typeof v === "string" && /^-?\d{1,20}$/.test(v)) b = BigInt(v);
      else throw bad(i, typeof v === "number" && Number.isInteger(v) ? "an integer within ±2^53 or a string of digits for larger values" : "an integer");
      if (b < lo || b > hi) throw bad(i, `an integer in the ${elem} range`);
      a[i] = b;
    });
    return a;
  }
  if (elem in INT_RANGE) {
    const [lo, hi] = INT_RANGE[elem]!;
    const C = { int8: Int8Array, uint8: Uint8Array, int16: Int16Array, uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array }[elem as "int8"];
    const a = new C(values.length);
    values.forEach((v, i) => {
      if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v > hi) throw bad(i, `an integer from ${lo} to ${hi}`);
      a[i] = v;
    });
    return a;
  }
  if (elem === "float16") {
    // onnxruntime-node takes half floats as their 16-bit patterns.
    const h = new Float16Array(values.length);
    values.forEach((v, i) => {
      if (typeof v !== "number") throw bad(i, "a number");
      if (!Number.isFinite(v) || Math.abs(v) > 65504) throw bad(i, "a finite number within ±65504");
      h[i] = v;
    });
    return new Uint16Array(h.buffer);
  }
  const a = elem === "double" ? new Float64Array(values.length) : new Float32Array(values.length);
  values.forEach((v, i) => {
    if (typeof v !== "number") throw bad(i, "a number");
    if (!Number.isFinite(v)) throw bad(i, "a finite number");
    a[i] = v;
  });
  return a;
}

function checkDims(info: OnnxValueInfo, dims: number[]) {
  const shape = info.shape;
  if (!shape) return;
  if (dims.length !== shape.length) {
    throw new InputError(`Input "${info.name}" has rank ${dims.length} (shape [${dims.join(", ")}]); expected rank ${shape.length}, shape [${shape.map((d) => d ?? "?").join(", ")}].`, info.name);
  }
  shape.forEach((d, i) => {
    if (typeof d === "number" && d > 0 && dims[i] !== d) {
      throw new InputError(`Input "${info.name}" has ${dims[i]} at dimension ${i}; expected ${d} (shape [${shape.map((x) => x ?? "?").join(", ")}]).`, info.name);
    }
  });
}

export type ParsedRequest = { feeds: Record<string, TensorData>; rows: number };

/** `{ "inputs": { name: nested array } }` or, for tabular models, `{ "instances": [ { column: value } ] }`. */
export function parsePredictRequest(sig: Pick<OnnxSignature, "inputs" | "metadata">, body: unknown, limits: { maxElements: number } = { maxElements: 5_000_000 }): ParsedRequest {
  if (!body || typeof body !== "object" || Array.isArray(body)) throw new InputError('The body must be a JSON object with "inputs" (named tensors) or "instances" (records).');
  const b = body as Record<string, unknown>;
  const extraTop = Object.keys(b).filter((k) => k !== "inputs" && k !== "instances");
  if (extraTop.length) throw new InputError(`Unknown field${extraTop.length > 1 ? "s" : ""} ${extraTop.map((k) => `"${k}"`).join(", ")}: send "inputs" or "instances".`);
  if ("inputs" in b && "instances" in b) throw new InputError('Send "inputs" or "instances", not both.');
  for (const inp of sig.inputs) if (!SUPPORTED.has(inp.elemType)) throw new InputError(`Input "${inp.name}" has element type ${inp.elemType}, which the server cannot build from JSON.`, inp.name);
  if ("instances" in b) return fromInstances(sig, b.instances, limits);
  const inputs = b.inputs;
  if (!inputs || typeof inputs !== "object" || Array.isArray(inputs)) throw new InputError('"inputs" must be an object of input names to nested arrays.');
  const given = Object.keys(inputs);
  const missing = sig.inputs.filter((i) => !given.includes(i.name)).map((i) => i.name);
  if (missing.length) throw new InputError(`Missing input${missing.length > 1 ? "s" : ""} ${missing.map((m) => `"${m}"`).join(", ")} (the model takes ${sig.inputs.map((i) => i.name).join(", ")}).`, missing[0]);
  const extra = given.filter((g) => !sig.inputs.some((i) => i.name === g));
  if (extra.length) throw new InputError(`Unknown input${extra.length > 1 ? "s" : ""} ${extra.map((m) => `"${m}"`).join(", ")} (the model takes ${sig.inputs.map((i) => i.name).join(", ")}).`, extra[0]);
  const feeds: Record<string, TensorData> = {};
  let rows = -1;
  let elements = 0;
  for (const info of sig.inputs) {
    const value = (inputs as Record<string, unknown>)[info.name];
    const dims = Array.isArray(value) ? shapeOf(value) : [];
    checkDims(info, dims);
    const count = dims.reduce((a, d) => a * d, 1);
    elements += count;
    if (elements > limits.maxElements) throw new InputError(`The request holds more than ${limits.maxElements.toLocaleString("en")} values; send smaller batches.`, info.name);
    const flat = dims.length ? flatten(value, dims, info.name) : [value];
    feeds[info.name] = { type: ortTypeOf(info.elemType), data: typed(info, flat), dims };
    const batch = dims[0] ?? 1;
    if (rows === -1) rows = batch;
    else if (rows !== batch && typeof info.shape?.[0] !== "number") throw new InputError(`Input "${info.name}" has ${batch} rows but another input has ${rows}: the batch dimension must agree.`, info.name);
  }
  return { feeds, rows: Math.max(rows, 0) };
}

function fromInstances(sig: Pick<OnnxSignature, "inputs" | "metadata">, instances: unknown, limits: { maxElements: number }): ParsedRequest {
  if (!Array.isArray(instances) || instances.length === 0) throw new InputError('"instances" must be a non-empty list of records ({ column: value }).');
  let plan;
  try {
    plan = planInputs(sig);
  } catch (err) {
    if (err instanceof PlanError) throw new InputError(`This model does not take records: ${err.message} Send "inputs" instead.`);
    throw err;
  }
  const columns = plan.kind === "matrix" ? plan.features : plan.inputs.map((i) => i.column);
  if (instances.length * columns.length > limits.maxElements) throw new InputError(`The request holds more than ${limits.maxElements.toLocaleString("en")} values; send smaller batches.`);
  instances.forEach((r, i) => {
    if (!r || typeof r !== "object" || Array.isArray(r)) throw new InputError(`instances[${i}] must be an object of column names to values.`);
    const missing = columns.filter((c) => !(c in r));
    if (missing.length) throw new InputError(`instances[${i}] has no ${missing.map((m) => `"${m}"`).join(", ")} (the model takes ${columns.join(", ")}).`, missing[0]);
    const extra = Object.keys(r as object).filter((k) => !columns.includes(k));
    if (extra.length) throw new InputError(`instances[${i}] has unknown column${extra.length > 1 ? "s" : ""} ${extra.map((m) => `"${m}"`).join(", ")} (the model takes ${columns.join(", ")}).`, extra[0]);
  });
  const rows = instances as Record<string, unknown>[];
  if (plan.kind === "matrix") {
    const info = sig.inputs[0]!;
    const flat = rows.flatMap((r) => plan.features.map((f) => r[f]));
    const dims = [rows.length, plan.features.length];
    return { feeds: { [info.name]: { type: ortTypeOf(info.elemType), data: typed({ ...info, name: `${info.name} (${featureNames(sig)?.join(", ")})` }, flat), dims } }, rows: rows.length };
  }
  const feeds: Record<string, TensorData> = {};
  for (const inp of plan.inputs) {
    const info = sig.inputs.find((i) => i.name === inp.input)!;
    feeds[inp.input] = { type: ortTypeOf(info.elemType), data: typed(info, rows.map((r) => r[inp.column])), dims: inp.rank === 2 ? [rows.length, 1] : [rows.length] };
  }
  return { feeds, rows: rows.length };
}

/** Output tensors as JSON: nested arrays; int64 beyond ±2^53 as strings so no digit is lost. */
export function toJson(t: { type?: string; data: ArrayLike<unknown> | unknown[]; dims: readonly number[] }): unknown {
  const data = t.type === "float16" && t.data instanceof Uint16Array ? new Float16Array(t.data.buffer, t.data.byteOffset, t.data.length) : t.data;
  if (t.type === "bool") return shapeJson(Array.from(data as ArrayLike<number>, (v) => v !== 0), t.dims);
  const flat = Array.from(data, (v) => (typeof v === "bigint" ? (v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v.toString()) : typeof v === "number" && !Number.isFinite(v) ? null : v));
  return shapeJson(flat, t.dims);
}

/** A flat array as nested arrays of `dims` (a scalar for no dims). */
function shapeJson(flat: unknown[], shape: readonly number[]): unknown {
  const dims = shape.length ? [...shape] : [];
  if (!dims.length) return flat[0];
  const build = (offset: number, d: number): unknown => {
    if (d === dims.length - 1) return flat.slice(offset, offset + dims[d]!);
    const stride = dims.slice(d + 1).reduce((a, b) => a * b, 1);
    return Array.from({ length: dims[d]! }, (_, i) => build(offset + i * stride, d + 1));
  };
  return build(0, 0);
}

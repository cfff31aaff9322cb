import { Float16Array } from "@petamoriken/float16";
import type { OnnxSignature, OnnxValueInfo } from "~/db/schema/registry";
import { featureNames, planInputs, PlanError } from "./tabular";

/*
 * Turns a predict request's JSON into typed tensors, checked against the model's
 * signature before anything runs: every problem names the input and what was expected.
 * Pure and isomorphic (the inference server and the "try it" form both use it).
 */

export type TensorData = {
  type: string;
  data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array | Int16Array | Uint16Array | Uint32Array | BigUint64Array | string[];
  dims: number[];
};
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
/**
 * The deepest tensor a request may send. Checked before anything walks the lists, so a body
 * nested 100,000 levels is a 400 and costs nothing; once parsed, a request's depth is
 * bounded by this (every leaf is a typed value), which keeps the prediction log's JSON safe.
 */
export const MAX_RANK = 32;

/** A value for a message: never JSON.stringify of an unbounded list or object. */
const preview = (v: unknown) =>
  Array.isArray(v) ? "a list" : v !== null && typeof v === "object" ? "an object" : (JSON.stringify(v) ?? String(v)).slice(0, 40);

export const SUPPORTED = new Set([
  "float",
  "float16",
  "bfloat16",
  "double",
  "int8",
  "uint8",
  "int16",
  "uint16",
  "int32",
  "uint32",
  "int64",
  "uint64",
  "bool",
  "string",
]);

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
      throw new InputError(
        `Input "${name}" is ragged at ${path}: expected a list of ${dims[depth]}, found ${Array.isArray(v) ? `a list of ${v.length}` : typeof v}.`,
        name,
      );
    }
    for (let i = 0; i < v.length; i++) walk(v[i], depth + 1, `${path}[${i}]`);
  };
  walk(value, 0, name);
  return out;
}

/*
 * Exact floats. JSON has no NaN or infinities, so float tensors (float, double, float16,
 * bfloat16) carry them as the strings "NaN", "Infinity" and "-Infinity", both ways; every
 * other value is a JSON number, and one the element type cannot hold (1e39 for a float32)
 * is refused rather than rounded to an infinity. Outputs use the same strings.
 */
const NONFINITE: Record<string, number> = { NaN: Number.NaN, Infinity: Number.POSITIVE_INFINITY, "-Infinity": Number.NEGATIVE_INFINITY };
const NONFINITE_NAMES = '"NaN", "Infinity", "-Infinity"';
/** The largest finite value of each float type (what a number beyond it would round to an infinity past). */
export const FLOAT_MAX: Record<string, number> = { float: 3.4028234663852886e38, double: Number.MAX_VALUE, float16: 65504, bfloat16: 3.3895313892515355e38 };

/** A float element: a JSON number, or one of the three names; undefined for anything else. */
function floatValue(v: unknown): number | undefined {
  if (typeof v === "number") return v;
  if (typeof v === "string" && Object.hasOwn(NONFINITE, v)) return NONFINITE[v];
  return undefined;
}

/** A number as JSON: finite numbers as they are, NaN and the infinities by name. */
export const floatJson = (v: number): number | string => (Number.isFinite(v) ? v : Number.isNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity");

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const f16 = new Float16Array(1);
const u16 = new Uint16Array(f16.buffer);
/** IEEE half precision bits, rounded to nearest even (what onnxruntime takes for float16). */
export function toFloat16Bits(x: number): number {
  f16[0] = x;
  return u16[0]!;
}
export function fromFloat16Bits(bits: number): number {
  u16[0] = bits;
  return f16[0]!;
}
/** bfloat16 bits: the top half of the float32, rounded to nearest even; NaN stays a quiet NaN. */
export function toBfloat16Bits(x: number): number {
  if (Number.isNaN(x)) return 0x7fc0;
  f32[0] = x;
  const bits = u32[0]!;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}
export function fromBfloat16Bits(bits: number): number {
  u32[0] = (bits & 0xffff) << 16;
  return f32[0]!;
}
/** Whether the stored value (bits for the 16-bit types) is finite: an overflow shows as an infinity. */
function isFiniteAs(elem: string, stored: number) {
  if (elem === "float16") return (stored & 0x7c00) !== 0x7c00;
  if (elem === "bfloat16") return (stored & 0x7f80) !== 0x7f80;
  return Number.isFinite(elem === "float" ? Math.fround(stored) : stored);
}

/** Values (flat, row-major) as the typed array onnxruntime takes for `info`; throws InputError naming the element. */
export function typed(info: OnnxValueInfo, values: unknown[]): TensorData["data"] {
  const name = info.name;
  const elem = info.elemType;
  const bad = (i: number, expected: string) => new InputError(`Input "${name}" element ${i} is ${preview(values[i])}; expected ${expected} (${elem}).`, name);
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
  if (elem === "float16" || elem === "bfloat16" || elem === "float" || elem === "double") {
    const a = elem === "double" ? new Float64Array(values.length) : elem === "float" ? new Float32Array(values.length) : new Uint16Array(values.length);
    const encode = elem === "float16" ? toFloat16Bits : elem === "bfloat16" ? toBfloat16Bits : null;
    values.forEach((v, i) => {
      const x = floatValue(v);
      if (x === undefined) throw bad(i, `a number or one of ${NONFINITE_NAMES}`);
      // JSON.parse turns a literal beyond float64 (1e999) into Infinity: refused, so an infinity is always asked for by name.
      if (typeof v === "number" && !Number.isFinite(v))
        throw new InputError(
          `Input "${name}" element ${i} is a number beyond the float64 range; expected a finite number or one of ${NONFINITE_NAMES} (${elem}).`,
          name,
        );
      const stored = encode ? encode(x) : x;
      if (Number.isFinite(x) && !isFiniteAs(elem, stored))
        throw new InputError(
          `Input "${name}" element ${i} is ${x}, outside the ${elem} range (±${FLOAT_MAX[elem]}); send "Infinity" or "-Infinity" for an infinite value.`,
          name,
        );
      a[i] = stored;
    });
    return a;
  }
  throw new InputError(`Input "${name}" has element type ${elem}, which the server cannot build from JSON.`, name);
}

/** The request's dims against the signature's rank and fixed dimensions. */
export function checkDims(info: OnnxValueInfo, dims: number[]) {
  const shape = info.shape;
  if (!shape) return;
  if (dims.length !== shape.length) {
    throw new InputError(
      `Input "${info.name}" has rank ${dims.length} (shape [${dims.join(", ")}]); expected rank ${shape.length}, shape [${shape.map((d) => d ?? "?").join(", ")}].`,
      info.name,
    );
  }
  shape.forEach((d, i) => {
    if (typeof d === "number" && d > 0 && dims[i] !== d) {
      throw new InputError(
        `Input "${info.name}" has ${dims[i]} at dimension ${i}; expected ${d} (shape [${shape.map((x) => x ?? "?").join(", ")}]).`,
        info.name,
      );
    }
  });
}

export type ParsedRequest = { feeds: Record<string, TensorData>; rows: number };

/** `{ "inputs": { name: nested array } }` or, for tabular models, `{ "instances": [ { column: value } ] }`. */
export function parsePredictRequest(
  sig: Pick<OnnxSignature, "inputs" | "metadata">,
  body: unknown,
  limits: { maxElements: number } = { maxElements: 5_000_000 },
): ParsedRequest {
  if (!body || typeof body !== "object" || Array.isArray(body))
    throw new InputError('The body must be a JSON object with "inputs" (named tensors) or "instances" (records).');
  const b = body as Record<string, unknown>;
  const extraTop = Object.keys(b).filter((k) => k !== "inputs" && k !== "instances");
  if (extraTop.length)
    throw new InputError(`Unknown field${extraTop.length > 1 ? "s" : ""} ${extraTop.map((k) => `"${k}"`).join(", ")}: send "inputs" or "instances".`);
  if ("inputs" in b && "instances" in b) throw new InputError('Send "inputs" or "instances", not both.');
  for (const inp of sig.inputs)
    if (!SUPPORTED.has(inp.elemType))
      throw new InputError(`Input "${inp.name}" has element type ${inp.elemType}, which the server cannot build from JSON.`, inp.name);
  if ("instances" in b) return fromInstances(sig, b.instances, limits);
  const inputs = b.inputs;
  if (!inputs || typeof inputs !== "object" || Array.isArray(inputs)) throw new InputError('"inputs" must be an object of input names to nested arrays.');
  checkInputNames(sig, Object.keys(inputs));
  const feeds: Record<string, TensorData> = {};
  let rows = -1;
  let elements = 0;
  for (const info of sig.inputs) {
    const value = (inputs as Record<string, unknown>)[info.name];
    const dims = Array.isArray(value) ? shapeOf(value) : [];
    if (dims.length > MAX_RANK)
      throw new InputError(
        `Input "${info.name}" is nested ${dims.length.toLocaleString("en")} lists deep; a tensor has at most ${MAX_RANK} dimensions${info.shape ? ` (this one ${info.shape.length})` : ""}.`,
        info.name,
      );
    checkDims(info, dims);
    const count = dims.reduce((a, d) => a * d, 1);
    elements += count;
    if (elements > limits.maxElements)
      throw new InputError(`The request holds more than ${limits.maxElements.toLocaleString("en")} values; send smaller batches.`, info.name);
    const flat = dims.length ? flatten(value, dims, info.name) : [value];
    feeds[info.name] = { type: ortTypeOf(info.elemType), data: typed(info, flat), dims };
    rows = batchRows(info, dims, rows);
  }
  return { feeds, rows: Math.max(rows, 0) };
}

/** Every input the model takes, and no other: a 400 naming the first missing or unknown one. */
export function checkInputNames(sig: Pick<OnnxSignature, "inputs">, given: string[]) {
  const missing = sig.inputs.filter((i) => !given.includes(i.name)).map((i) => i.name);
  if (missing.length)
    throw new InputError(
      `Missing input${missing.length > 1 ? "s" : ""} ${missing.map((m) => `"${m}"`).join(", ")} (the model takes ${sig.inputs.map((i) => i.name).join(", ")}).`,
      missing[0],
    );
  const extra = given.filter((g) => !sig.inputs.some((i) => i.name === g));
  if (extra.length)
    throw new InputError(
      `Unknown input${extra.length > 1 ? "s" : ""} ${extra.map((m) => `"${m}"`).join(", ")} (the model takes ${sig.inputs.map((i) => i.name).join(", ")}).`,
      extra[0],
    );
}

/** The request's batch size so far (-1 before the first input): inputs with a symbolic first dimension must agree. */
export function batchRows(info: OnnxValueInfo, dims: number[], rows: number) {
  const batch = dims[0] ?? 1;
  if (rows === -1) return batch;
  if (rows !== batch && typeof info.shape?.[0] !== "number")
    throw new InputError(`Input "${info.name}" has ${batch} rows but another input has ${rows}: the batch dimension must agree.`, info.name);
  return rows;
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
  if (instances.length * columns.length > limits.maxElements)
    throw new InputError(`The request holds more than ${limits.maxElements.toLocaleString("en")} values; send smaller batches.`);
  instances.forEach((r, i) => {
    if (!r || typeof r !== "object" || Array.isArray(r)) throw new InputError(`instances[${i}] must be an object of column names to values.`);
    const missing = columns.filter((c) => !(c in r));
    if (missing.length)
      throw new InputError(`instances[${i}] has no ${missing.map((m) => `"${m}"`).join(", ")} (the model takes ${columns.join(", ")}).`, missing[0]);
    const extra = Object.keys(r as object).filter((k) => !columns.includes(k));
    if (extra.length)
      throw new InputError(
        `instances[${i}] has unknown column${extra.length > 1 ? "s" : ""} ${extra.map((m) => `"${m}"`).join(", ")} (the model takes ${columns.join(", ")}).`,
        extra[0],
      );
  });
  const rows = instances as Record<string, unknown>[];
  if (plan.kind === "matrix") {
    const info = sig.inputs[0]!;
    const flat = rows.flatMap((r) => plan.features.map((f) => r[f]));
    const dims = [rows.length, plan.features.length];
    return {
      feeds: { [info.name]: { type: ortTypeOf(info.elemType), data: typed({ ...info, name: `${info.name} (${featureNames(sig)?.join(", ")})` }, flat), dims } },
      rows: rows.length,
    };
  }
  const feeds: Record<string, TensorData> = {};
  for (const inp of plan.inputs) {
    const info = sig.inputs.find((i) => i.name === inp.input)!;
    feeds[inp.input] = {
      type: ortTypeOf(info.elemType),
      data: typed(
        info,
        rows.map((r) => r[inp.column]),
      ),
      dims: inp.rank === 2 ? [rows.length, 1] : [rows.length],
    };
  }
  return { feeds, rows: rows.length };
}

/**
 * Output tensors as JSON: nested arrays; int64 beyond ±2^53 as strings so no digit is lost;
 * NaN and the infinities by name; float16 and bfloat16 (16-bit patterns) as their values.
 */
export function toJson(t: { type?: string; data: ArrayLike<unknown> | unknown[]; dims: readonly number[] }): unknown {
  return shapeJson(flatJson(t), t.dims);
}

/** The elements of a tensor as JSON values, flat (row-major). */
export function flatJson(t: { type?: string; data: ArrayLike<unknown> | unknown[] }): unknown[] {
  const data = t.data;
  if (t.type === "bool") return Array.from(data as ArrayLike<number>, (v) => v !== 0);
  if ((t.type === "float16" || t.type === "bfloat16") && data instanceof Uint16Array)
    return Array.from(data, (b) => floatJson(t.type === "float16" ? fromFloat16Bits(b) : fromBfloat16Bits(b)));
  return Array.from(data, (v) =>
    typeof v === "bigint" ? (v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v.toString()) : typeof v === "number" ? floatJson(v) : v,
  );
}

/** A flat array as nested arrays of `dims` (a scalar for no dims). */
export function shapeJson(flat: unknown[], shape: readonly number[]): unknown {
  const dims = shape.length ? [...shape] : [];
  if (!dims.length) return flat[0];
  const build = (offset: number, d: number): unknown => {
    if (d === dims.length - 1) return flat.slice(offset, offset + dims[d]!);
    const stride = dims.slice(d + 1).reduce((a, b) => a * b, 1);
    return Array.from({ length: dims[d]! }, (_, i) => build(offset + i * stride, d + 1));
  };
  return build(0, 0);
}

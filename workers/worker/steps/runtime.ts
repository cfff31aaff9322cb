import fs from "node:fs";
import os from "node:os";
import { DuckDBInstance, type DuckDBVector } from "@duckdb/node-api";
import { InferenceSession, Tensor } from "onnxruntime-node";
import type { ColumnSchema } from "~/db/schema/registry";
import type { InputPlan, OutputPlan } from "~/server/shared/tabular";

/*
 * What the model-testing steps share, inside the step process: reading a dataset
 * version with DuckDB into typed columns, and running a model over rows of it in
 * batches with onnxruntime-node.
 */

export type Column = { kind: "num"; values: Float64Array } | { kind: "str"; values: (string | null)[] };
export type Table = { rows: number; columns: Map<string, Column> };

const q = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * Rows [0, n) of a DOUBLE vector into `out` at `at`, missing values as NaN. The vector's
 * Float64Array view and validity mask are read directly where the installed
 * @duckdb/node-api exposes them as it does today (one block copy, a bit test only where the
 * chunk has nulls); otherwise value by value through its public getItem.
 */
function readDoubles(vec: DuckDBVector, n: number, out: Float64Array, at: number) {
  const raw = vec as unknown as { items?: unknown; validity?: { data?: unknown; itemValid?: (i: number) => boolean } };
  if (raw.items instanceof Float64Array && raw.items.length >= n && typeof raw.validity?.itemValid === "function") {
    out.set(raw.items.subarray(0, n), at);
    if (raw.validity.data) for (let r = 0; r < n; r++) if (!raw.validity.itemValid(r)) out[at + r] = NaN;
    return;
  }
  for (let r = 0; r < n; r++) {
    const v = vec.getItem(r);
    out[at + r] = v === null || v === undefined ? NaN : Number(v);
  }
}

/** `sample`: a uniform sample of that many rows (DuckDB's reservoir, seeded, so the same rows every time) instead of the first `maxRows`. */
export async function loadTable(
  file: string,
  format: "csv" | "parquet",
  schema: ColumnSchema[],
  opts: { maxRows?: number; sample?: { rows: number; seed: number } } = {},
): Promise<Table> {
  const instance = await DuckDBInstance.create(":memory:", { threads: "2", memory_limit: "2GB" });
  const con = await instance.connect();
  try {
    const lit = `'${file.replace(/'/g, "''")}'`;
    const source = format === "csv" ? `read_csv(${lit}, header = true, sample_size = -1)` : `read_parquet(${lit})`;
    const select = schema
      .map((c) =>
        // try_cast: an unparseable number ("n/a", "-") is a missing value, counted as such downstream, never a failed read.
        c.logical === "numeric" || c.logical === "boolean"
          ? `try_cast(${q(c.name)} as double) as ${q(c.name)}`
          : `cast(${q(c.name)} as varchar) as ${q(c.name)}`,
      )
      .join(", ");
    const rows = opts.sample
      ? ` using sample reservoir(${Math.floor(opts.sample.rows)} rows) repeatable (${Math.floor(opts.sample.seed)})`
      : opts.maxRows
        ? ` limit ${opts.maxRows}`
        : "";
    // Chunk by chunk (2,048 rows each) straight from DuckDB's vectors: a numeric column is
    // copied as a block into one preallocated Float64Array, no per-value JS objects.
    const result = await con.run(`select ${select} from ${source}${rows}`);
    const total = result.rowCount;
    const nums = schema.map((c) => (c.logical === "numeric" || c.logical === "boolean" ? new Float64Array(total) : null));
    const strs = schema.map((c, i) => (nums[i] ? null : new Array<string | null>(total)));
    let at = 0;
    for (let k = 0; k < result.chunkCount; k++) {
      const chunk = result.getChunk(k);
      const n = chunk.rowCount;
      schema.forEach((_, i) => {
        const vec = chunk.getColumnVector(i);
        const num = nums[i];
        if (num) readDoubles(vec, n, num, at);
        else {
          const out = strs[i]!;
          for (let r = 0; r < n; r++) {
            const v = vec.getItem(r);
            out[at + r] = v === null || v === undefined ? null : String(v);
          }
        }
      });
      at += n;
    }
    const columns = new Map<string, Column>();
    schema.forEach((c, i) => columns.set(c.name, nums[i] ? { kind: "num", values: nums[i] } : { kind: "str", values: strs[i]! }));
    return { rows: total, columns };
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

export function takeRows(table: Table, idx: ArrayLike<number>): Table {
  const columns = new Map<string, Column>();
  for (const [name, col] of table.columns) {
    if (col.kind === "num") {
      const v = new Float64Array(idx.length);
      for (let i = 0; i < idx.length; i++) v[i] = col.values[idx[i]!]!;
      columns.set(name, { kind: "num", values: v });
    } else columns.set(name, { kind: "str", values: Array.from(idx, (i) => col.values[i]!) });
  }
  return { rows: idx.length, columns };
}

export function cloneTable(t: Table): Table {
  const columns = new Map<string, Column>();
  for (const [k, c] of t.columns)
    columns.set(k, c.kind === "num" ? { kind: "num", values: new Float64Array(c.values) } : { kind: "str", values: [...c.values] });
  return { rows: t.rows, columns };
}

function typed(elemType: string, n: number) {
  switch (elemType) {
    case "float":
      return new Float32Array(n);
    case "double":
      return new Float64Array(n);
    case "int32":
      return new Int32Array(n);
    case "int64":
      return new BigInt64Array(n);
    case "int8":
      return new Int8Array(n);
    case "uint8":
      return new Uint8Array(n);
    case "int16":
      return new Int16Array(n);
    case "uint16":
      return new Uint16Array(n);
    case "uint32":
      return new Uint32Array(n);
    case "uint64":
      return new BigUint64Array(n);
    case "bool":
      return new Uint8Array(n);
    default:
      return null;
  }
}

/** ONNX element type names → onnxruntime-node tensor type names. */
export const ortType = (elemType: string) => (elemType === "float" ? "float32" : elemType === "double" ? "float64" : elemType);

function setValue(arr: NonNullable<ReturnType<typeof typed>>, i: number, v: number) {
  if (arr instanceof BigInt64Array || arr instanceof BigUint64Array) arr[i] = BigInt(Math.trunc(Number.isFinite(v) ? v : 0));
  else arr[i] = v;
}

const littleEndian = os.endianness() === "LE";

/**
 * Class indices from a label output into `out` at `at`. An int64 output is read through an
 * Int32Array view of its words (no BigInt per row) where the value fits in 32 bits.
 */
export function readLabels(d: ArrayLike<number | bigint>, n: number, out: Float64Array, at: number) {
  if (littleEndian && d instanceof BigInt64Array) {
    const w = new Int32Array(d.buffer, d.byteOffset, n * 2);
    for (let i = 0; i < n; i++) {
      const hi = w[2 * i + 1]!;
      const lo = w[2 * i]!;
      out[at + i] = hi === 0 && lo >= 0 ? lo : hi === -1 && lo < 0 ? lo : Number(d[i]);
    }
    return;
  }
  for (let i = 0; i < n; i++) out[at + i] = Number(d[i]);
}

/** The feeds for rows [start, end) of `table`. */
export function feeds(plan: InputPlan, table: Table, start: number, end: number): Record<string, Tensor> {
  const n = end - start;
  if (plan.kind === "matrix") {
    const F = plan.features.length;
    const arr = typed(plan.elemType, n * F);
    if (!arr) throw new Error(`Input "${plan.input}" has element type ${plan.elemType}, which a table cannot feed.`);
    const big = arr instanceof BigInt64Array || arr instanceof BigUint64Array;
    plan.features.forEach((f, j) => {
      const col = table.columns.get(f)!;
      if (col.kind !== "num") throw new Error(`Feature "${f}" is text but input "${plan.input}" takes ${plan.elemType}.`);
      const v = col.values;
      if (big) for (let r = 0; r < n; r++) setValue(arr, r * F + j, v[start + r]!);
      else {
        const a = arr as Float32Array;
        for (let r = 0, k = j; r < n; r++, k += F) a[k] = v[start + r]!;
      }
    });
    return { [plan.input]: new Tensor(ortType(plan.elemType) as "float32", arr as Float32Array, [n, F]) };
  }
  const out: Record<string, Tensor> = {};
  for (const inp of plan.inputs) {
    const col = table.columns.get(inp.column)!;
    const dims = inp.rank === 2 ? [n, 1] : [n];
    if (inp.elemType === "string") {
      const vals = col.kind === "str" ? col.values.slice(start, end).map((v) => v ?? "") : Array.from(col.values.subarray(start, end), String);
      out[inp.input] = new Tensor("string", vals, dims);
      continue;
    }
    const arr = typed(inp.elemType, n);
    if (!arr) throw new Error(`Input "${inp.input}" has element type ${inp.elemType}, which a table cannot feed.`);
    if (col.kind !== "num") throw new Error(`Column "${inp.column}" is text but input "${inp.input}" takes ${inp.elemType}.`);
    for (let r = 0; r < n; r++) setValue(arr, r, col.values[start + r]!);
    out[inp.input] = new Tensor(ortType(inp.elemType) as "int32", arr as Int32Array, dims);
  }
  return out;
}

export async function openSession(file: string, threads = 1) {
  // From bytes, never a path: the model cannot name external files to read.
  return InferenceSession.create(fs.readFileSync(file), { executionProviders: ["cpu"], intraOpNumThreads: threads, interOpNumThreads: 1 });
}

export type Predictions =
  /** proba: row-major, `width` values per row (1 for a binary model's positive probability). */
  | { task: "classification"; proba: Float64Array | null; width: number; label: Float64Array | null; classes: number }
  | { task: "regression"; value: Float64Array };

/** Runs the model over every row in batches; `onBatch` reports progress. */
export async function predict(
  session: InferenceSession,
  plan: InputPlan,
  out: OutputPlan,
  table: Table,
  batchSize = 1024,
  onBatch?: (done: number, total: number) => void,
): Promise<Predictions> {
  const values = out.task === "regression" ? new Float64Array(table.rows) : null;
  const labels = out.task === "classification" && out.label ? new Float64Array(table.rows) : null;
  let proba: Float64Array | null = null;
  let width = 0;
  for (let start = 0; start < table.rows; start += batchSize) {
    const end = Math.min(table.rows, start + batchSize);
    const n = end - start;
    const result = await session.run(feeds(plan, table, start, end));
    if (out.task === "regression") {
      const v = result[out.value]!.data as ArrayLike<number>;
      for (let i = 0; i < n; i++) values![start + i] = Number(v[i]);
      continue;
    }
    if (out.proba) {
      const t = result[out.proba]!;
      if (!proba) {
        width = t.dims.length > 1 ? Number(t.dims[t.dims.length - 1]) : 1;
        proba = new Float64Array(table.rows * width);
      }
      const d = t.data as ArrayLike<number>;
      for (let i = 0; i < n * width; i++) proba[start * width + i] = d[i]!;
    }
    if (out.label) {
      const t = result[out.label]!;
      if (t.type === "string") throw new Error(`Output "${out.label}" holds text labels; map them to class indices or expose probabilities.`);
      readLabels(t.data as ArrayLike<number | bigint>, n, labels!, start);
    }
    onBatch?.(end, table.rows);
  }
  if (out.task === "regression") return { task: "regression", value: values! };
  let classes = width === 1 ? 2 : width;
  if (!out.proba) classes = Math.max(2, 1 + (labels ? labels.reduce((m, v) => (v > m ? v : m), 0) : 1));
  return { task: "classification", proba, width, label: labels, classes };
}

type Classified = Extract<Predictions, { task: "classification" }>;

/** Positive-class score for binary models (probability width 1 → that value; width 2 → column 1). */
export function positiveScore(p: Classified): Float64Array | null {
  if (!p.proba || p.classes !== 2) return null;
  if (p.width === 1) return p.proba;
  const rows = p.proba.length / p.width;
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) out[i] = p.proba[i * p.width + 1]!;
  return out;
}

/** Full class probabilities as rows (binary width-1 outputs expanded to [1 − p, p]). */
export function probaMatrix(p: Classified): number[][] | null {
  if (!p.proba) return null;
  const rows = p.proba.length / p.width;
  const out: number[][] = new Array<number[]>(rows);
  for (let i = 0; i < rows; i++) out[i] = p.width === 1 ? [1 - p.proba[i]!, p.proba[i]!] : Array.from(p.proba.subarray(i * p.width, (i + 1) * p.width));
  return out;
}

/** Predicted class per row: the label output if there is one, else threshold 0.5 / argmax. */
export function predictedClass(p: Classified): Float64Array {
  if (p.label) return p.label;
  const rows = p.proba!.length / p.width;
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    if (p.width === 1) out[i] = p.proba![i]! >= 0.5 ? 1 : 0;
    else {
      let best = 0;
      for (let k = 1; k < p.width; k++) if (p.proba![i * p.width + k]! > p.proba![i * p.width + best]!) best = k;
      out[i] = best;
    }
  }
  return out;
}

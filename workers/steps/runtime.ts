import fs from "node:fs";
import { DuckDBInstance } from "@duckdb/node-api";
import { InferenceSession, Tensor } from "onnxruntime-node";
import type { ColumnSchema, OnnxSignature } from "~/db/schema/registry";
import { planColumns, type InputPlan, type OutputPlan } from "~/server/shared/tabular";

/*
 * What the model-testing steps share, inside the step process: reading a dataset
 * version with DuckDB into typed columns, and running a model over rows of it in
 * batches with onnxruntime-node.
 */

export type Column = { kind: "num"; values: Float64Array } | { kind: "str"; values: (string | null)[] };
export type Table = { rows: number; columns: Map<string, Column> };

const q = (name: string) => `"${name.replace(/"/g, '""')}"`;

export async function loadTable(file: string, format: "csv" | "parquet", schema: ColumnSchema[], opts: { maxRows?: number } = {}): Promise<Table> {
  const instance = await DuckDBInstance.create(":memory:", { threads: "2", memory_limit: "2GB" });
  const con = await instance.connect();
  try {
    const lit = `'${file.replace(/'/g, "''")}'`;
    const source = format === "csv" ? `read_csv(${lit}, header = true, sample_size = -1)` : `read_parquet(${lit})`;
    const select = schema.map((c) => (c.logical === "numeric" || c.logical === "boolean" ? `cast(${q(c.name)} as double) as ${q(c.name)}` : `cast(${q(c.name)} as varchar) as ${q(c.name)}`)).join(", ");
    const reader = await con.runAndReadAll(`select ${select} from ${source}${opts.maxRows ? ` limit ${opts.maxRows}` : ""}`);
    const cols = reader.getColumnsJS();
    const columns = new Map<string, Column>();
    schema.forEach((c, i) => {
      const raw = cols[i] ?? [];
      if (c.logical === "numeric" || c.logical === "boolean") {
        const values = new Float64Array(raw.length);
        for (let r = 0; r < raw.length; r++) values[r] = raw[r] === null || raw[r] === undefined ? NaN : Number(raw[r]);
        columns.set(c.name, { kind: "num", values });
      } else {
        columns.set(c.name, { kind: "str", values: raw.map((v) => (v === null || v === undefined ? null : String(v as string | number))) });
      }
    });
    return { rows: reader.currentRowCount, columns };
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
  for (const [k, c] of t.columns) columns.set(k, c.kind === "num" ? { kind: "num", values: new Float64Array(c.values) } : { kind: "str", values: [...c.values] });
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

/** The feeds for rows [start, end) of `table`. */
export function feeds(plan: InputPlan, table: Table, start: number, end: number): Record<string, Tensor> {
  const n = end - start;
  if (plan.kind === "matrix") {
    const F = plan.features.length;
    const arr = typed(plan.elemType, n * F);
    if (!arr) throw new Error(`Input "${plan.input}" has element type ${plan.elemType}, which a table cannot feed.`);
    plan.features.forEach((f, j) => {
      const col = table.columns.get(f)!;
      if (col.kind !== "num") throw new Error(`Feature "${f}" is text but input "${plan.input}" takes ${plan.elemType}.`);
      for (let r = 0; r < n; r++) setValue(arr, r * F + j, col.values[start + r]!);
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
  | { task: "classification"; proba: number[][] | null; label: number[] | null; classes: number }
  | { task: "regression"; value: Float64Array };

const toNumbers = (data: Tensor["data"]): number[] => Array.from(data as ArrayLike<number | bigint>, (v) => Number(v));

/** Runs the model over every row in batches; `onBatch` reports progress. */
export async function predict(session: InferenceSession, plan: InputPlan, out: OutputPlan, table: Table, batchSize = 1024, onBatch?: (done: number, total: number) => void): Promise<Predictions> {
  const probaRows: number[][] = [];
  const labels: number[] = [];
  const values = new Float64Array(table.rows);
  let width = 0;
  for (let start = 0; start < table.rows; start += batchSize) {
    const end = Math.min(table.rows, start + batchSize);
    const result = await session.run(feeds(plan, table, start, end));
    if (out.task === "regression") {
      const v = result[out.value]!.data as ArrayLike<number>;
      for (let i = 0; i < end - start; i++) values[start + i] = Number(v[i]);
    } else {
      if (out.proba) {
        const t = result[out.proba]!;
        width = t.dims.length > 1 ? Number(t.dims[t.dims.length - 1]) : 1;
        const d = toNumbers(t.data);
        for (let i = 0; i < end - start; i++) probaRows.push(d.slice(i * width, (i + 1) * width));
      }
      if (out.label) {
        const t = result[out.label]!;
        if (t.type === "string") throw new Error(`Output "${out.label}" holds text labels; map them to class indices or expose probabilities.`);
        labels.push(...toNumbers(t.data).slice(0, end - start));
      }
    }
    onBatch?.(end, table.rows);
  }
  if (out.task === "regression") return { task: "regression", value: values };
  const classes = out.proba ? (width === 1 ? 2 : width) : Math.max(2, ...labels.map((l) => l + 1));
  return { task: "classification", proba: out.proba ? probaRows : null, label: out.label ? labels : null, classes };
}

/** Positive-class score for binary models (probability width 1 → that value; width 2 → column 1). */
export function positiveScore(p: Extract<Predictions, { task: "classification" }>): number[] | null {
  if (!p.proba || p.classes !== 2) return null;
  return p.proba.map((r) => (r.length === 1 ? r[0]! : r[1]!));
}

/** Full class probabilities (binary width-1 outputs expanded to [1 − p, p]). */
export function probaMatrix(p: Extract<Predictions, { task: "classification" }>): number[][] | null {
  if (!p.proba) return null;
  return p.proba.map((r) => (r.length === 1 ? [1 - r[0]!, r[0]!] : r));
}

/** Predicted class per row: the label output if there is one, else argmax / threshold 0.5. */
export function predictedClass(p: Extract<Predictions, { task: "classification" }>): number[] {
  if (p.label) return p.label;
  return probaMatrix(p)!.map((r) => r.indexOf(Math.max(...r)));
}

export { planColumns };
export type { OnnxSignature };

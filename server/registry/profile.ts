import "server-only";
import fs from "node:fs/promises";
import { DuckDBInstance } from "@duckdb/node-api";
import type { ColumnProfile, ColumnSchema, DatasetProfile } from "~/db/schema/registry";
import { AppError } from "~/server/errors";

const NUMERIC = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL.*)$/;
const TEMPORAL = /^(DATE|TIME|TIMESTAMP.*|INTERVAL)$/;
const HIST_BINS = 20;
const TOP_N = 10;

function logical(type: string): ColumnSchema["logical"] {
  if (NUMERIC.test(type)) return "numeric";
  if (type === "BOOLEAN") return "boolean";
  if (TEMPORAL.test(type)) return "temporal";
  if (type === "VARCHAR" || type.startsWith("ENUM")) return "categorical";
  return "other";
}

const q = (name: string) => `"${name.replace(/"/g, '""')}"`;
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** Turns DuckDB's multi-line diagnostics into one sentence for the user, without server paths. */
function readableError(err: unknown, format: "csv" | "parquet") {
  const text = err instanceof Error ? err.message : String(err);
  const line = /on Line: (\d+)/.exec(text)?.[1];
  const cols = /Expected Number of Columns: (\d+) Found: (\d+)/.exec(text);
  if (cols && line) {
    return `Row ${line} of the CSV file has ${cols[2]} field${cols[2] === "1" ? "" : "s"}, but the header has ${cols[1]}. Every row needs one field per column.`;
  }
  if (/Invalid unicode|not utf-8 encoded/i.test(text)) {
    return `The CSV file is not valid UTF-8${line ? ` (line ${line})` : ""}. Save it as UTF-8 and upload it again.`;
  }
  if (/unterminated quote|quote/i.test(text) && line) return `The CSV file has an unterminated quoted field near line ${line}.`;
  if (format === "parquet") return "The file is not a valid Parquet file (it may be truncated or corrupt).";
  return `The CSV file could not be read: ${duckMessage(err)}`;
}

function duckMessage(err: unknown) {
  const text = err instanceof Error ? err.message : String(err);
  const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
  const first = (lines[0] ?? "unreadable").replace(/^[A-Za-z ]+Error: /, "");
  // "CSV Error on Line: 2" is followed by the reason on the next line.
  const reason = /on Line: \d+$/.test(first) && lines[1] ? `${first}: ${lines[1]}` : first;
  // Never show where files live on the server.
  return reason.replace(/(["'])\/[^"']*\1/g, "the file").slice(0, 300);
}

async function checkCsvHeader(file: string): Promise<{ delimiter: string; names: string[] }> {
  const handle = await fs.open(file, "r");
  try {
    const buf = Buffer.alloc(64 * 1024);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    const text = buf.subarray(0, bytesRead).toString("utf8");
    const line = text.split(/\r?\n/, 1)[0] ?? "";
    if (!line.trim()) throw new AppError("INVALID", "The CSV file has an empty first line; it must start with a header row of column names.", { field: "file" });
    const delimiter = [",", ";", "\t", "|"].map((d) => [d, line.split(d).length] as const).sort((a, b) => b[1] - a[1])[0]![0];
    const names = line.split(delimiter).map((n) => n.trim().replace(/^"(.*)"$/, "$1"));
    if (names.every((n) => n !== "" && !Number.isNaN(Number(n)))) {
      throw new AppError("INVALID", "The CSV file has no header row: its first line holds numbers, not column names.", { field: "file" });
    }
    const seen = new Set<string>();
    for (const n of names) {
      if (!n) throw new AppError("INVALID", "The CSV header has an empty column name.", { field: "file" });
      if (seen.has(n)) throw new AppError("INVALID", `The CSV header names the column "${n}" twice; column names must be unique.`, { field: "file" });
      seen.add(n);
    }
    return { delimiter, names };
  } finally {
    await handle.close();
  }
}

/**
 * Infers the schema and profile of a CSV or Parquet file with DuckDB: rows, nulls,
 * min/max/mean/std, quantiles and a histogram for numeric columns; distinct count and top
 * values for the others. Throws AppError("INVALID") with DuckDB's reason for bad files.
 */
export async function profileDataset(file: string, format: "csv" | "parquet"): Promise<{ schema: ColumnSchema[]; profile: DatasetProfile }> {
  const header = format === "csv" ? await checkCsvHeader(file) : null;
  const instance = await DuckDBInstance.create(":memory:", { threads: "2", memory_limit: "1GB" });
  const con = await instance.connect();
  try {
    const literal = `'${file.replace(/'/g, "''")}'`;
    const sqlString = (v: string) => `'${v.replace(/'/g, "''")}'`;
    try {
      if (header) {
        const delim = sqlString(header.delimiter === "\t" ? "\\t" : header.delimiter);
        const dialect = `header = true, delim = ${delim}, quote = '"', escape = '"', strict_mode = true`;
        // Pass 1, structure only (every field as text): ragged rows and bad encodings are
        // reported with their line, which DuckDB's dialect sniffer would hide.
        const cols = header.names.map((n) => `${sqlString(n)}: 'VARCHAR'`).join(", ");
        await con.run(`select count(*) from read_csv(${literal}, auto_detect = false, ${dialect}, columns = {${cols}})`);
        // Pass 2: types inferred from every row.
        await con.run(`create table t as select * from read_csv(${literal}, ${dialect}, sample_size = -1)`);
      } else {
        await con.run(`create table t as select * from read_parquet(${literal})`);
      }
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw new AppError("INVALID", readableError(err, format), { field: "file", cause: err });
    }
    const described = (await con.runAndReadAll("describe t")).getRowObjects();
    const schema: ColumnSchema[] = described.map((r) => {
      const type = String(r.column_type);
      return { name: String(r.column_name), type, logical: logical(type) };
    });
    if (schema.length === 0) throw new AppError("INVALID", "The file has no columns.", { field: "file" });
    const rows = Number((await con.runAndReadAll("select count(*) as n from t")).getRowObjects()[0]!.n);
    if (rows === 0) throw new AppError("INVALID", "The file has a header but no rows.", { field: "file" });

    const columns: ColumnProfile[] = [];
    for (const col of schema) {
      const c = q(col.name);
      const base = (
        await con.runAndReadAll(`select count(${c}) as n, count(distinct ${c}) as d from t`)
      ).getRowObjects()[0]!;
      const profile: ColumnProfile = {
        name: col.name,
        type: col.type,
        logical: col.logical,
        count: Number(base.n),
        nulls: rows - Number(base.n),
        distinct: Number(base.d),
      };
      if (col.logical === "numeric") {
        const s = (
          await con.runAndReadAll(
            `select min(${c})::double as mn, max(${c})::double as mx, avg(${c})::double as mean, stddev_samp(${c})::double as sd,
                    quantile_cont(${c}::double, [0.01, 0.25, 0.5, 0.75, 0.99]) as qs from t`,
          )
        ).getRowObjects()[0]!;
        const qs = (s.qs as { items?: unknown[] } | null)?.items ?? [];
        profile.min = num(s.mn);
        profile.max = num(s.mx);
        profile.mean = num(s.mean);
        profile.std = num(s.sd);
        profile.quantiles = { p01: num(qs[0]), p25: num(qs[1]), p50: num(qs[2]), p75: num(qs[3]), p99: num(qs[4]) };
        if (profile.min !== null && profile.max !== null && profile.count > 0) {
          const lo = profile.min;
          const width = (profile.max - lo) / HIST_BINS || 1;
          const edges = Array.from({ length: HIST_BINS + 1 }, (_, i) => lo + i * width);
          const counts = new Array<number>(HIST_BINS).fill(0);
          const bins = (
            await con.runAndReadAll(
              `select least(greatest(floor((${c}::double - ${lo}) / ${width})::int, 0), ${HIST_BINS - 1}) as b, count(*) as n
               from t where ${c} is not null and isfinite(${c}::double) group by 1`,
            )
          ).getRowObjects();
          for (const b of bins) counts[Number(b.b)] = Number(b.n);
          profile.histogram = { edges, counts };
        }
      } else {
        const top = (
          await con.runAndReadAll(
            `select ${c}::varchar as v, count(*) as n from t where ${c} is not null group by 1 order by 2 desc, 1 limit ${TOP_N}`,
          )
        ).getRowObjects();
        profile.top = top.map((r) => ({ value: String(r.v), count: Number(r.n) }));
        if (col.logical === "temporal") {
          const mm = (await con.runAndReadAll(`select min(${c})::varchar as mn, max(${c})::varchar as mx from t`)).getRowObjects()[0]!;
          profile.min = mm.mn === null ? null : String(mm.mn);
          profile.max = mm.mx === null ? null : String(mm.mx);
        }
      }
      columns.push(profile);
    }
    return { schema, profile: { rows, columns } };
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

/* ---------------------------------------------------------------------------
 * The dataset profiler itself: DuckDB over one staged CSV or Parquet file. It runs
 * only in workers/inspect/profile-child.ts, a process of its own with a time and
 * memory budget (server/registry/profile.ts starts it), never in the web process.
 * ------------------------------------------------------------------------- */
import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";
import type { ColumnProfile, ColumnSchema, DatasetProfile } from "~/db/schema/registry";
import { tooManyColumns } from "~/server/registry/profile-messages";

/** A file the profiler refuses; the message is for the uploader, verbatim. */
export class ProfileRejected extends Error {}

const NUMERIC = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL.*)$/;
const TEMPORAL = /^(DATE|TIME|TIMESTAMP.*|INTERVAL)$/;
const HIST_BINS = 20;
const TOP_N = 10;
/**
 * Columns per aggregate query. One query per column cost a query's planning over the whole
 * (wide) table each time: 2,000 columns took 22 s. One query for every column at once needs
 * a distinct-count hash table per column at the same time (2,000 ran out of 1 GB). Batches
 * keep both small.
 */
const BATCH = 50;

function logical(type: string): ColumnSchema["logical"] {
  if (NUMERIC.test(type)) return "numeric";
  if (type === "BOOLEAN") return "boolean";
  if (TEMPORAL.test(type)) return "temporal";
  if (type === "VARCHAR" || type.startsWith("ENUM")) return "categorical";
  return "other";
}

const q = (name: string) => `"${name.replace(/"/g, '""')}"`;
const sqlString = (v: string) => `'${v.replace(/'/g, "''")}'`;
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
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  const first = (lines[0] ?? "unreadable").replace(/^[A-Za-z ]+Error: /, "");
  // "CSV Error on Line: 2" is followed by the reason on the next line.
  const reason = /on Line: \d+$/.test(first) && lines[1] ? `${first}: ${lines[1]}` : first;
  // Never show where files live on the server.
  return reason.replace(/(["'])\/[^"']*\1/g, "the file").slice(0, 300);
}

async function rowsOf(con: DuckDBConnection, sql: string) {
  return (await con.runAndReadAll(sql)).getRowObjects();
}

function chunks<T>(items: T[], size: number) {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export type ProfileOptions = {
  /** From the hand-checked CSV header (server/registry/profile.ts); null for Parquet. */
  header: { delimiter: string; names: string[] } | null;
  maxColumns: number;
  /** DuckDB's own memory limit, below the process's budget. */
  memoryMb: number;
};

/**
 * Infers the schema and profile of a CSV or Parquet file: rows, nulls, min/max/mean/std,
 * quantiles and a histogram for numeric columns; distinct count and top values for the
 * others. A few queries per 50 columns, whatever the width. Throws ProfileRejected with a
 * readable reason for bad files.
 */
export async function profileFile(file: string, format: "csv" | "parquet", opts: ProfileOptions): Promise<{ schema: ColumnSchema[]; profile: DatasetProfile }> {
  const instance = await DuckDBInstance.create(":memory:", { threads: "2", memory_limit: `${opts.memoryMb}MB`, preserve_insertion_order: "false" });
  const con = await instance.connect();
  try {
    const literal = sqlString(file);
    try {
      if (opts.header) {
        const delim = sqlString(opts.header.delimiter === "\t" ? "\\t" : opts.header.delimiter);
        const dialect = `header = true, delim = ${delim}, quote = '"', escape = '"', strict_mode = true`;
        // Pass 1, structure only (every field as text): ragged rows and bad encodings are
        // reported with their line, which DuckDB's dialect sniffer would hide.
        const cols = opts.header.names.map((n) => `${sqlString(n)}: 'VARCHAR'`).join(", ");
        await con.run(`select count(*) from read_csv(${literal}, auto_detect = false, ${dialect}, columns = {${cols}})`);
        // Pass 2: types inferred from every row.
        await con.run(`create table t as select * from read_csv(${literal}, ${dialect}, sample_size = -1)`);
      } else {
        // The footer alone says how wide it is: refuse before reading any data.
        const width = (await rowsOf(con, `describe select * from read_parquet(${literal})`)).length;
        if (width > opts.maxColumns) throw new ProfileRejected(tooManyColumns(width, opts.maxColumns));
        await con.run(`create table t as select * from read_parquet(${literal})`);
      }
    } catch (err) {
      if (err instanceof ProfileRejected) throw err;
      throw new ProfileRejected(readableError(err, format));
    }
    const schema: ColumnSchema[] = (await rowsOf(con, "describe t")).map((r) => {
      const type = String(r.column_type);
      return { name: String(r.column_name), type, logical: logical(type) };
    });
    if (schema.length === 0) throw new ProfileRejected("The file has no columns.");
    if (schema.length > opts.maxColumns) throw new ProfileRejected(tooManyColumns(schema.length, opts.maxColumns));
    const rows = Number((await rowsOf(con, "select count(*) as n from t"))[0]!.n);
    if (rows === 0) throw new ProfileRejected("The file has a header but no rows.");

    const columns: ColumnProfile[] = schema.map((col) => ({ name: col.name, type: col.type, logical: col.logical, count: 0, nulls: 0, distinct: 0 }));
    const indexed = columns.map((p, i) => ({ p, i, c: q(p.name) }));

    // Non-null and distinct counts and top values, for every column at once per batch: the
    // batch unpivoted to (column, value) and grouped once. Values compare as text here
    // (DuckDB's text form of a number or time is one-to-one with it). UNPIVOT drops nulls.
    for (const batch of chunks(indexed, BATCH)) {
      const byName = new Map(batch.map(({ p }) => [p.name, p]));
      const casts = batch.map(({ c }) => `${c}::varchar as ${c}`).join(", ");
      const ranked = await rowsOf(
        con,
        `with long as (unpivot (select ${casts} from t) on columns(*) into name k value v),
              g as (select k, v, count(*) as n from long group by k, v)
         select k, v, n, rn, cnt, d from (
           select *, row_number() over (partition by k order by n desc, v) as rn,
                  sum(n) over (partition by k) as cnt, count(*) over (partition by k) as d
           from g)
         where rn <= ${TOP_N} order by k, rn`,
      );
      for (const r of ranked) {
        const p = byName.get(String(r.k));
        if (!p) continue;
        if (Number(r.rn) === 1) {
          p.count = Number(r.cnt);
          p.distinct = Number(r.d);
        }
        if (p.logical !== "numeric") (p.top ??= []).push({ value: String(r.v), count: Number(r.n) });
      }
      for (const { p } of batch) {
        p.nulls = rows - p.count;
        if (p.logical !== "numeric") p.top ??= [];
      }
    }

    // Moments and quantiles for numbers, min/max for times.
    const measured = indexed.filter(({ p }) => p.logical === "numeric" || p.logical === "temporal");
    for (const batch of chunks(measured, BATCH)) {
      const parts = batch.flatMap(({ p, i, c }) =>
        p.logical === "numeric"
          ? [
              `min(${c})::double as mn${i}`,
              `max(${c})::double as mx${i}`,
              `avg(${c})::double as mean${i}`,
              `stddev_samp(${c})::double as sd${i}`,
              `quantile_cont(${c}::double, [0.01, 0.25, 0.5, 0.75, 0.99]) as qs${i}`,
            ]
          : [`min(${c})::varchar as mn${i}`, `max(${c})::varchar as mx${i}`],
      );
      const r = (await rowsOf(con, `select ${parts.join(", ")} from t`))[0]!;
      for (const { p, i } of batch) {
        if (p.logical === "numeric") {
          const qs = (r[`qs${i}`] as { items?: unknown[] } | null)?.items ?? [];
          p.min = num(r[`mn${i}`]);
          p.max = num(r[`mx${i}`]);
          p.mean = num(r[`mean${i}`]);
          p.std = num(r[`sd${i}`]);
          p.quantiles = { p01: num(qs[0]), p25: num(qs[1]), p50: num(qs[2]), p75: num(qs[3]), p99: num(qs[4]) };
        } else {
          p.min = r[`mn${i}`] === null ? null : String(r[`mn${i}`]);
          p.max = r[`mx${i}`] === null ? null : String(r[`mx${i}`]);
        }
      }
    }

    // Histograms: 20 equal bins between min and max, one bin-count map per column.
    const binned = indexed.filter(({ p }) => p.logical === "numeric" && typeof p.min === "number" && typeof p.max === "number" && p.count > 0);
    for (const batch of chunks(binned, BATCH)) {
      const edgesOf = new Map<number, { lo: number; width: number }>();
      const parts = batch.map(({ p, i, c }) => {
        const lo = p.min as number;
        const width = ((p.max as number) - lo) / HIST_BINS || 1;
        edgesOf.set(i, { lo, width });
        return `to_json(histogram(least(greatest(floor((${c}::double - ${lo}) / ${width})::int, 0), ${HIST_BINS - 1})) filter (where ${c} is not null and isfinite(${c}::double)))::varchar as h${i}`;
      });
      const r = (await rowsOf(con, `select ${parts.join(", ")} from t`))[0]!;
      for (const { p, i } of batch) {
        const { lo, width } = edgesOf.get(i)!;
        const counts = new Array<number>(HIST_BINS).fill(0);
        const map = r[`h${i}`] === null ? {} : (JSON.parse(String(r[`h${i}`])) as Record<string, number>);
        for (const [bin, n] of Object.entries(map)) counts[Number(bin)] = Number(n);
        p.histogram = { edges: Array.from({ length: HIST_BINS + 1 }, (_, k) => lo + k * width), counts };
      }
    }

    return { schema, profile: { rows, columns } };
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

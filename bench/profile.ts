/* ---------------------------------------------------------------------------
 * bench/profile: what profiling an uploaded CSV costs as it gets wider.
 *   npm run bench:profile [-- --widths 100,500,2000 --rows 30]
 * Prints, per width: the per-column queries profiling used to run (the baseline, same
 * DuckDB, same file, same run), the batched profiler (workers/inspect/profile-duckdb.ts)
 * in process, and the whole upload-time path (header check + child process), with ratios.
 * Needs no database.
 * ------------------------------------------------------------------------- */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { DuckDBInstance } from "@duckdb/node-api";

const { values } = parseArgs({ options: { widths: { type: "string", default: "100,500,2000" }, rows: { type: "string", default: "30" } } });
const WIDTHS = values.widths.split(",").map(Number);
const ROWS = Number(values.rows);

process.env.DATABASE_URL ??= "postgres://bench@127.0.0.1:1/unused";
process.env.AUTH_SECRET ??= "bench-secret-bench-secret-bench-secret-00";
const { profileFile } = await import("../workers/inspect/profile-duckdb");
const { profileDataset, PROFILE_LIMITS } = await import("../server/registry/profile");
PROFILE_LIMITS.maxColumns = Math.max(...WIDTHS);
PROFILE_LIMITS.timeoutMs = 600_000;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "steward-bench-profile-"));
function wideCsv(cols: number, rows: number) {
  const lines = [Array.from({ length: cols }, (_, i) => `column_${i}`).join(",")];
  for (let r = 0; r < rows; r++) lines.push(Array.from({ length: cols }, (_, i) => (i % 2 ? `t${r}x${i}` : String(r * i + 0.5))).join(","));
  return `${lines.join("\n")}\n`;
}

/** The baseline: one query per column for counts, then moments or top values, as profiling did before batching. */
async function perColumn(file: string, names: string[]) {
  const instance = await DuckDBInstance.create(":memory:", { threads: "2", memory_limit: "1GB" });
  const con = await instance.connect();
  try {
    const cols = names.map((n) => `'${n}': 'VARCHAR'`).join(", ");
    const dialect = `header = true, delim = ',', quote = '"', escape = '"', strict_mode = true`;
    await con.run(`select count(*) from read_csv('${file}', auto_detect = false, ${dialect}, columns = {${cols}})`);
    await con.run(`create table t as select * from read_csv('${file}', ${dialect}, sample_size = -1)`);
    const described = (await con.runAndReadAll("describe t")).getRowObjects();
    for (const r of described) {
      const c = `"${String(r.column_name)}"`;
      await con.runAndReadAll(`select count(${c}) as n, count(distinct ${c}) as d from t`);
      if (String(r.column_type) === "DOUBLE" || String(r.column_type).includes("INT")) {
        await con.runAndReadAll(
          `select min(${c})::double, max(${c})::double, avg(${c})::double, stddev_samp(${c})::double, quantile_cont(${c}::double, [0.01, 0.25, 0.5, 0.75, 0.99]) from t`,
        );
        await con.runAndReadAll(`select floor(${c}::double)::int as b, count(*) from t where ${c} is not null group by 1`);
      } else {
        await con.runAndReadAll(`select ${c}::varchar as v, count(*) as n from t where ${c} is not null group by 1 order by 2 desc, 1 limit 10`);
      }
    }
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

const time = async (fn: () => Promise<unknown>) => {
  const t = performance.now();
  await fn();
  return performance.now() - t;
};
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

const rows: string[] = [];
for (const width of WIDTHS) {
  const file = path.join(dir, `w${width}.csv`);
  fs.writeFileSync(file, wideCsv(width, ROWS));
  const names = Array.from({ length: width }, (_, i) => `column_${i}`);
  const base = await time(() => perColumn(file, names));
  const batched = await time(() => profileFile(file, "csv", { header: { delimiter: ",", names }, maxColumns: width, memoryMb: 1024 }));
  const child = await time(() => profileDataset(file, "csv"));
  const kb = Math.round(fs.statSync(file).size / 1024);
  rows.push(`| ${width} × ${ROWS} (${kb} KB) | ${s(base)} | ${s(batched)} | ${(base / batched).toFixed(1)}× | ${s(child)} |`);
  console.error(rows.at(-1));
}
fs.rmSync(dir, { recursive: true, force: true });
console.log(`\nProfiling a CSV upload (${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(1)})\n`);
console.log("| columns × rows | per-column queries (before) | batched, in process | speed-up | upload path (header check + child process) |");
console.log("|---|---|---|---|---|");
for (const r of rows) console.log(r);

import "server-only";
import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import type { ColumnSchema, DatasetProfile } from "~/db/schema/registry";
import { env } from "~/env";
import { AppError } from "~/server/errors";
import { tooManyColumns } from "./profile-messages";

/**
 * The profiler's budget. Wide files cost DuckDB far more than their size, so profiling runs
 * in a child process that is killed past the time or the memory, and files wider than
 * maxColumns are refused before DuckDB sees them. Tests lower these.
 */
export const PROFILE_LIMITS = {
  timeoutMs: env.DATASET_PROFILE_TIMEOUT_SECONDS * 1000,
  rssBytes: env.DATASET_PROFILE_MEMORY_MB * 1024 ** 2,
  maxColumns: env.DATASET_MAX_COLUMNS,
  /** Profilers one web process runs at once; more uploads wait their turn (each may use the whole memory budget). */
  concurrency: 2,
};

let running = 0;
const waiting: (() => void)[] = [];
async function slot() {
  if (running >= PROFILE_LIMITS.concurrency) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  return () => {
    running--;
    waiting.shift()?.();
  };
}

/** The header line is read by hand; one longer than this is not a header anyone means. */
const MAX_HEADER_BYTES = 1024 ** 2;

async function checkCsvHeader(file: string, maxColumns: number): Promise<{ delimiter: string; names: string[] }> {
  const handle = await fs.open(file, "r");
  try {
    const buf = Buffer.alloc(MAX_HEADER_BYTES);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    const text = buf.subarray(0, bytesRead).toString("utf8");
    const end = text.search(/\r?\n/);
    if (end === -1 && bytesRead === buf.length) {
      throw new AppError("INVALID", "The CSV file's first line is longer than 1 MiB; it must be a header row of column names.", { field: "file" });
    }
    const line = end === -1 ? text : text.slice(0, end);
    if (!line.trim())
      throw new AppError("INVALID", "The CSV file has an empty first line; it must start with a header row of column names.", { field: "file" });
    const delimiter = [",", ";", "\t", "|"].map((d) => [d, line.split(d).length] as const).sort((a, b) => b[1] - a[1])[0]![0];
    const names = line.split(delimiter).map((n) => n.trim().replace(/^"(.*)"$/, "$1"));
    // Before anything else: a wide file is refused in milliseconds, not profiled for minutes.
    if (names.length > maxColumns) throw new AppError("INVALID", tooManyColumns(names.length, maxColumns), { field: "file" });
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

async function rssOf(pid: number) {
  const status = await fs.readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
  const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
  return kb ? Number(kb) * 1024 : 0;
}

type ChildReply = { ok: true; schema: ColumnSchema[]; profile: DatasetProfile } | { ok: false; message: string | null };

/**
 * Infers the schema and profile of a staged CSV or Parquet file (see
 * workers/inspect/profile-duckdb.ts) in a child process with a time and memory budget and
 * a column limit. Throws AppError("INVALID") with the reason for bad, too wide or too
 * costly files. `file` is a staging path Steward created.
 */
export async function profileDataset(file: string, format: "csv" | "parquet"): Promise<{ schema: ColumnSchema[]; profile: DatasetProfile }> {
  const limits = { ...PROFILE_LIMITS };
  const header = format === "csv" ? await checkCsvHeader(file, limits.maxColumns) : null;
  const release = await slot();
  try {
    return await runProfiler(file, format, limits, header);
  } finally {
    release();
  }
}

async function runProfiler(
  file: string,
  format: "csv" | "parquet",
  limits: typeof PROFILE_LIMITS,
  header: { delimiter: string; names: string[] } | null,
): Promise<{ schema: ColumnSchema[]; profile: DatasetProfile }> {
  const budgetMb = Math.floor(limits.rssBytes / 1024 ** 2);
  // DuckDB spills or fails within its own limit before the watchdog has to kill the process.
  const args = { file, format, header, maxColumns: limits.maxColumns, memoryMb: Math.max(128, Math.floor(budgetMb * 0.6)) };
  const child = spawn(
    process.execPath,
    [
      "--max-old-space-size=512",
      "--import",
      "tsx",
      "--import",
      "./bin/hooks/register.js",
      path.join("workers", "inspect", "profile-child.ts"),
      JSON.stringify(args),
    ],
    // The child gets no configuration or secrets: only PATH.
    // eslint-disable-next-line no-restricted-properties
    { cwd: process.cwd(), stdio: ["ignore", "pipe", "pipe"], env: { PATH: process.env.PATH, NODE_ENV: "production" } },
  );
  let out = "";
  let err = "";
  let killedFor: string | null = null;
  const kill = (why: string) => {
    if (killedFor) return;
    killedFor = why;
    child.kill("SIGKILL");
  };
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const seconds = Math.round(limits.timeoutMs / 100) / 10;
  const timer = setTimeout(
    () =>
      kill(
        `Profiling the dataset took longer than its budget of ${seconds} s (DATASET_PROFILE_TIMEOUT_SECONDS) and was stopped; nothing was stored. Wide files cost the most: split it into narrower files, or ask the administrator to raise the budget.`,
      ),
    limits.timeoutMs,
  );
  const watch = setInterval(() => {
    void rssOf(child.pid!).then((rss) => {
      if (rss > limits.rssBytes) {
        kill(
          `Profiling the dataset needed more than its memory budget of ${budgetMb} MiB (DATASET_PROFILE_MEMORY_MB) and was stopped; nothing was stored. Split it into smaller files, or ask the administrator to raise the budget.`,
        );
      }
    });
  }, 100);
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  clearTimeout(timer);
  clearInterval(watch);
  if (killedFor) throw new AppError("INVALID", killedFor, { field: "file" });
  let reply: ChildReply | undefined;
  try {
    const last = out.trim().split("\n").pop();
    reply = last ? (JSON.parse(last) as ChildReply) : undefined;
  } catch {
    reply = undefined;
  }
  if (!reply || (!reply.ok && reply.message === null)) {
    console.error(`[profile] child exited with ${code}: ${err}`);
    throw new AppError(
      "INVALID",
      "The dataset could not be profiled: the profiler stopped without an answer. Check that the file is a valid CSV or Parquet file.",
      { field: "file" },
    );
  }
  if (!reply.ok) throw new AppError("INVALID", reply.message!, { field: "file" });
  return { schema: reply.schema, profile: reply.profile };
}

import { createHmac } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { getDb } from "~/db/client";
import { env } from "~/env";
import { predictionLogs, type PredictionLogRow } from "~/db/schema";
import type { SensitiveInput } from "~/db/schema/serving";

/*
 * Prediction logs leave the request path: requests push into a bounded buffer, a timer
 * writes it in batches. Serving never waits for the database; when the buffer is full a
 * record is dropped and counted (exposed in /metrics), never silently lost.
 */

const BATCH = 500;
const PARALLEL = 4;

/*
 * The log's own small pool (node-postgres with pg-copy-streams; sockets with Nagle's
 * algorithm off), so requests never wait behind a COPY. Not postgres.js here: its COPY
 * stream never settles when the server refuses the data (a jsonb value it cannot hold),
 * which would stall the log; pg-copy-streams fails the stream with the server's error.
 */
let pool: pg.Pool | null = null;
function logPool() {
  if (!pool) {
    pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: PARALLEL, application_name: "steward-prediction-log", connectionTimeoutMillis: 5000 });
    // An idle connection the server ends (a restart: 57P01) is an 'error' event on the pool,
    // which would kill the process unheard. The pool drops that client and connects anew.
    pool.on("error", (err) => console.error("[inference] prediction log connection lost:", err.message));
  }
  return pool;
}
export async function closeLogPool() {
  await pool?.end();
  pool = null;
}

export class PredictionLog {
  private buf: PredictionLogRow[] = [];
  private timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  dropped = 0;
  written = 0;
  failedWrites = 0;
  /** Since when writes have failed because the database is unreachable (null: they succeed). */
  unreachableSince: number | null = null;
  constructor(
    private capacity = 50_000,
    intervalMs = 500,
  ) {
    this.timer = setInterval(() => void this.flush(), intervalMs);
  }
  get size() {
    return this.buf.length;
  }
  push(row: PredictionLogRow) {
    if (this.buf.length >= this.capacity) {
      this.dropped++;
      return false;
    }
    this.buf.push(row);
    return true;
  }
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      while (this.buf.length) {
        // Up to PARALLEL batches at once, each its own COPY on its own connection: a COPY
        // waits ~40 ms for a delayed ACK (postgres.js sends the data and its end as two TCP
        // segments), so overlapping them is what keeps ingest ahead of a busy replica.
        const batches: PredictionLogRow[][] = [];
        while (this.buf.length && batches.length < PARALLEL) batches.push(this.buf.splice(0, BATCH));
        const results = await Promise.allSettled(batches.map((b) => copyRows(b)));
        let unreachable: unknown = null;
        for (const [i, r] of results.entries()) {
          const batch = batches[i]!;
          if (r.status === "fulfilled") {
            this.written += batch.length;
            continue;
          }
          this.failedWrites++;
          const code = (r.reason as { code?: string }).code ?? "";
          if (code.startsWith("22") || code.startsWith("23")) {
            // A record the database refuses (bad data): write the others one by one, count the rest.
            for (const row of batch) {
              try {
                await getDb().insert(predictionLogs).values(row);
                this.written++;
              } catch {
                this.dropped++;
              }
            }
            console.error("[inference] prediction log: a record was refused:", (r.reason as Error).message);
            continue;
          }
          // The database is unreachable: put them back (within capacity) and try again next tick.
          const room = Math.max(0, this.capacity - this.buf.length);
          this.buf.unshift(...batch.slice(0, room));
          this.dropped += batch.length - Math.min(room, batch.length);
          unreachable = r.reason;
        }
        if (unreachable) {
          // Once per outage, not every tick: the buffer holds the records meanwhile.
          if (this.unreachableSince === null)
            console.error(
              `[inference] prediction log cannot be written (${(unreachable as Error).message}); buffering up to ${this.capacity.toLocaleString("en")} records`,
            );
          this.unreachableSince ??= Date.now();
          return;
        }
        if (this.unreachableSince !== null) {
          console.log(
            `[inference] prediction log written again after ${((Date.now() - this.unreachableSince) / 1000).toFixed(1)} s (${this.dropped} record(s) dropped so far)`,
          );
          this.unreachableSince = null;
        }
        // Let requests in between rounds: encoding batches is the HTTP thread's work.
        await new Promise((r) => setImmediate(r));
      }
    });
    return this.flushing;
  }
  async close() {
    clearInterval(this.timer);
    await this.flush();
    // Stopping while the database is away: what could not be written is counted, not forgotten.
    if (this.buf.length) console.error(`[inference] prediction log: ${this.buf.length} record(s) not written at shutdown (database unreachable)`);
    this.dropped += this.buf.length;
    this.buf = [];
    await closeLogPool();
  }
}

/*
 * COPY's text format: only backslash, newline, carriage return and tab need escaping, and
 * JSON.stringify never emits the last three raw — so a JSON value is copied as it is
 * unless it holds a backslash (CSV would double every one of its many quotes).
 */
const text = (v: string) =>
  /[\\\n\r\t]/.test(v) ? v.replace(/[\\\n\r\t]/g, (c) => (c === "\\" ? "\\\\" : c === "\n" ? "\\n" : c === "\r" ? "\\r" : "\\t")) : v;
const json = (v: unknown) => {
  if (v === null || v === undefined) return "\\N";
  const s = JSON.stringify(v);
  return s.includes("\\") ? s.replaceAll("\\", "\\\\") : s;
};

/** One COPY per batch: the cheapest way into Postgres for both sides (no per-row statement). */
export function encodeRows(rows: PredictionLogRow[]) {
  let out = "";
  for (const r of rows) {
    out += `${r.at.toISOString()}\t${text(r.requestId)}\t${r.workspaceId}\t${r.deploymentId}\t${r.modelVersionId}\t${r.role}\t${r.status}\t${r.latencyMs}\t${r.rows}\t${json(r.inputs)}\t${json(r.outputs)}\t${r.error == null ? "\\N" : text(r.error)}\n`;
  }
  return out;
}

async function copyRows(rows: PredictionLogRow[]) {
  const client = await logPool().connect();
  // A checked-out client has no listener of the pool's: its socket dying between queries
  // would be an unhandled 'error' event. The COPY itself fails with the same error.
  const onError = (err: Error) => console.error("[inference] prediction log connection lost:", err.message);
  client.on("error", onError);
  let failure: Error | undefined;
  try {
    const sink = client.query(
      copyFrom(
        "copy prediction_logs (at, request_id, workspace_id, deployment_id, model_version_id, role, status, latency_ms, rows, inputs, outputs, error) from stdin",
      ),
    );
    await pipeline(Readable.from([encodeRows(rows)]), sink);
  } catch (err) {
    failure = err as Error;
    throw err;
  } finally {
    client.removeListener("error", onError);
    // A connection that failed is discarded rather than handed to the next batch; one whose
    // data the server refused is still sound.
    const code = (failure as { code?: string } | undefined)?.code ?? "";
    client.release(failure && !code.startsWith("22") && !code.startsWith("23") ? failure : undefined);
  }
}

/** Drops or hashes (HMAC-SHA256 with the server's key) the inputs marked sensitive. */
export function redact(inputs: Record<string, unknown>, sensitive: SensitiveInput[], key: string): Record<string, unknown> {
  if (!sensitive.length) return inputs;
  const hash = (v: unknown) => `hmac:${createHmac("sha256", key).update(JSON.stringify(v)).digest("hex").slice(0, 32)}`;
  const apply = (obj: Record<string, unknown>) => {
    const out: Record<string, unknown> = { ...obj };
    for (const s of sensitive) {
      if (!(s.name in out)) continue;
      if (s.mode === "drop") delete out[s.name];
      else out[s.name] = Array.isArray(out[s.name]) ? (out[s.name] as unknown[]).map(hash) : hash(out[s.name]);
    }
    return out;
  };
  if (Array.isArray(inputs.instances)) return { instances: (inputs.instances as Record<string, unknown>[]).map(apply) };
  if (inputs.inputs && typeof inputs.inputs === "object") return { inputs: apply(inputs.inputs as Record<string, unknown>) };
  return apply(inputs);
}

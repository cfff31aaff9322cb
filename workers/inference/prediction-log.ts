import { createHmac } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import net from "node:net";
import postgres from "postgres";
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
 * The log's own small pool, on sockets with Nagle's algorithm off: postgres.js sends a
 * COPY's data and its end as two TCP segments, and with Nagle on each COPY then waits for
 * a delayed ACK (~40 ms). Requests never touch this pool.
 */
let pool: ReturnType<typeof postgres> | null = null;
function logSql() {
  if (pool) return pool;
  const options: postgres.Options<Record<string, never>> = { max: PARALLEL, onnotice: () => undefined, connection: { application_name: "steward-prediction-log" } };
  // `socket` is a documented postgres.js option its types do not declare.
  Object.assign(options, {
    socket: (o: { host: string[]; port: number[]; path?: string }) =>
      new Promise<net.Socket>((resolve, reject) => {
        const s = o.path ? net.connect(o.path) : net.connect({ host: o.host[0], port: o.port[0] ?? 5432, noDelay: true });
        s.setNoDelay(true);
        s.once("connect", () => resolve(s));
        s.once("error", reject);
      }),
  });
  pool = postgres(env.DATABASE_URL, options);
  return pool;
}
export async function closeLogPool() {
  await pool?.end({ timeout: 5 });
  pool = null;
}

export class PredictionLog {
  private buf: PredictionLogRow[] = [];
  private timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  dropped = 0;
  written = 0;
  failedWrites = 0;
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
          console.error("[inference] prediction log write failed:", (unreachable as Error).message);
          return;
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
    await closeLogPool();
  }
}

const csv = (v: string) => `"${v.replaceAll('"', '""')}"`;
const json = (v: unknown) => (v === null || v === undefined ? "" : csv(JSON.stringify(v)));

/** One COPY per batch: the cheapest way into Postgres for both sides (no per-row statement). */
async function copyRows(rows: PredictionLogRow[]) {
  let text = "";
  for (const r of rows) {
    text += `${r.at.toISOString()},${csv(r.requestId)},${r.workspaceId},${r.deploymentId},${r.modelVersionId},${r.role},${r.status},${r.latencyMs},${r.rows},${json(r.inputs)},${json(r.outputs)},${r.error == null ? "" : csv(r.error)}\n`;
  }
  const sink = await logSql()`copy prediction_logs (at, request_id, workspace_id, deployment_id, model_version_id, role, status, latency_ms, rows, inputs, outputs, error) from stdin with (format csv)`.writable();
  await pipeline(Readable.from([text]), sink);
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

import { createHmac } from "node:crypto";
import { getDb } from "~/db/client";
import { predictionLogs, type PredictionLogRow } from "~/db/schema";
import type { SensitiveInput } from "~/db/schema/serving";

/*
 * Prediction logs leave the request path: requests push into a bounded buffer, a timer
 * writes it in batches. Serving never waits for the database; when the buffer is full a
 * record is dropped and counted (exposed in /metrics), never silently lost.
 */

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
        const batch = this.buf.splice(0, 2000);
        try {
          await getDb().insert(predictionLogs).values(batch);
          this.written += batch.length;
        } catch (err) {
          this.failedWrites++;
          // Put them back (within capacity) and try again next tick.
          const room = Math.max(0, this.capacity - this.buf.length);
          this.buf.unshift(...batch.slice(0, room));
          this.dropped += batch.length - Math.min(room, batch.length);
          console.error("[inference] prediction log write failed:", (err as Error).message);
          return;
        }
      }
    });
    return this.flushing;
  }
  async close() {
    clearInterval(this.timer);
    await this.flush();
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

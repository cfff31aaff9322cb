import path from "node:path";
import { Worker } from "node:worker_threads";
import type { TensorData } from "~/server/shared/tensors";

/*
 * A small pool of inference threads (one per core by default). Every thread loads
 * every active model version, so any thread can serve any request; a request goes to
 * the thread with the fewest in flight. The HTTP thread never calls onnxruntime.
 */

type Pending = { resolve: (v: Reply) => void };
type Reply = { ok: boolean; error?: string; outputs?: Record<string, TensorData>; ms?: number };

class Thread {
  readonly worker: Worker;
  inFlight = 0;
  private seq = 0;
  private pending = new Map<number, Pending>();
  dead: Error | null = null;
  constructor(file: string, nice: number) {
    this.worker = new Worker(file, { workerData: { nice } });
    this.worker.on("message", (m: Reply & { id: number }) => {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      p?.resolve(m);
    });
    this.worker.on("error", (err) => this.fail(err));
    this.worker.on("exit", (code) => this.fail(new Error(`inference thread exited (${code})`)));
  }
  private fail(err: Error) {
    this.dead = err;
    for (const p of this.pending.values()) p.resolve({ ok: false, error: err.message });
    this.pending.clear();
  }
  call(msg: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<Reply> {
    if (this.dead) return Promise.resolve({ ok: false, error: this.dead.message });
    const id = ++this.seq;
    return new Promise((resolve) => {
      this.pending.set(id, { resolve });
      this.worker.postMessage({ ...msg, id }, transfer);
    });
  }
}

export class InferencePool {
  private threads: Thread[];
  /** `nice`: the inference threads' CPU niceness relative to the calling thread (0 = same). */
  constructor(size: number, nice = 10) {
    const file = path.join(import.meta.dirname, "thread.mjs");
    this.threads = Array.from({ length: Math.max(1, size) }, () => new Thread(file, nice));
  }
  get size() {
    return this.threads.length;
  }
  get inFlight() {
    return this.threads.reduce((a, t) => a + t.inFlight, 0);
  }
  /** Threads with nothing to do: a batcher sends at once while there is one. */
  get idle() {
    return this.threads.reduce((a, t) => a + (!t.dead && t.inFlight === 0 ? 1 : 0), 0);
  }
  private idleListeners = new Set<() => void>();
  /** Called whenever a thread finishes its last run; returns the unsubscribe function. */
  onIdle(fn: () => void) {
    this.idleListeners.add(fn);
    return () => this.idleListeners.delete(fn);
  }
  /**
   * Loads a session on every thread (warm before use); rejects with onnxruntime's reason.
   * A single model is read as bytes; a bundle's model (`fromPath`) from its path, so its
   * external data resolves in its materialised folder.
   */
  async load(key: string, file: string, threads: number, fromPath = false) {
    const replies = await Promise.all(this.threads.map((t) => t.call({ op: "load", key, file, threads, fromPath })));
    const bad = replies.find((r) => !r.ok);
    if (bad) throw new Error(bad.error);
  }
  async unload(key: string) {
    await Promise.all(this.threads.map((t) => t.call({ op: "unload", key })));
  }
  async run(key: string, feeds: Record<string, TensorData>): Promise<{ outputs: Record<string, TensorData>; ms: number }> {
    const t = this.threads.filter((x) => !x.dead).sort((a, b) => a.inFlight - b.inFlight)[0];
    if (!t) throw new Error("no inference thread is alive");
    t.inFlight++;
    try {
      // Move the input buffers to the thread instead of copying them (the caller is done with them).
      const transfer: ArrayBuffer[] = [];
      for (const f of Object.values(feeds)) {
        if (Array.isArray(f.data)) continue;
        const buf = f.data.buffer;
        if (buf instanceof ArrayBuffer && f.data.byteOffset === 0 && f.data.byteLength === buf.byteLength && !transfer.includes(buf)) transfer.push(buf);
      }
      const r = await t.call({ op: "run", key, feeds }, transfer);
      if (!r.ok) throw new ModelRunError(r.error ?? "the model failed");
      return { outputs: r.outputs!, ms: r.ms ?? 0 };
    } finally {
      t.inFlight--;
      if (t.inFlight === 0) for (const fn of this.idleListeners) fn();
    }
  }
  async close() {
    await Promise.all(this.threads.map((t) => t.worker.terminate()));
  }
}

export class ModelRunError extends Error {}

/* ---------------------------------------------------------------------------
 * One inference thread: holds onnxruntime sessions for the life of a model
 * version (creating and releasing sessions leaks; reuse does not), runs what the
 * main thread sends, returns the outputs with their buffers transferred.
 * ------------------------------------------------------------------------- */
import fs from "node:fs";
import os from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import { InferenceSession, Tensor } from "onnxruntime-node";

// Inference runs at a lower CPU priority than the HTTP thread, so on a saturated machine
// the thread that accepts, parses and answers requests is scheduled first (Linux sets
// niceness per thread; elsewhere this is a no-op).
try {
  const tid = Number(fs.readlinkSync("/proc/thread-self").split("/").pop());
  if (tid > 0 && workerData?.nice) os.setPriority(tid, workerData.nice);
} catch {
  /* not Linux, or not permitted: same priority as the HTTP thread */
}

// Plain JavaScript: worker threads do not inherit the TypeScript loader.
// message: { op: "load", id, key, file, threads, fromPath } | { op: "unload", id, key } | { op: "run", id, key, feeds }

/** @type {Map<string, Promise<import("onnxruntime-node").InferenceSession>>} */
const sessions = new Map();

parentPort.on("message", (m) => {
  void (async () => {
    try {
      if (m.op === "load") {
        if (!sessions.has(m.key)) {
          const p = InferenceSession.create(m.fromPath ? m.file : fs.readFileSync(m.file), {
            executionProviders: ["cpu"],
            intraOpNumThreads: m.threads,
            interOpNumThreads: 1,
            graphOptimizationLevel: "all",
          });
          sessions.set(m.key, p);
          p.catch(() => sessions.delete(m.key));
        }
        const s = await sessions.get(m.key);
        parentPort.postMessage({ id: m.id, ok: true, inputNames: s.inputNames, outputNames: s.outputNames });
      } else if (m.op === "unload") {
        const s = sessions.get(m.key);
        sessions.delete(m.key);
        if (s) await (await s).release();
        parentPort.postMessage({ id: m.id, ok: true });
      } else {
        const s = await sessions.get(m.key);
        if (!s) throw new Error(`session ${m.key} is not loaded on this thread`);
        const feeds = {};
        for (const [k, f] of Object.entries(m.feeds)) feeds[k] = new Tensor(f.type, f.data, f.dims);
        const t0 = performance.now();
        const out = await s.run(feeds);
        const ms = performance.now() - t0;
        const outputs = {};
        const transfer = [];
        for (const [k, t] of Object.entries(out)) {
          outputs[k] = { type: t.type, data: t.data, dims: [...t.dims] };
          const buf = t.data.buffer;
          if (buf instanceof ArrayBuffer && !transfer.includes(buf)) transfer.push(buf);
        }
        parentPort.postMessage({ id: m.id, ok: true, outputs, ms }, transfer);
      }
    } catch (err) {
      parentPort.postMessage({ id: m.id, ok: false, error: (err instanceof Error ? err.message : String(err)).split("\n")[0].slice(0, 500) });
    }
  })();
});

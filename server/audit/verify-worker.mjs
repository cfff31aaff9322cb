// A worker thread of the parallel offline verifier (verify-parallel.ts): scans the block of
// event lines it is sent, over the export's shared memory, and answers what scanBlock says.
// Plain JavaScript so the thread starts without the caller's loader; it registers tsx for
// the TypeScript it imports.
import { parentPort } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
const { scanBlock } = await import("./verify-bytes.ts");
parentPort.on("message", ({ shared, start, end, plan }) => {
  try {
    parentPort.postMessage({ ok: true, block: scanBlock(Buffer.from(shared), start, end, plan) });
  } catch (err) {
    parentPort.postMessage({ ok: false, error: String(err?.stack ?? err) });
  }
});

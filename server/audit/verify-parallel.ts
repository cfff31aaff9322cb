import fs from "node:fs";
import os from "node:os";
import { Worker } from "node:worker_threads";
import type { PublishedCheckpoint, TrustedKeys } from "./verify";
import { joinBlocks, planFormat2, readExportHeader, scanBlock, splitLines, verifyExportBytes, type BlockResult, type ExportVerification } from "./verify-bytes";

/*
 * `steward audit verify` on several cores: the export is read once into shared memory, its
 * event lines are split into one block per thread at line boundaries, every thread (this one
 * included) hashes its block and checks the links inside it, and this thread joins the blocks
 * (the link across each boundary, order, checkpoints, signatures). Same report as
 * verifyExportBytes, which it falls back to for small or format 1 exports.
 * Kept apart from verify-bytes.ts so the web server's bundle never sees a Worker.
 */

/**
 * Below this, starting threads costs more than it saves: each thread loads the verifier
 * through tsx (~0.4 s here). Measured on 2 cores: at 145 MB (200,000 events) two threads
 * were no faster than one; at 727 MB (1,000,000) 1.3× (docs/PERFORMANCE.md).
 */
const MIN_PARALLEL_BYTES = 256 * 1024 * 1024;

export type ParallelOptions = { threads?: number; minBytes?: number };

/** Reads `file` into shared memory and verifies it (see above). */
export async function verifyExportFile(
  file: string,
  keys: TrustedKeys,
  published?: PublishedCheckpoint[],
  opts: ParallelOptions = {},
): Promise<ExportVerification & { threads: number }> {
  const size = fs.statSync(file).size;
  const shared = new SharedArrayBuffer(size);
  const view = new Uint8Array(shared);
  const fd = fs.openSync(file, "r");
  try {
    for (let off = 0; off < size;) {
      const n = fs.readSync(fd, view, off, size - off, off);
      if (n === 0) throw new Error(`${file} shrank while it was read`);
      off += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return verifyShared(shared, keys, published, opts);
}

/** Verifies an export already in shared memory. */
export async function verifyShared(
  shared: SharedArrayBuffer,
  keys: TrustedKeys,
  published?: PublishedCheckpoint[],
  opts: ParallelOptions = {},
): Promise<ExportVerification & { threads: number }> {
  const buf = Buffer.from(shared);
  const threads = Math.max(1, Math.min(opts.threads ?? os.availableParallelism(), 16));
  const single = () => ({ ...verifyExportBytes(buf, keys, published), threads: 1 });
  if (threads === 1 || buf.length < (opts.minBytes ?? MIN_PARALLEL_BYTES)) return single();
  const { header, end } = readExportHeader(buf);
  if (header.version !== 2) return single();
  // Threads start while this one reads the checkpoints and splits the events.
  const workers = Array.from({ length: threads - 1 }, () => new Worker(new URL("./verify-worker.mjs", import.meta.url)));
  try {
    const plan = planFormat2(buf, end, keys, published);
    if (!plan) return single();
    const ranges = splitLines(buf, plan.eventsStart, plan.eventsEnd, threads);
    const part = { fromGenesis: plan.fromGenesis, wanted: plan.wanted, keepFrom: plan.keepFrom };
    const theirs = ranges.slice(1).map(
      ([start, stop], i) =>
        new Promise<BlockResult | null>((resolve, reject) => {
          const w = workers[i]!;
          w.once("message", (m: { ok: true; block: BlockResult | null } | { ok: false; error: string }) =>
            m.ok ? resolve(m.block) : reject(new Error(m.error)),
          );
          w.once("error", reject);
          w.postMessage({ shared, start, end: stop, plan: part });
        }),
    );
    const mine = scanBlock(buf, ranges[0]![0], ranges[0]![1], part);
    const blocks = [mine, ...(await Promise.all(theirs))];
    if (blocks.some((b) => !b)) return single();
    return { report: joinBlocks(buf, blocks as BlockResult[], plan, keys, published), format: 2, threads: ranges.length };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

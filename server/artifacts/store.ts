import "server-only";
import { createHash, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { env } from "~/env";
import { AppError } from "~/server/errors";

/**
 * Content-addressed artifact store on a local folder: blobs live at
 * sha256/<aa>/<hash>. Uploads stream to a staging file, hashed and counted on the way,
 * and only become blobs after they were inspected; same bytes, same key.
 */
export type Staged = { sha256: string; size: number; path: string; discard: () => Promise<void> };

const root = () => path.resolve(env.ARTIFACT_DIR);
const blobPath = (sha: string) => path.join(root(), "sha256", sha.slice(0, 2), sha);

export function formatBytes(n: number) {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
}

/** Streams `body` to a staging file; refuses past `limit` bytes and leaves nothing behind. */
export async function stage(body: Readable | ReadableStream<Uint8Array>, limit = env.UPLOAD_LIMIT_BYTES): Promise<Staged> {
  const dir = path.join(root(), "staging");
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, randomUUID());
  const hash = createHash("sha256");
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (size > limit) return cb(new AppError("INVALID", `The upload is larger than the limit of ${formatBytes(limit)}.`, { field: "file" }));
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  const source = body instanceof Readable ? body : Readable.fromWeb(body as WebReadableStream<Uint8Array>);
  try {
    await pipeline(source, meter, createWriteStream(file, { flags: "wx" }));
  } catch (err) {
    await fs.rm(file, { force: true });
    if (err instanceof AppError) throw err;
    throw new AppError("INVALID", "The upload was interrupted before it finished. Nothing was stored.", { cause: err, field: "file" });
  }
  if (size === 0) {
    await fs.rm(file, { force: true });
    throw new AppError("INVALID", "The file is empty.", { field: "file" });
  }
  return { sha256: hash.digest("hex"), size, path: file, discard: () => fs.rm(file, { force: true }) };
}

/** Moves a staged upload into place under its hash (a no-op if those bytes are stored already). */
export async function commit(staged: Staged): Promise<{ created: boolean }> {
  const target = blobPath(staged.sha256);
  await fs.mkdir(path.dirname(target), { recursive: true });
  try {
    await fs.link(staged.path, target);
    await staged.discard();
    return { created: true };
  } catch (err) {
    await staged.discard();
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return { created: false };
    throw err;
  }
}

export async function removeBlob(sha256: string) {
  await fs.rm(blobPath(sha256), { force: true });
}

export async function blobExists(sha256: string) {
  return fs.stat(blobPath(sha256)).then(
    () => true,
    () => false,
  );
}

export function openBlob(sha256: string) {
  return createReadStream(blobPath(sha256));
}

export async function readBlob(sha256: string) {
  return fs.readFile(blobPath(sha256));
}

/** Only for readers that need a file (DuckDB); never derived from client input. */
export function localBlobPath(sha256: string) {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error("not a sha256");
  return blobPath(sha256);
}

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
import { formatBytes } from "~/server/shared/format";

/**
 * Content-addressed artifact store. Uploads stream to a local staging file, hashed and
 * counted on the way, are inspected there, and only then become blobs keyed by their
 * sha256 — in a local folder (ARTIFACT_DIR) or an S3-compatible bucket
 * (ARTIFACT_STORE=s3://bucket/prefix). Same bytes, same key.
 */
export type Staged = { sha256: string; size: number; path: string; discard: () => Promise<void> };

export interface BlobBackend {
  readonly kind: "local" | "s3";
  /** Stores a staged file under its hash; `created: false` when those bytes were there already. */
  put(staged: Staged): Promise<{ created: boolean }>;
  remove(sha256: string): Promise<void>;
  open(sha256: string): Promise<Readable>;
}

const localRoot = () => path.resolve(env.ARTIFACT_DIR);
const localPath = (sha: string) => path.join(localRoot(), "sha256", sha.slice(0, 2), sha);

const localBackend: BlobBackend = {
  kind: "local",
  async put(staged) {
    const target = localPath(staged.sha256);
    await fs.mkdir(path.dirname(target), { recursive: true });
    try {
      await fs.link(staged.path, target);
      return { created: true };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") return { created: false };
      throw err;
    }
  },
  remove: (sha) => fs.rm(localPath(sha), { force: true }),
  open: async (sha) => createReadStream(localPath(sha)),
};

let backend: BlobBackend | undefined;

/** The configured backend, created on first use (the S3 SDK loads only when configured). */
export async function blobs(): Promise<BlobBackend> {
  if (backend) return backend;
  if (!env.ARTIFACT_STORE) return (backend = localBackend);
  const { s3Backend } = await import("./s3-backend");
  return (backend = s3Backend(env.ARTIFACT_STORE, { endpoint: env.S3_ENDPOINT, region: env.S3_REGION, forcePathStyle: env.S3_FORCE_PATH_STYLE }));
}

/** Streams `body` to a staging file; refuses past `limit` bytes and leaves nothing behind. */
export async function stage(body: Readable | ReadableStream<Uint8Array>, limit = env.UPLOAD_LIMIT_BYTES): Promise<Staged> {
  const dir = path.join(localRoot(), "staging");
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

/** Moves a staged upload into the store under its hash and removes the staging file. */
export async function commit(staged: Staged): Promise<{ created: boolean }> {
  try {
    return await (await blobs()).put(staged);
  } finally {
    await staged.discard();
  }
}

export async function removeBlob(sha256: string) {
  await (await blobs()).remove(sha256);
}

export async function openBlob(sha256: string) {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error("not a sha256");
  return (await blobs()).open(sha256);
}

/**
 * A local file with the blob's bytes, for tools that read paths (DuckDB, onnxruntime in
 * a step process): the stored file itself for the local backend, a temporary copy for S3.
 */
export async function materialize(sha256: string): Promise<{ path: string; release: () => Promise<void> }> {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error("not a sha256");
  const b = await blobs();
  if (b.kind === "local") return { path: localPath(sha256), release: async () => undefined };
  const dir = path.join(localRoot(), "staging");
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, `${randomUUID()}.blob`);
  await pipeline(await b.open(sha256), createWriteStream(file, { flags: "wx" }));
  return { path: file, release: () => fs.rm(file, { force: true }) };
}

/** Stores a file the server wrote itself (a step's artifact) under its hash. */
export async function storeFile(file: string): Promise<{ sha256: string; size: number }> {
  const staged = await stage(createReadStream(file), Number.MAX_SAFE_INTEGER);
  await commit(staged);
  return { sha256: staged.sha256, size: staged.size };
}

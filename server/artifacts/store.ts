import "server-only";
import { createHash, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { Readable, Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { env } from "~/env";
import { AppError } from "~/server/errors";
import { formatBytes } from "~/server/shared/format";
import { materialiseBundleDir } from "./bundle";

/**
 * Content-addressed artifact store. Uploads stream to a local staging file, hashed and
 * counted on the way, are inspected there, and only then become blobs keyed by their
 * sha256 — in a local folder (ARTIFACT_DIR) or an S3-compatible bucket
 * (ARTIFACT_STORE=s3://bucket/prefix). Same bytes, same key.
 */
export type Staged = { sha256: string; size: number; path: string; discard: () => Promise<void> };

export type ByteRange = { start: number; end: number };

export interface BlobBackend {
  readonly kind: "local" | "s3";
  /** Stores a staged file under its hash; `created: false` when those bytes were there already. */
  put(staged: Staged): Promise<{ created: boolean }>;
  remove(sha256: string): Promise<void>;
  /** The blob's bytes, or only `start`–`end` (inclusive, as HTTP ranges count). */
  open(sha256: string, range?: ByteRange): Promise<Readable>;
  /** Named objects beside the blobs (published audit checkpoints), written once and never overwritten: `created: false` and the stored bytes when the key exists. */
  putOnce(key: string, body: Buffer): Promise<{ created: boolean; existing?: Buffer }>;
  /** A named object's bytes, or null. */
  get(key: string): Promise<Buffer | null>;
  /** The keys under `prefix` (a folder, ending in "/"), in key order, after `startAfter` when given. */
  list(prefix: string, startAfter?: string): Promise<string[]>;
}

/** Named-object keys are plain relative paths: no "..", no leading slash. */
export function checkObjectKey(key: string) {
  if (!/^[a-z0-9][a-z0-9/_.-]*$/i.test(key) || key.split("/").some((p) => p === "" || p === "." || p === "..")) throw new Error(`not an object key: ${key}`);
  return key;
}

const localRoot = () => path.resolve(env.ARTIFACT_DIR);

let rootReady: Promise<void> | undefined;
/**
 * The local store holds every workspace's blobs: only the Steward user may enter it (0700),
 * however it was created. Command steps never see it (their sandbox mounts none of it);
 * this is the second wall.
 */
function privateRoot() {
  return (rootReady ??= (async () => {
    const root = localRoot();
    await fs.mkdir(root, { recursive: true, mode: 0o700 });
    const { mode } = await fs.stat(root);
    if (mode & 0o077) await fs.chmod(root, mode & 0o700);
  })().catch((err: unknown) => {
    rootReady = undefined;
    throw err;
  }));
}
const localPath = (sha: string) => path.join(localRoot(), "sha256", sha.slice(0, 2), sha);

const localBackend: BlobBackend = {
  kind: "local",
  async put(staged) {
    await privateRoot();
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
  // Opened before the stream is handed out: a missing blob fails here, not halfway through a response.
  open: async (sha, range) => (await fs.open(localPath(sha), "r")).createReadStream(range ? { start: range.start, end: range.end } : {}),
  async putOnce(key, body) {
    await privateRoot();
    const target = path.join(localRoot(), checkObjectKey(key));
    await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
    // Written aside, then linked into place: the key appears complete or not at all, and a link never replaces an existing file.
    const tmp = `${target}.${randomUUID()}.tmp`;
    await fs.writeFile(tmp, body, { flag: "wx", mode: 0o400 });
    try {
      await fs.link(tmp, target);
      return { created: true };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") return { created: false, existing: await fs.readFile(target) };
      throw err;
    } finally {
      await fs.rm(tmp, { force: true });
    }
  },
  async get(key) {
    try {
      return await fs.readFile(path.join(localRoot(), checkObjectKey(key)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw err;
    }
  },
  async list(prefix, startAfter) {
    const dir = path.join(localRoot(), checkObjectKey(prefix.replace(/\/$/, "")));
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
    return names
      .filter((n) => !n.endsWith(".tmp"))
      .map((n) => `${prefix}${n}`)
      .filter((k) => !startAfter || k > startAfter)
      .sort();
  },
};

/** Errors of a write that mean the store has no room, rather than that it cannot be reached. */
const FULL = new Set(["ENOSPC", "EDQUOT", "EFBIG"]);

/**
 * What a failed write to the store tells the user: full (507) or unavailable (503), and
 * that nothing was stored — the callers remove what they had written before rethrowing.
 * The cause (errno, S3 error) is kept for the log.
 */
export function storageError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code && FULL.has(code)) {
    return new AppError("STORAGE_FULL", "The artifact store is full, so nothing was stored. An administrator needs to free or add space; then upload again.", {
      cause: err,
    });
  }
  return new AppError(
    "STORAGE_UNAVAILABLE",
    "The artifact store cannot be written to at the moment, so nothing was stored. Try again in a few minutes; if it persists, tell an administrator.",
    { cause: err },
  );
}

/** Test hook: fails the next writes to staging files after `afterBytes` bytes, as a full disk would. */
let injectedWriteFailure: { afterBytes: number; code: string } | undefined;
export function failStagingWritesForTest(failure: { afterBytes: number; code: string } | undefined) {
  injectedWriteFailure = failure;
}

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
  try {
    await privateRoot();
    await fs.mkdir(dir, { recursive: true });
  } catch (err) {
    throw storageError(err);
  }
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
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, "wx", 0o600);
  } catch (err) {
    throw storageError(err);
  }
  // A failure of the file itself (a full or failing disk) is the store's fault, not the
  // upload's: only errors raised by these writes count as such, not the ones the pipeline
  // hands the sink when the client breaks off.
  let writeFailed: unknown;
  const injected = injectedWriteFailure;
  let written = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const writeAll = async () => {
        written += chunk.length;
        if (injected && written > injected.afterBytes)
          throw Object.assign(new Error(`${injected.code}: injected write failure`), { code: injected.code, syscall: "write" });
        for (let off = 0; off < chunk.length;) off += (await handle.write(chunk, off, chunk.length - off)).bytesWritten;
      };
      writeAll().then(
        () => cb(),
        (err: Error) => {
          writeFailed ??= err;
          cb(err);
        },
      );
    },
    final(cb) {
      handle.close().then(
        () => cb(),
        (err: Error) => {
          writeFailed ??= err;
          cb(err);
        },
      );
    },
    destroy(err, cb) {
      handle.close().then(
        () => cb(err),
        () => cb(err),
      );
    },
  });
  try {
    await pipeline(source, meter, sink);
  } catch (err) {
    await fs.rm(file, { force: true }).catch(() => undefined);
    if (err instanceof AppError) throw err;
    if (writeFailed) throw storageError(writeFailed);
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
  } catch (err) {
    throw storageError(err);
  } finally {
    await staged.discard();
  }
}

export async function removeBlob(sha256: string) {
  await (await blobs()).remove(sha256);
}

export async function openBlob(sha256: string, range?: ByteRange) {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error("not a sha256");
  return (await blobs()).open(sha256, range);
}

/**
 * A local file with the blob's bytes, for tools that read paths (DuckDB, onnxruntime in
 * a step process): the stored file itself for the local backend, a temporary copy for S3.
 */
export async function materialize(sha256: string): Promise<{ path: string; release: () => Promise<void> }> {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error("not a sha256");
  const b = await blobs();
  if (b.kind === "local") return { path: localPath(sha256), release: async () => undefined };
  await privateRoot();
  const dir = path.join(localRoot(), "staging");
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, `${randomUUID()}.blob`);
  await pipeline(await b.open(sha256), createWriteStream(file, { flags: "wx", mode: 0o600 }));
  return { path: file, release: () => fs.rm(file, { force: true }) };
}

/** Stores a file the server wrote itself (a step's artifact) under its hash; refuses past `limit` bytes. */
export async function storeFile(file: string, limit = Number.MAX_SAFE_INTEGER): Promise<{ sha256: string; size: number }> {
  const staged = await stage(createReadStream(file), limit);
  await commit(staged);
  return { sha256: staged.sha256, size: staged.size };
}

/**
 * A stored bundle unpacked into its content-addressed folder in the artifact cache
 * (ARTIFACT_DIR/bundles/<sha256>/, files read-only), made once and reused; returns the
 * model's path there. `tarFile` holds the bundle's bytes, already checked against its sha256.
 */
export async function materializeBundle(sha256: string, tarFile: string): Promise<string> {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error("not a sha256");
  await privateRoot();
  return materialiseBundleDir(tarFile, path.join(localRoot(), "bundles", sha256));
}

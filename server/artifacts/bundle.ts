import "server-only";
import { createHash, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import tar from "tar-stream";
import yauzl from "yauzl";
import { formatBytes } from "~/server/shared/format";

/*
 * Model bundles: a .zip, .tar or .tar.gz holding an ONNX model and its external data files.
 *
 * Unpacking trusts nothing the archive says about itself. Each entry's name is checked
 * before anything is written (no absolute paths, drive letters, "..", ".", empty segments,
 * backslashes, control characters or percent-encoded sequences — names are never decoded,
 * so %2e%2e%2f and %252e%252e%252f cannot turn into a path later); only regular files and
 * folders are accepted (symlinks, hardlinks, devices, fifos and sockets are refused); a
 * name may appear once; at most 10,000 entries. Sizes are counted while the bytes stream:
 * the total unpacked size, and per zip entry (for .tar.gz, over the whole stream) the ratio
 * of unpacked to compressed bytes, stop a zip bomb mid-stream — the sizes an archive's
 * headers declare are not believed.
 *
 * A stored bundle is a *normalised* tar: `model.onnx` first, then the data files in byte
 * order of their names, each with mode 0644, uid/gid 0, mtime 0 and no owner names. The
 * same model and data give the same tar, whichever archive they came in, and that tar's
 * sha256 is the version's address — stored and served like any single file.
 *
 * The inspector child and the inference process use it too (materialising stored bundles).
 */

export const BUNDLE_LIMITS = {
  maxEntries: 10_000,
  /** Unpacked bytes of all entries together. */
  maxTotalBytes: 8 * 1024 ** 3,
  /** Unpacked ÷ compressed bytes of one zip entry (of the whole stream for .tar.gz)… */
  maxRatio: 200,
  /** …checked once this many bytes have been unpacked (small, very regular files compress well and are harmless). */
  ratioFloorBytes: 1024 ** 2,
  maxNameLength: 1024,
  maxDepth: 32,
};

export type BundleKind = "zip" | "tar" | "tgz";

/** The archive kind an upload's file name announces, or null for anything else. */
export function bundleKind(filename: string): BundleKind | null {
  const f = filename.toLowerCase();
  if (f.endsWith(".zip")) return "zip";
  if (f.endsWith(".tar")) return "tar";
  if (f.endsWith(".tar.gz") || f.endsWith(".tgz")) return "tgz";
  return null;
}

/** A model version stored as a bundle has a .tar file name (a single model's ends in .onnx). */
export const isBundleFilename = (filename: string) => filename.toLowerCase().endsWith(".tar");

/** The file name a bundle is stored and downloaded under: the upload's name with its archive extension replaced by .tar. */
export const bundleFilename = (filename: string) => `${filename.replace(/\.(zip|tar|tar\.gz|tgz)$/i, "") || "model"}.tar`;

/** A bundle refused: `entry` is the name as the archive (or the model) spells it, `reason` says why. */
export class BundleRefused extends Error {
  constructor(
    readonly entry: string | null,
    readonly reason: string,
  ) {
    super(entry === null ? reason : `Entry ${show(entry)} ${reason}.`);
  }
}

/** A name as it goes into a message: quoted, control characters escaped, long names cut. */
export function show(name: string) {
  const s = JSON.stringify(name.length > 120 ? `${name.slice(0, 120)}…` : name);
  return s;
}

/**
 * Why a relative path from an archive or a model's external-data `location` is refused, or
 * null when it is a plain relative path. Used for both, so what an entry may be called and
 * what a model may point at are one rule.
 */
export function pathProblem(name: string): string | null {
  if (name === "") return "is an empty name";
  if (name.length > BUNDLE_LIMITS.maxNameLength) return `is longer than ${BUNDLE_LIMITS.maxNameLength} characters`;
  if (name.includes("\\")) return "contains a backslash (paths use forward slashes only)";
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return "contains a control character";
  if (name.startsWith("/")) return "is an absolute path";
  if (/^[A-Za-z]:/.test(name)) return "starts with a drive letter (an absolute Windows path)";
  // "*/_ORT_MEM_ADDR_/*" is onnxruntime's marker for "the offset is a memory address": no wildcard or Windows-reserved character is a name.
  if (/[*?:"<>|]/.test(name)) return 'contains a character reserved on some systems (* ? : " < > |)';
  if (/%[0-9a-f]{2}/i.test(name)) return "contains a percent-encoded sequence (names are never URL-decoded, so encoded ones are refused)";
  const segments = name.split("/");
  if (segments.length > BUNDLE_LIMITS.maxDepth) return `is nested more than ${BUNDLE_LIMITS.maxDepth} folders deep`;
  for (const s of segments) {
    if (s === "..") return 'has a ".." segment (it would point outside the bundle)';
    if (s === ".") return 'has a "." segment';
    if (s === "") return "has an empty segment (// or a trailing slash)";
  }
  return null;
}

/** What was unpacked: each regular file's relative path and size. */
export type Unpacked = { files: Map<string, number> };

type Sink = {
  dest: string;
  files: Map<string, number>;
  dirs: Set<string>;
  entries: number;
  total: number;
};

function checkName(sink: Sink, raw: string, isDir: boolean) {
  sink.entries++;
  if (sink.entries > BUNDLE_LIMITS.maxEntries)
    throw new BundleRefused(null, `The bundle has more than ${BUNDLE_LIMITS.maxEntries.toLocaleString("en")} entries.`);
  const name = isDir && raw.endsWith("/") ? raw.slice(0, -1) : raw;
  const problem = pathProblem(name);
  if (problem) throw new BundleRefused(raw, problem);
  if (sink.files.has(name) || (!isDir && sink.dirs.has(name))) throw new BundleRefused(raw, "appears more than once in the bundle");
  const parts = name.split("/");
  for (let i = 1; i < parts.length; i++) {
    const parent = parts.slice(0, i).join("/");
    if (sink.files.has(parent)) throw new BundleRefused(raw, `is inside ${show(parent)}, which is a file`);
  }
  return name;
}

function typeProblem(type: string) {
  switch (type) {
    case "symlink":
      return "is a symbolic link (only regular files and folders are accepted)";
    case "link":
      return "is a hard link (only regular files and folders are accepted)";
    case "character-device":
    case "block-device":
      return "is a device file (only regular files and folders are accepted)";
    case "fifo":
      return "is a named pipe (only regular files and folders are accepted)";
    case "socket":
      return "is a socket (only regular files and folders are accepted)";
    default:
      return `is of type ${type} (only regular files and folders are accepted)`;
  }
}

async function makeDir(sink: Sink, name: string) {
  const parts = name.split("/");
  for (let i = 1; i <= parts.length; i++) sink.dirs.add(parts.slice(0, i).join("/"));
  await fs.mkdir(path.join(sink.dest, name), { recursive: true });
}

/** Counts one entry's unpacked bytes against the total, and against its compressed size when known. */
function meter(sink: Sink, raw: string, compressed: (() => number) | null) {
  let written = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      written += chunk.length;
      sink.total += chunk.length;
      if (sink.total > BUNDLE_LIMITS.maxTotalBytes) {
        return cb(new BundleRefused(null, `The bundle unpacks to more than ${formatBytes(BUNDLE_LIMITS.maxTotalBytes)}.`));
      }
      const c = compressed?.();
      if (c !== undefined && written > BUNDLE_LIMITS.ratioFloorBytes && written > BUNDLE_LIMITS.maxRatio * Math.max(c, 1)) {
        return cb(
          new BundleRefused(
            raw,
            `unpacks to more than ${BUNDLE_LIMITS.maxRatio} times its compressed size (${formatBytes(written)} from ${formatBytes(c)} so far): refused as a zip bomb`,
          ),
        );
      }
      cb(null, chunk);
    },
  });
}

async function writeEntry(sink: Sink, name: string, raw: string, source: Readable, compressed: (() => number) | null) {
  const parent = path.posix.dirname(name);
  if (parent !== ".") await makeDir(sink, parent);
  const before = sink.total;
  await pipeline(source, meter(sink, raw, compressed), createWriteStream(path.join(sink.dest, name), { flags: "wx", mode: 0o600 }));
  sink.files.set(name, sink.total - before);
}

const openZip = (file: string) =>
  new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(file, { lazyEntries: true, decodeStrings: false, validateEntrySizes: true, autoClose: true }, (err, zip) => (err ? reject(err) : resolve(zip))),
  );

const S_IFMT = 0o170000;
const ZIP_TYPES: Record<number, string> = { 0o120000: "symlink", 0o020000: "character-device", 0o060000: "block-device", 0o010000: "fifo", 0o140000: "socket" };

async function unpackZip(file: string, sink: Sink) {
  let zip: yauzl.ZipFile;
  try {
    zip = await openZip(file);
  } catch (err) {
    throw new BundleRefused(null, `The .zip file could not be read (${(err as Error).message}).`);
  }
  if (zip.entryCount > BUNDLE_LIMITS.maxEntries) {
    zip.close();
    throw new BundleRefused(
      null,
      `The bundle has more than ${BUNDLE_LIMITS.maxEntries.toLocaleString("en")} entries (${zip.entryCount.toLocaleString("en")}).`,
    );
  }
  await new Promise<void>((resolve, reject) => {
    let done = false;
    const fail = (err: unknown) => {
      if (done) return;
      done = true;
      zip.close();
      reject(err instanceof BundleRefused ? err : new BundleRefused(null, `The .zip file is damaged (${(err as Error).message}).`));
    };
    zip.on("error", fail);
    zip.on("end", () => {
      if (!done) {
        done = true;
        resolve();
      }
    });
    zip.on("entry", (entry: yauzl.Entry) => {
      void (async () => {
        // The name yauzl would have used (UTF-8 flag, the Info-ZIP Unicode path field), with backslashes kept so they can be refused.
        const raw = yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileName as unknown as Buffer, entry.extraFields, true);
        const mode = (entry.externalFileAttributes >>> 16) & S_IFMT;
        const isDir = raw.endsWith("/") || mode === 0o040000;
        const name = checkName(sink, raw, isDir);
        const type = ZIP_TYPES[mode];
        if (type) throw new BundleRefused(raw, typeProblem(type));
        if (entry.isEncrypted()) throw new BundleRefused(raw, "is encrypted");
        if (isDir) {
          await makeDir(sink, name);
        } else {
          const stream = await new Promise<Readable>((res, rej) => zip.openReadStream(entry, (err, s) => (err ? rej(err) : res(s))));
          await writeEntry(sink, name, raw, stream, () => entry.compressedSize);
        }
        zip.readEntry();
      })().catch(fail);
    });
    zip.readEntry();
  });
}

const TAR_OK = new Set(["file", "contiguous-file"]);

async function unpackTar(file: string, gz: boolean, sink: Sink) {
  const extract = tar.extract();
  let compressedIn = 0;
  let unpackedOut = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      compressedIn += chunk.length;
      cb(null, chunk);
    },
  });
  // The gzip layer is one stream: its ratio is checked as a whole, and its output counted against the total before tar reads it.
  const gunzipMeter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      unpackedOut += chunk.length;
      if (unpackedOut > BUNDLE_LIMITS.maxTotalBytes + 1024 ** 2 * 16) {
        return cb(new BundleRefused(null, `The bundle unpacks to more than ${formatBytes(BUNDLE_LIMITS.maxTotalBytes)}.`));
      }
      if (unpackedOut > BUNDLE_LIMITS.ratioFloorBytes && unpackedOut > BUNDLE_LIMITS.maxRatio * Math.max(compressedIn, 1)) {
        return cb(
          new BundleRefused(
            null,
            `The .tar.gz unpacks to more than ${BUNDLE_LIMITS.maxRatio} times its compressed size (${formatBytes(unpackedOut)} from ${formatBytes(compressedIn)} so far): refused as a zip bomb.`,
          ),
        );
      }
      cb(null, chunk);
    },
  });
  let refusal: unknown;
  extract.on("entry", (header, stream, next) => {
    // Destroying the extractor errors the entry's stream too: the refusal is reported once, by the pipeline.
    stream.on("error", () => undefined);
    void (async () => {
      const raw = header.name;
      const type = header.type ?? "file";
      const isDir = type === "directory";
      const name = checkName(sink, raw, isDir);
      if (!isDir && !TAR_OK.has(type)) throw new BundleRefused(raw, typeProblem(type));
      if (isDir) {
        await makeDir(sink, name);
        stream.resume();
      } else {
        await writeEntry(sink, name, raw, Readable.from(stream as AsyncIterable<Buffer>), null);
      }
    })().then(
      () => next(),
      (err: unknown) => {
        refusal ??= err;
        extract.destroy(err as Error);
      },
    );
  });
  try {
    await pipeline(gz ? [createReadStream(file), counted, createGunzip(), gunzipMeter, extract] : [createReadStream(file), extract]);
  } catch (err) {
    if (refusal instanceof BundleRefused) throw refusal;
    if (err instanceof BundleRefused) throw err;
    throw new BundleRefused(null, `The ${gz ? ".tar.gz" : ".tar"} file is damaged or not an archive (${(err as Error).message}).`);
  }
}

/**
 * Unpacks `archive` into `dest` (created; removed again on refusal). Throws BundleRefused
 * naming the entry and the reason.
 */
export async function unpackBundle(archive: string, kind: BundleKind, dest: string): Promise<Unpacked> {
  await fs.mkdir(dest, { recursive: false, mode: 0o700 });
  const sink: Sink = { dest, files: new Map(), dirs: new Set(), entries: 0, total: 0 };
  try {
    if (kind === "zip") await unpackZip(archive, sink);
    else await unpackTar(archive, kind === "tgz", sink);
  } catch (err) {
    await fs.rm(dest, { recursive: true, force: true });
    throw err;
  }
  if (sink.files.size === 0) {
    await fs.rm(dest, { recursive: true, force: true });
    throw new BundleRefused(null, "The bundle holds no files.");
  }
  return { files: sink.files };
}

/** The one model in an unpacked bundle: `model.onnx` at the top, or else the only .onnx file. */
export function findModel(files: Iterable<string>): string {
  const onnx = [...files].filter((f) => f.toLowerCase().endsWith(".onnx"));
  if (onnx.includes("model.onnx")) {
    if (onnx.length > 1)
      throw new BundleRefused(
        null,
        `The bundle holds model.onnx and other .onnx files (${onnx
          .filter((f) => f !== "model.onnx")
          .slice(0, 5)
          .map(show)
          .join(", ")}): one model per bundle.`,
      );
    return "model.onnx";
  }
  if (onnx.length === 1) return onnx[0]!;
  if (onnx.length === 0) throw new BundleRefused(null, "The bundle holds no .onnx file: put model.onnx at its top level.");
  throw new BundleRefused(
    null,
    `The bundle holds ${onnx.length} .onnx files (${onnx.slice(0, 5).map(show).join(", ")}…): name the model model.onnx, one per bundle.`,
  );
}

/**
 * Writes the normalised tar of a checked bundle: the model as `model.onnx`, then `data`
 * (paths relative to the model's folder) in byte order, with fixed metadata. Returns its
 * sha256 and size.
 */
export async function writeNormalisedTar(modelDir: string, modelFile: string, data: string[], out: string): Promise<{ sha256: string; size: number }> {
  const pack = tar.pack();
  const hash = createHash("sha256");
  let size = 0;
  const hashing = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  const writing = pipeline(pack, hashing, createWriteStream(out, { flags: "wx", mode: 0o600 }));
  const entries: [string, string][] = [
    ["model.onnx", path.join(modelDir, modelFile)],
    ...[...data].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))).map((d): [string, string] => [d, path.join(modelDir, d)]),
  ];
  for (const [name, file] of entries) {
    const { size: fileSize } = await fs.stat(file);
    await new Promise<void>((resolve, reject) => {
      const entry = pack.entry({ name, size: fileSize, mode: 0o644, uid: 0, gid: 0, uname: "", gname: "", mtime: new Date(0), type: "file" }, (err) =>
        err ? reject(err) : resolve(),
      );
      createReadStream(file).on("error", reject).pipe(entry);
    });
  }
  pack.finalize();
  await writing;
  return { sha256: hash.digest("hex"), size };
}

/**
 * Unpacks a stored (normalised) bundle into `dir`, a content-addressed folder: written
 * aside and renamed into place, so the folder is complete or absent; files read-only.
 * Returns the model's path. Concurrent callers for the same folder both succeed.
 */
export async function materialiseBundleDir(tarFile: string, dir: string): Promise<string> {
  const model = path.join(dir, "model.onnx");
  try {
    await fs.access(model);
    return model;
  } catch {
    // not there yet
  }
  await fs.mkdir(path.dirname(dir), { recursive: true, mode: 0o700 });
  const tmp = `${dir}.${randomUUID()}.tmp`;
  const { files } = await unpackBundle(tarFile, "tar", tmp);
  if (!files.has("model.onnx")) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw new Error("the stored bundle has no model.onnx");
  }
  for (const f of files.keys()) await fs.chmod(path.join(tmp, f), 0o444);
  try {
    await fs.rename(tmp, dir);
  } catch (err) {
    await fs.rm(tmp, { recursive: true, force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "ENOTEMPTY" && code !== "EEXIST") throw err;
  }
  return model;
}

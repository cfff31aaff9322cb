/* ---------------------------------------------------------------------------
 * steward CLI: a client of the REST API (/api/v1), for terminals and CI jobs.
 * Exit codes: 0 ok · 1 usage or local error · 2 not signed in or not allowed ·
 *             3 not found · 4 invalid input (the server said which) · 5 server or network ·
 *             6 a required check failed (runs wait) · 7 timed out waiting
 * Imports nothing from the server: it runs wherever `npm link` puts it.
 * ------------------------------------------------------------------------- */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createHash } from "node:crypto";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { Command } from "commander";
import cliProgress from "cli-progress";
import { completionScript } from "./completion";

export const EXIT = { ok: 0, usage: 1, auth: 2, notFound: 3, invalid: 4, server: 5, checksFailed: 6, timeout: 7 } as const;

type Config = { url: string; token: string; workspace: string };
const configPath = () => process.env.STEWARD_CONFIG ?? path.join(os.homedir(), ".config", "steward", "config.json");

class CliError extends Error {
  constructor(
    message: string,
    readonly exit: number,
  ) {
    super(message);
  }
}

function loadConfig(): Config {
  const url = process.env.STEWARD_URL;
  const token = process.env.STEWARD_TOKEN;
  const workspace = process.env.STEWARD_WORKSPACE;
  if (url && token && workspace) return { url, token, workspace };
  try {
    return { ...(JSON.parse(fs.readFileSync(configPath(), "utf8")) as Config), ...(url ? { url } : {}), ...(token ? { token } : {}) };
  } catch {
    throw new CliError("Not logged in. Run: steward login --url <steward url> --token <api token>", EXIT.auth);
  }
}

function saveConfig(c: Config) {
  fs.mkdirSync(path.dirname(configPath()), { recursive: true });
  fs.writeFileSync(configPath(), JSON.stringify(c, null, 2), { mode: 0o600 });
}

function exitFor(status: number) {
  if (status === 401 || status === 403) return EXIT.auth;
  if (status === 404) return EXIT.notFound;
  if (status >= 400 && status < 500) return EXIT.invalid;
  return EXIT.server;
}

async function api(
  cfg: Pick<Config, "url" | "token">,
  method: string,
  p: string,
  init: { json?: unknown; body?: ReadableStream<Uint8Array>; headers?: Record<string, string> } = {},
) {
  return (await request(cfg, method, p, init)).data;
}

/** Every page of a paged list: follows X-Next-Cursor until the last page. */
async function allPages<T>(cfg: Pick<Config, "url" | "token">, p: string): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null = null;
  do {
    const sep = p.includes("?") ? "&" : "?";
    const page = await request(cfg, "GET", cursor ? `${p}${sep}cursor=${encodeURIComponent(cursor)}` : p);
    out.push(...(page.data as unknown as T[]));
    cursor = page.headers.get("x-next-cursor");
  } while (cursor);
  return out;
}

async function request(
  cfg: Pick<Config, "url" | "token">,
  method: string,
  p: string,
  init: { json?: unknown; body?: ReadableStream<Uint8Array>; headers?: Record<string, string> } = {},
) {
  const headers: Record<string, string> = { ...init.headers };
  if (cfg.token) headers.authorization = `Bearer ${cfg.token}`;
  let body: BodyInit | undefined;
  if (init.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(init.json);
  } else if (init.body) body = init.body;
  let res: Response;
  try {
    res = await fetch(`${cfg.url.replace(/\/$/, "")}/api/v1${p}`, { method, headers, body, ...(init.body ? { duplex: "half" } : {}) });
  } catch (err) {
    throw new CliError(
      `Cannot reach Steward at ${cfg.url}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`,
      EXIT.server,
    );
  }
  const text = await res.text();
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    data = { error: { message: text.slice(0, 200) || res.statusText } };
  }
  if (!res.ok) {
    const e = (data as { error?: { message?: string } }).error;
    throw new CliError(e?.message ?? `HTTP ${res.status}`, exitFor(res.status));
  }
  return { data: data as Record<string, unknown>, headers: res.headers };
}

/** A multipart body streamed from disk, with its exact length and a progress callback. */
function multipart(file: string, metadata: unknown, onBytes: (n: number) => void) {
  const boundary = `----steward${Math.random().toString(16).slice(2)}`;
  // RFC 7578 §4.2: the name as UTF-8 in a quoted string (not filename*), as browsers send it;
  // the server reads it as UTF-8. Quotes and backslashes are escaped, line breaks cannot be.
  const name = path
    .basename(file)
    .replace(/[\r\n]/g, "_")
    .replace(/["\\]/g, "\\$&");
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n${JSON.stringify(metadata)}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const size = fs.statSync(file).size;
  async function* parts() {
    yield head;
    for await (const chunk of fs.createReadStream(file, { highWaterMark: 256 * 1024 })) {
      onBytes((chunk as Buffer).length);
      yield chunk as Buffer;
    }
    yield tail;
  }
  return {
    body: Readable.toWeb(Readable.from(parts())) as ReadableStream<Uint8Array>,
    headers: { "content-type": `multipart/form-data; boundary=${boundary}`, "content-length": String(head.length + size + tail.length) },
    size,
  };
}

type PushOptions = { resumable?: boolean; resume?: boolean };

/** Files above this go through a resumable upload session (or any file, with --resumable). */
const RESUMABLE_OVER = Number(process.env.STEWARD_RESUMABLE_OVER_BYTES ?? 64 * 1024 * 1024);
const CHUNK_BYTES = Number(process.env.STEWARD_UPLOAD_CHUNK_BYTES ?? 16 * 1024 * 1024);
const mib = (n: number) => `${Math.round(n / 1024 ** 2)} MiB`;

async function push(kind: "datasets" | "models", file: string, name: string, metadata: unknown, json: boolean, opts: PushOptions = {}) {
  const cfg = loadConfig();
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new CliError(`No such file: ${file}`, EXIT.usage);
  const showBar = !json && process.stderr.isTTY;
  const bar = showBar
    ? new cliProgress.SingleBar(
        { format: ` uploading {bar} {percentage}% | {value}/{total} bytes`, stream: process.stderr },
        cliProgress.Presets.shades_classic,
      )
    : null;
  if (opts.resumable || fs.statSync(file).size > RESUMABLE_OVER) {
    try {
      return await resumablePush(cfg, kind, file, name, metadata, json, opts.resume !== false, bar);
    } finally {
      bar?.stop();
    }
  }
  let sent = 0;
  const mp = multipart(file, metadata, (n) => {
    sent += n;
    bar?.update(sent);
  });
  bar?.start(mp.size, 0);
  if (!showBar && !json) process.stderr.write(`uploading ${path.basename(file)} (${mp.size} bytes)…\n`);
  try {
    return await api(cfg, "POST", `/workspaces/${encodeURIComponent(cfg.workspace)}/${kind}/${encodeURIComponent(name)}/versions`, {
      body: mp.body,
      headers: mp.headers,
    });
  } finally {
    bar?.stop();
  }
}

/* Resumable pushes: the session of an interrupted push is kept in uploads.json beside the config,
 * keyed by the file (path, size, mtime, sha256) and where it goes, so running the same push again
 * asks the server how far it got and sends only the rest. */
type UploadState = Record<string, { id: string; offset: number; createdAt: string }>;
const statePath = () => path.join(path.dirname(configPath()), "uploads.json");
function readState(): UploadState {
  try {
    return JSON.parse(fs.readFileSync(statePath(), "utf8")) as UploadState;
  } catch {
    return {};
  }
}
function writeState(update: (s: UploadState) => void) {
  const s = readState();
  update(s);
  fs.mkdirSync(path.dirname(statePath()), { recursive: true });
  fs.writeFileSync(statePath(), JSON.stringify(s, null, 2), { mode: 0o600 });
}

async function fileSha256(file: string) {
  const h = createHash("sha256");
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1024 * 1024 })) h.update(chunk as Buffer);
  return h.digest("hex");
}

async function resumablePush(
  cfg: Config,
  kind: "datasets" | "models",
  file: string,
  name: string,
  metadata: unknown,
  json: boolean,
  resume: boolean,
  bar: cliProgress.SingleBar | null,
) {
  const stat = fs.statSync(file);
  const size = stat.size;
  const sha256 = await fileSha256(file);
  const base = `/workspaces/${encodeURIComponent(cfg.workspace)}/uploads`;
  const key = [cfg.url, cfg.workspace, kind, name, path.resolve(file), size, stat.mtimeMs, sha256].join("|");
  let id: string | null = null;
  let offset = 0;
  const saved = readState()[key];
  if (saved && resume) {
    try {
      const r = await request(cfg, "GET", `${base}/${saved.id}`);
      id = saved.id;
      offset = Number(r.data.offset);
      process.stderr.write(`resuming at ${mib(offset)} of ${mib(size)} (upload ${id})\n`);
    } catch (err) {
      // Expired, swept or not ours any more: start over.
      if (!(err instanceof CliError) || err.exit !== EXIT.notFound) throw err;
    }
  }
  if (!id) {
    const filename = path.basename(file);
    const r = await request(cfg, "POST", base, { json: { kind: kind === "models" ? "model" : "dataset", name, filename, size, sha256 } });
    id = String(r.data.id);
    offset = 0;
    writeState((s) => (s[key] = { id: id!, offset, createdAt: new Date().toISOString() }));
  }
  if (!bar && !json) process.stderr.write(`uploading ${path.basename(file)} (${size} bytes) in chunks of ${mib(CHUNK_BYTES)}…\n`);
  bar?.start(size, offset);
  const url = `${cfg.url.replace(/\/$/, "")}/api/v1${base}/${id}`;
  while (offset < size) {
    const end = Math.min(size, offset + CHUNK_BYTES);
    let sent = offset;
    const chunk = fs.createReadStream(file, { start: offset, end: end - 1, highWaterMark: 256 * 1024 }).on("data", (c) => {
      sent += (c as Buffer).length;
      bar?.update(sent);
    });
    let res: Response;
    try {
      res = await fetch(url, {
        method: "PATCH",
        headers: {
          authorization: `Bearer ${cfg.token}`,
          "content-type": "application/offset+octet-stream",
          "content-length": String(end - offset),
          "upload-offset": String(offset),
        },
        body: Readable.toWeb(chunk) as ReadableStream<Uint8Array>,
        duplex: "half",
      } as RequestInit);
    } catch (err) {
      throw new CliError(
        `The upload was cut off at ${mib(offset)} (${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}). Run the same command again to resume.`,
        EXIT.server,
      );
    }
    const data = (await res.json().catch(() => ({}))) as { offset?: number; error?: { message?: string } };
    if (res.status === 409 && typeof data.offset === "number") offset = data.offset;
    else if (!res.ok) throw new CliError(data.error?.message ?? `HTTP ${res.status}`, exitFor(res.status));
    else offset = Number(data.offset);
    bar?.update(offset);
    writeState((s) => s[key] && (s[key].offset = offset));
  }
  try {
    const r = await request(cfg, "POST", `${base}/${id}/complete`, { json: metadata ?? {} });
    writeState((s) => delete s[key]);
    return r.data;
  } catch (err) {
    // The bytes did not match (the server discarded them): the next run starts a new session.
    if (err instanceof CliError && /sha256/.test(err.message)) writeState((s) => delete s[key]);
    throw err;
  }
}

/** `name@version` → its parts; the version a positive whole number. */
function versionRef(ref: string) {
  const at = ref.lastIndexOf("@");
  const version = at > 0 ? ref.slice(at + 1) : "";
  if (!/^[1-9]\d*$/.test(version)) throw new CliError(`Give a version: name@version (e.g. ${at > 0 ? ref.slice(0, at) : ref}@1).`, EXIT.usage);
  return { name: ref.slice(0, at), version: Number(version) };
}

/**
 * Downloads a version's file to `output` (default: name-vN with the stored file's extension),
 * streamed through a sha256 into `<output>.part`, then checked against the server's
 * X-Checksum-Sha256 before it takes the final name: a short or altered download never
 * looks complete. An existing `.part` of the same bytes (ETag) is resumed with a Range request.
 */
async function pull(kind: "datasets" | "models", ref: string, o: { output?: string; force?: boolean }, json: boolean) {
  const cfg = loadConfig();
  const { name, version } = versionRef(ref);
  const url = `${cfg.url.replace(/\/$/, "")}/api/v1/workspaces/${encodeURIComponent(cfg.workspace)}/${kind}/${encodeURIComponent(name)}/versions/${version}/file`;
  const get = async (headers: Record<string, string>) => {
    try {
      return await fetch(url, { headers: { authorization: `Bearer ${cfg.token}`, ...headers } });
    } catch (err) {
      throw new CliError(
        `Cannot reach Steward at ${cfg.url}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`,
        EXIT.server,
      );
    }
  };
  let output = o.output;
  const partOf = (f: string) => `${f}.part`;
  // A resumable .part is only known once the output name is: with -o, look for it first.
  const resumeFrom = output && fs.existsSync(partOf(output)) && fs.existsSync(`${partOf(output)}.etag`) ? fs.statSync(partOf(output)).size : 0;
  const etagBefore = resumeFrom ? fs.readFileSync(`${partOf(output!)}.etag`, "utf8") : "";
  let res = await get(resumeFrom ? { range: `bytes=${resumeFrom}-`, "if-range": etagBefore } : {});
  if (res.status === 416) res = await get({});
  if (!res.ok || !res.body) {
    const e = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
    throw new CliError(e.error?.message ?? `HTTP ${res.status}`, exitFor(res.status));
  }
  const expected = res.headers.get("x-checksum-sha256") ?? "";
  const etag = res.headers.get("etag") ?? "";
  if (!output) {
    const stored = /filename="([^"]*)"/.exec(res.headers.get("content-disposition") ?? "")?.[1] ?? "";
    output = `${name}-v${version}${path.extname(stored).replace(/[^.\w]/g, "")}`;
  }
  if (fs.existsSync(output) && !o.force) {
    await res.body.cancel();
    throw new CliError(`${output} exists already. Choose another name with -o, or pass --force to replace it.`, EXIT.usage);
  }
  const part = partOf(output);
  const resumed = res.status === 206 && resumeFrom > 0;
  const total = Number(res.headers.get("content-range")?.split("/")[1] ?? res.headers.get("content-length") ?? 0);
  const hash = createHash("sha256");
  if (resumed) for await (const chunk of fs.createReadStream(part)) hash.update(chunk as Buffer);
  fs.writeFileSync(`${part}.etag`, etag);
  const showBar = !json && process.stderr.isTTY;
  const bar = showBar
    ? new cliProgress.SingleBar(
        { format: ` downloading {bar} {percentage}% | {value}/{total} bytes`, stream: process.stderr },
        cliProgress.Presets.shades_classic,
      )
    : null;
  let received = resumed ? resumeFrom : 0;
  bar?.start(total, received);
  if (!showBar && !json) process.stderr.write(`downloading ${name}@${version} (${total} bytes)${resumed ? `, resuming at ${resumeFrom}` : ""}…\n`);
  const out = fs.createWriteStream(part, { flags: resumed ? "a" : "w" });
  try {
    await pipeline(
      Readable.fromWeb(res.body as WebReadableStream<Uint8Array>),
      new Transform({
        transform(chunk: Buffer, _enc, cb) {
          hash.update(chunk);
          received += chunk.length;
          bar?.update(received);
          cb(null, chunk);
        },
      }),
      out,
    );
  } catch (err) {
    throw new CliError(
      `The download broke off after ${received} of ${total} bytes (${(err as Error).message}). Run the same command again to resume.`,
      EXIT.server,
    );
  } finally {
    bar?.stop();
  }
  const actual = hash.digest("hex");
  if (!expected || actual !== expected) {
    fs.rmSync(part, { force: true });
    fs.rmSync(`${part}.etag`, { force: true });
    throw new CliError(
      `The download does not match its checksum (sha256 ${actual}, expected ${expected || "none sent"}); it was deleted. Try again.`,
      EXIT.server,
    );
  }
  fs.renameSync(part, output);
  fs.rmSync(`${part}.etag`, { force: true });
  return { name, version, file: output, sizeBytes: received, sha256: actual, verified: true };
}

function keyValues(list: string[], numeric: boolean, flag: string) {
  const out: Record<string, string | number | boolean> = {};
  for (const item of list) {
    const eq = item.indexOf("=");
    if (eq < 1) throw new CliError(`${flag} ${item}: expected name=value`, EXIT.usage);
    const k = item.slice(0, eq);
    const v = item.slice(eq + 1);
    const n = Number(v);
    if (numeric && (v === "" || !Number.isFinite(n))) throw new CliError(`${flag} ${item}: the value must be a number`, EXIT.usage);
    out[k] = v === "true" ? true : v === "false" ? false : v !== "" && Number.isFinite(n) ? n : v;
  }
  return out;
}

const collect = (v: string, prev: string[]) => [...prev, v];
const print = (json: boolean, data: unknown, human: () => string) => process.stdout.write(json ? `${JSON.stringify(data, null, 2)}\n` : `${human()}\n`);

const program = new Command()
  .name("steward")
  .description("Register models and datasets in Steward from a terminal or a CI job.")
  .option("--json", "print machine-readable JSON", false)
  .showHelpAfterError()
  .exitOverride();

program
  .command("login")
  .description("Store a Steward URL and an API token (or exchange e-mail and password for one)")
  .requiredOption("--url <url>", "Steward's address, e.g. http://localhost:3000")
  .option("--token <token>", "an API token from Settings › API tokens")
  .option("--email <email>", "sign in with e-mail and password instead")
  .option("--password <password>", "password (or STEWARD_PASSWORD)")
  .option("--workspace <slug>", "the workspace, with --email")
  .action(async (o: { url: string; token?: string; email?: string; password?: string; workspace?: string }) => {
    const json = program.opts<{ json: boolean }>().json;
    let token = o.token;
    if (!token) {
      const password = o.password ?? process.env.STEWARD_PASSWORD;
      if (!o.email || !password || !o.workspace) throw new CliError("Give --token, or --email, --password and --workspace.", EXIT.usage);
      const created = await api({ url: o.url, token: "" }, "POST", "/auth/token", {
        json: { email: o.email, password, workspace: o.workspace, name: `steward CLI on ${os.hostname()}` },
      });
      token = created.token as string;
    }
    const me = await api({ url: o.url, token }, "GET", "/me");
    saveConfig({ url: o.url, token, workspace: me.workspace as string });
    print(
      json,
      { url: o.url, workspace: me.workspace, role: me.role, email: me.email },
      () => `Logged in to ${o.url} as ${String(me.email)} in workspace ${String(me.workspace)} (${String(me.role)}).`,
    );
  });

const datasets = program.command("datasets").description("Dataset versions");
datasets
  .command("push <file>")
  .description("Upload a CSV or Parquet file as a new dataset version")
  .requiredOption("--name <name>", "dataset name")
  .option("--description <text>", "description (markdown)")
  .option("--resumable", `upload through a resumable session (automatic above ${mib(RESUMABLE_OVER)})`)
  .option("--no-resume", "start a resumable upload over instead of resuming an interrupted one")
  .action(async (file: string, o: { name: string; description?: string } & PushOptions) => {
    const json = program.opts<{ json: boolean }>().json;
    const r = await push("datasets", file, o.name, o.description ? { description: o.description } : {}, json, o);
    print(json, r, () =>
      r.created
        ? `Registered ${o.name}@${String(r.version)}: ${String(r.rows)} rows, sha256 ${String(r.sha256).slice(0, 12)}.`
        : `Unchanged: ${o.name}@${String(r.version)} has the same bytes.`,
    );
  });
datasets
  .command("pull <ref>")
  .description("Download a dataset version (name@version), verifying its sha256")
  .option("-o, --output <file>", "where to write it (default: name-vN.csv or .parquet)")
  .option("--force", "replace the output file if it exists")
  .action(async (ref: string, o: { output?: string; force?: boolean }) => {
    const json = program.opts<{ json: boolean }>().json;
    const r = await pull("datasets", ref, o, json);
    print(json, r, () => `Downloaded ${r.name}@${r.version} to ${r.file} (${r.sizeBytes} bytes, sha256 ${r.sha256.slice(0, 12)} verified).`);
  });
datasets
  .command("list")
  .description("List datasets")
  .action(async () => {
    const json = program.opts<{ json: boolean }>().json;
    const cfg = loadConfig();
    const rows = await allPages<{ name: string; versions: number; latestVersion: number | null }>(
      cfg,
      `/workspaces/${encodeURIComponent(cfg.workspace)}/datasets?limit=500`,
    );
    print(json, rows, () =>
      rows.length ? rows.map((d) => `${d.name.padEnd(32)} v${d.latestVersion ?? "-"}  (${d.versions} versions)`).join("\n") : "No datasets yet.",
    );
  });

const models = program.command("models").description("Model versions");
models
  .command("push <file>")
  .description("Upload an ONNX file, or a .zip/.tar/.tar.gz bundle of model.onnx and its external data, as the next version of a model")
  .requiredOption("--name <name>", "model name")
  .option("--metric <name=value>", "a metric (repeatable)", collect, [])
  .option("--param <name=value>", "a parameter (repeatable)", collect, [])
  .option("--tag <tag>", "a tag (repeatable)", collect, [])
  .option("--dataset <name@version>", "a training dataset version (repeatable)", collect, [])
  .option("--eval-dataset <name@version>", "an evaluation dataset version (repeatable)", collect, [])
  .option("--commit <sha>", "the git commit it was built from")
  .option("--parent <version>", "parent version: a number, or name@version")
  .option("--description <text>", "description (markdown)")
  .option("--resumable", `upload through a resumable session (automatic above ${mib(RESUMABLE_OVER)})`)
  .option("--no-resume", "start a resumable upload over instead of resuming an interrupted one")
  .action(
    async (
      file: string,
      o: PushOptions & {
        name: string;
        metric: string[];
        param: string[];
        tag: string[];
        dataset: string[];
        evalDataset: string[];
        commit?: string;
        parent?: string;
        description?: string;
      },
    ) => {
      const json = program.opts<{ json: boolean }>().json;
      const metadata = {
        ...(o.description ? { description: o.description } : {}),
        ...(o.metric.length ? { metrics: keyValues(o.metric, true, "--metric") } : {}),
        ...(o.param.length ? { params: keyValues(o.param, false, "--param") } : {}),
        ...(o.tag.length ? { tags: o.tag } : {}),
        ...(o.commit ? { gitCommit: o.commit } : {}),
        ...(o.parent ? { parent: /^\d+$/.test(o.parent) ? Number(o.parent) : o.parent } : {}),
        ...(o.dataset.length + o.evalDataset.length
          ? { datasets: [...o.dataset.map((ref) => ({ ref, role: "train" })), ...o.evalDataset.map((ref) => ({ ref, role: "eval" }))] }
          : {}),
      };
      const r = await push("models", file, o.name, metadata, json, o);
      print(json, r, () =>
        r.created
          ? `Registered ${o.name}@${String(r.version)} (sha256 ${String(r.sha256).slice(0, 12)}, ${r.loadable ? "loads in onnxruntime" : "does NOT load in onnxruntime"}).`
          : `Unchanged: ${o.name}@${String(r.version)} has the same bytes.`,
      );
    },
  );
models
  .command("pull <ref>")
  .description("Download a model version's ONNX file (name@version), verifying its sha256")
  .option("-o, --output <file>", "where to write it (default: name-vN.onnx)")
  .option("--force", "replace the output file if it exists")
  .action(async (ref: string, o: { output?: string; force?: boolean }) => {
    const json = program.opts<{ json: boolean }>().json;
    const r = await pull("models", ref, o, json);
    print(json, r, () => `Downloaded ${r.name}@${r.version} to ${r.file} (${r.sizeBytes} bytes, sha256 ${r.sha256.slice(0, 12)} verified).`);
  });
models
  .command("versions <name>")
  .description("A model's versions, newest first (every page), optionally narrowed by a filter")
  .option(
    "--filter <expr>",
    `e.g. "metrics.auc >= 0.8 and tag = 'candidate'": metrics.<m> <op> <n>, params.<p> = '<text>', tag = '<text>', loadable = true|false`,
  )
  .action(async (name: string, o: { filter?: string }) => {
    const json = program.opts<{ json: boolean }>().json;
    const cfg = loadConfig();
    const q = new URLSearchParams({ limit: "500", ...(o.filter ? { filter: o.filter } : {}) });
    const rows = await allPages<{ version: number; metrics: Record<string, number>; tags: string[]; createdAt: string; loadable: boolean | null }>(
      cfg,
      `/workspaces/${encodeURIComponent(cfg.workspace)}/models/${encodeURIComponent(name)}/versions?${q}`,
    );
    print(json, rows, () =>
      rows.length
        ? rows
            .map(
              (v) =>
                `v${String(v.version).padEnd(5)} ${Object.entries(v.metrics)
                  .map(([k, x]) => `${k}=${x}`)
                  .join(" ")
                  .padEnd(40)} ${v.tags.join(",")}${v.loadable === false ? "  (not loadable)" : ""}`,
            )
            .join("\n")
        : o.filter
          ? "No version matches the filter."
          : "No versions yet.",
    );
  });
models
  .command("list")
  .description("List models")
  .action(async () => {
    const json = program.opts<{ json: boolean }>().json;
    const cfg = loadConfig();
    const rows = await allPages<{
      name: string;
      versions: number;
      latestVersion: number | null;
      aliases: { alias: string; version: number }[];
    }>(cfg, `/workspaces/${encodeURIComponent(cfg.workspace)}/models?limit=500`);
    print(json, rows, () =>
      rows.length
        ? rows.map((m) => `${m.name.padEnd(32)} v${m.latestVersion ?? "-"}  ${m.aliases.map((a) => `${a.alias}→v${a.version}`).join(" ")}`).join("\n")
        : "No models yet.",
    );
  });
models
  .command("get <ref>")
  .description("Show a model (name) or one version (name@version)")
  .action(async (ref: string) => {
    const json = program.opts<{ json: boolean }>().json;
    const cfg = loadConfig();
    const at = ref.lastIndexOf("@");
    const ws = `/workspaces/${encodeURIComponent(cfg.workspace)}`;
    if (at > 0) {
      const v = await api(cfg, "GET", `${ws}/models/${encodeURIComponent(ref.slice(0, at))}/versions/${encodeURIComponent(ref.slice(at + 1))}`);
      const sig = v.signature as {
        inputs: { name: string; elemType: string; shape: unknown[] | null }[];
        outputs: { name: string; elemType: string; shape: unknown[] | null }[];
        runtime: { loadable: boolean };
      };
      const io = (l: typeof sig.inputs) => l.map((i) => `  ${i.name}: ${i.elemType}[${(i.shape ?? []).join(", ")}]`).join("\n");
      print(json, v, () =>
        [
          `${ref}  sha256 ${String(v.sha256)}`,
          `metrics: ${JSON.stringify(v.metrics)}`,
          `aliases: ${(v.aliases as string[]).join(", ") || "-"}`,
          `inputs:\n${io(sig.inputs)}`,
          `outputs:\n${io(sig.outputs)}`,
          `onnxruntime: ${sig.runtime.loadable ? "loads" : "does not load"}`,
        ].join("\n"),
      );
    } else {
      const m = await api(cfg, "GET", `${ws}/models/${encodeURIComponent(ref)}`);
      const versions = m.versions as { version: number; metrics: Record<string, number> }[];
      print(json, m, () => `${ref}\n${versions.map((v) => `  v${v.version}  ${JSON.stringify(v.metrics)}`).join("\n")}`);
    }
  });

const reviewsCmd = program
  .command("reviews")
  .description("Review requests: propose a version for a protected alias (staging, production), follow its approval");
reviewsCmd
  .command("open <ref> <alias>")
  .description("Open a review request for model@version → alias (signatures are given in the review room)")
  .requiredOption("-m, --summary <text>", "what changed and why it should be promoted (markdown)")
  .option("--assign <userId...>", "reviewers to assign (user ids)")
  .action(async (ref: string, alias: string, o: { summary: string; assign?: string[] }) => {
    const json = program.opts<{ json: boolean }>().json;
    const cfg = loadConfig();
    const at = ref.lastIndexOf("@");
    if (at < 1 || !/^\d+$/.test(ref.slice(at + 1))) throw new CliError(`Expected model@version, for example credit-risk@3 (got "${ref}").`, EXIT.usage);
    const r = await api(cfg, "POST", `/workspaces/${encodeURIComponent(cfg.workspace)}/reviews`, {
      json: { model: ref.slice(0, at), version: Number(ref.slice(at + 1)), alias, summary: o.summary, assignees: o.assign },
    });
    print(json, r, () => `Opened review #${String(r.number)}: ${ref} → ${alias}\n${cfg.url.replace(/\/$/, "")}/w/${cfg.workspace}/reviews/${String(r.number)}`);
  });
reviewsCmd
  .command("show <number>")
  .description("Show a review request: status, what the policy still needs, signatures")
  .action(async (n: string) => {
    const json = program.opts<{ json: boolean }>().json;
    const cfg = loadConfig();
    const r = (await api(cfg, "GET", `/workspaces/${encodeURIComponent(cfg.workspace)}/reviews/${encodeURIComponent(n)}`)) as unknown as {
      number: number;
      status: string;
      alias: string;
      model: { name: string };
      version: { version: number };
      state: { checklist: { ok: boolean; text: string }[] } | null;
      superseded: { at: string; holderVersion: number | null; alreadyHolds: boolean } | null;
      signatures: {
        signerName: string;
        role: string;
        decision: string;
        meaning: string;
        signedAt: string;
        stale: boolean;
        previousRound: boolean;
        holderVersion: number | null;
      }[];
    };
    print(json, r, () =>
      [
        `#${r.number} ${r.model.name}@${r.version.version} → ${r.alias}: ${r.status}${r.superseded && r.status === "open" ? (r.superseded.alreadyHolds ? " (its version already holds the alias: withdraw it)" : ` (superseded since ${r.superseded.at}: steward reviews rebase ${r.number})`) : ""}`,
        ...(r.state?.checklist ?? []).map((c) => `  ${c.ok ? "✓" : "·"} ${c.text}`),
        ...r.signatures.map(
          (x) =>
            `  ${x.decision === "approve" ? (x.previousRound ? "previous round" : x.stale ? "stale" : "approved") : "rejected"} by ${x.signerName} (${x.role}) at ${x.signedAt}, while ${x.holderVersion === null ? "nobody" : `v${x.holderVersion}`} held ${r.alias}: "${x.meaning}"`,
        ),
      ].join("\n"),
    );
    if (r.status === "rejected") process.exitCode = 6;
  });
reviewsCmd
  .command("rebase <number>")
  .description("Re-base a superseded review on the version that holds its alias now (requester or admin); approvers sign again")
  .action(async (n: string) => {
    const json = program.opts<{ json: boolean }>().json;
    const cfg = loadConfig();
    if (!/^\d+$/.test(n)) throw new CliError(`Expected a review number, for example 12 (got "${n}").`, EXIT.usage);
    const r = await api(cfg, "POST", `/workspaces/${encodeURIComponent(cfg.workspace)}/reviews/${n}/rebase`);
    print(
      json,
      r,
      () =>
        `Re-based review #${String(r.number)} on ${typeof r.baselineVersion === "number" ? `v${r.baselineVersion}` : "no holder"} (round ${String(r.round)}): earlier signatures no longer count; the approvers were asked again.`,
    );
  });

// ---- deployments: the same REST routes (and so the same approval rules) as the UI ----
type RolloutView = { id: string; revision: number; status: string; primary: number | null; message: string; reason: string | null; replicas: string[] };
type DeploymentView = {
  name: string;
  model: string;
  environment: string;
  alias: string;
  following: boolean;
  status: string;
  revision: number;
  primary: number;
  canary: { version: number; percent: number } | null;
  shadow: number | null;
  holder?: number | null;
  rollout?: RolloutView | null;
  replicas?: { replica: string; live: boolean; revision: number; primary: number | null; error: string | null }[];
};
const ws = (cfg: Config) => `/workspaces/${encodeURIComponent(cfg.workspace)}`;
const dep = (cfg: Config, name: string) => `${ws(cfg)}/deployments/${encodeURIComponent(name)}`;
const versionArg = (v: string, flag: string) => {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new CliError(`${flag}: expected a version number such as 3 (got "${v}").`, EXIT.usage);
  return Number(v);
};
const describeDeployment = (d: DeploymentView) =>
  `${d.name}  ${d.model} v${d.primary}${d.canary ? ` + canary v${d.canary.version} ${d.canary.percent}%` : ""}${d.shadow ? ` + shadow v${d.shadow}` : ""}  ${d.following ? `follows ${d.alias}` : `pinned (bound to ${d.alias})`}  ${d.status}  r${d.revision}`;
/** Prints a change's answer; with --wait, waits for its rollout like `deployments wait`. */
async function changed(cfg: Config, name: string, r: Record<string, unknown>, o: { wait?: boolean; timeout?: string }, what: string) {
  const json = program.opts<{ json: boolean }>().json;
  if (o.wait && typeof r.rolloutId === "string") return waitRollout(cfg, name, r.rolloutId, Number(o.timeout ?? 120));
  print(
    json,
    r,
    () =>
      `${what} (revision ${String(r.revision)}, rollout ${typeof r.rolloutId === "string" ? r.rolloutId : "-"}). Wait for it: steward deployments wait ${name}`,
  );
}
async function waitRollout(cfg: Config, name: string, rollout: string, timeoutSeconds: number) {
  const json = program.opts<{ json: boolean }>().json;
  const deadline = Date.now() + timeoutSeconds * 1000;
  const spin = !json && process.stderr.isTTY;
  for (;;) {
    const r = (await api(cfg, "GET", `${dep(cfg, name)}/rollouts/${encodeURIComponent(rollout)}`)) as unknown as RolloutView;
    if (r.status !== "pending") {
      print(json, r, () => `${name}: ${r.message}${r.replicas.length ? ` (${r.replicas.join(", ")})` : ""}`);
      if (r.status !== "live") process.exitCode = EXIT.checksFailed;
      return;
    }
    if (Date.now() > deadline) throw new CliError(`${name}: still waiting for revision ${r.revision} after ${timeoutSeconds} s (${r.message}).`, EXIT.timeout);
    if (spin) process.stderr.write(`\r${name}: ${r.message}…`);
    await new Promise((res) => setTimeout(res, 500));
  }
}
const deploymentsCmd = program
  .command("deployments")
  .description(
    "Deployments: what serves, canaries and shadows, promote, emergency rollback, follow or pin, and waiting for a rollout (exit 0 live, 6 failed, 7 timed out)",
  );
deploymentsCmd
  .command("list")
  .description("List deployments by name (every page), optionally only one model's, environment's or status's")
  .option("--model <name>", "only deployments of this model")
  .option("--environment <env>", "only this environment, e.g. prod")
  .option("--status <status>", "active or stopped")
  .action(async (o: { model?: string; environment?: string; status?: string }) => {
    const cfg = loadConfig();
    const q = new URLSearchParams(Object.entries(o).filter((e): e is [string, string] => typeof e[1] === "string"));
    const rows = await allPages<DeploymentView>(cfg, `${ws(cfg)}/deployments${q.size ? `?${q}` : ""}`);
    print(program.opts<{ json: boolean }>().json, rows, () => (rows.length ? rows.map(describeDeployment).join("\n") : "No deployments yet."));
  });
deploymentsCmd
  .command("get <name>")
  .description("One deployment: what it serves, its latest rollout, each replica's version")
  .action(async (name: string) => {
    const cfg = loadConfig();
    const d = (await api(cfg, "GET", dep(cfg, name))) as unknown as DeploymentView;
    print(program.opts<{ json: boolean }>().json, d, () =>
      [
        describeDeployment(d),
        d.rollout ? `latest rollout: ${d.rollout.message}` : "no rollouts",
        ...(d.replicas ?? []).map(
          (x) => `  ${x.live ? "●" : "○"} ${x.replica}: r${x.revision} v${x.primary ?? "-"}${x.error ? ` (last failure: ${x.error})` : ""}`,
        ),
      ].join("\n"),
    );
  });
deploymentsCmd
  .command("create <name> <model>")
  .description("Deploy a model: follow an alias (default production) or --pin a version")
  .option("--alias <alias>", "the alias it is bound to (its policy decides what may serve)", "production")
  .option("--pin <version>", "serve this version, pinned, instead of following the alias")
  .option("--environment <env>", "environment label", "production")
  .option("--wait", "wait until the rollout is live or failed")
  .option("--timeout <seconds>", "how long --wait waits", "120")
  .action(async (name: string, model: string, o: { alias: string; pin?: string; environment: string; wait?: boolean; timeout: string }) => {
    const cfg = loadConfig();
    const body = {
      name,
      model,
      alias: o.alias,
      environment: o.environment,
      ...(o.pin ? { follow: false, version: versionArg(o.pin, "--pin") } : { follow: true }),
    };
    await changed(cfg, name, await api(cfg, "POST", `${ws(cfg)}/deployments`, { json: body }), o, `Deployed ${name}`);
  });
deploymentsCmd
  .command("canary <name> <version>")
  .description(
    "Send a share of traffic to a canary version (it must be approved for the bound alias, or under review within the policy's canary allowance); `off` clears it",
  )
  .option("--percent <n>", "share of traffic in %", "10")
  .option("--wait", "wait until the rollout is live or failed")
  .option("--timeout <seconds>", "how long --wait waits", "120")
  .action(async (name: string, version: string, o: { percent: string; wait?: boolean; timeout: string }) => {
    const cfg = loadConfig();
    const body = version === "off" ? { canaryVersion: null } : { canaryVersion: versionArg(version, "version"), canaryPercent: Number(o.percent) };
    await changed(
      cfg,
      name,
      await api(cfg, "PUT", `${dep(cfg, name)}/traffic`, { json: body }),
      o,
      version === "off" ? `Cleared the canary of ${name}` : `Canary v${version} at ${o.percent}% on ${name}`,
    );
  });
deploymentsCmd
  .command("shadow <name> <version>")
  .description("Copy every request to a shadow version (never answers callers); `off` clears it")
  .option("--wait", "wait until the rollout is live or failed")
  .option("--timeout <seconds>", "how long --wait waits", "120")
  .action(async (name: string, version: string, o: { wait?: boolean; timeout: string }) => {
    const cfg = loadConfig();
    const body = { shadowVersion: version === "off" ? null : versionArg(version, "version") };
    await changed(
      cfg,
      name,
      await api(cfg, "PUT", `${dep(cfg, name)}/traffic`, { json: body }),
      o,
      version === "off" ? `Cleared the shadow of ${name}` : `Shadow v${version} on ${name}`,
    );
  });
deploymentsCmd
  .command("promote <name>")
  .description("Promote the canary: the alias moves to it (refused unless it is approved for the alias: open a review)")
  .option("--wait", "wait until the rollout is live or failed")
  .option("--timeout <seconds>", "how long --wait waits", "120")
  .action(async (name: string, o: { wait?: boolean; timeout: string }) => {
    const cfg = loadConfig();
    await changed(cfg, name, await api(cfg, "POST", `${dep(cfg, name)}/promote`, { json: {} }), o, `Promoted the canary of ${name}`);
  });
deploymentsCmd
  .command("rollback <name>")
  .description("Emergency rollback to the previous version (or --to a version that held the alias recently); pins the deployment")
  .requiredOption("--reason <text>", "why: recorded on the rollout, in the history and the audit trail")
  .option("--to <version>", "the version to go back to")
  .option("--wait", "wait until the rollout is live or failed")
  .option("--timeout <seconds>", "how long --wait waits", "120")
  .action(async (name: string, o: { reason: string; to?: string; wait?: boolean; timeout: string }) => {
    const cfg = loadConfig();
    const body = { reason: o.reason, ...(o.to ? { version: versionArg(o.to, "--to") } : {}) };
    await changed(cfg, name, await api(cfg, "POST", `${dep(cfg, name)}/rollback`, { json: body }), o, `Rolled ${name} back`);
  });
deploymentsCmd
  .command("pin <name> [version]")
  .description("Pin the deployment to a version (default: the one it serves); it stops following its alias")
  .option("--wait", "wait until the rollout is live or failed")
  .option("--timeout <seconds>", "how long --wait waits", "120")
  .action(async (name: string, version: string | undefined, o: { wait?: boolean; timeout: string }) => {
    const cfg = loadConfig();
    const body = { follow: false, ...(version ? { version: versionArg(version, "version") } : {}) };
    await changed(cfg, name, await api(cfg, "PUT", `${dep(cfg, name)}/follow`, { json: body }), o, `Pinned ${name}`);
  });
deploymentsCmd
  .command("follow <name>")
  .description("Follow the bound alias again (serves its holder)")
  .option("--wait", "wait until the rollout is live or failed")
  .option("--timeout <seconds>", "how long --wait waits", "120")
  .action(async (name: string, o: { wait?: boolean; timeout: string }) => {
    const cfg = loadConfig();
    await changed(cfg, name, await api(cfg, "PUT", `${dep(cfg, name)}/follow`, { json: { follow: true } }), o, `${name} follows its alias again`);
  });
for (const [verb, status] of [
  ["stop", "stopped"],
  ["start", "active"],
] as const) {
  deploymentsCmd
    .command(`${verb} <name>`)
    .description(verb === "stop" ? "Stop serving (predict refused)" : "Serve again")
    .option("--wait", "wait until the rollout is live or failed")
    .option("--timeout <seconds>", "how long --wait waits", "120")
    .action(async (name: string, o: { wait?: boolean; timeout: string }) => {
      const cfg = loadConfig();
      await changed(
        cfg,
        name,
        await api(cfg, "PUT", `${dep(cfg, name)}/status`, { json: { status } }),
        o,
        verb === "stop" ? `Stopped ${name}` : `Started ${name}`,
      );
    });
}
deploymentsCmd
  .command("wait <name> [rollout]")
  .description("Wait until a rollout (default: the latest) is live (exit 0) or failed (exit 6); exit 7 on timeout")
  .option("--timeout <seconds>", "give up after this long", "120")
  .action(async (name: string, rollout: string | undefined, o: { timeout: string }) => {
    const cfg = loadConfig();
    await waitRollout(cfg, name, rollout ?? "latest", Number(o.timeout));
  });

type RunView = {
  id: string;
  number: number;
  status: string;
  pipeline: { name: string; version: number };
  model: { name: string; version: number } | null;
  steps: { key: string; status: string; reason: string | null; required: boolean }[];
  checks: { name: string; status: string; value: number | null; threshold: string | null; message: string; required: boolean }[];
};
const TERMINAL_RUN = ["passed", "warned", "failed", "cancelled"];
const mark = (s: string) => (s === "pass" || s === "passed" ? "✓" : s === "warn" || s === "warned" ? "!" : s === "fail" || s === "failed" ? "✗" : "·");

const runsCmd = program.command("runs").description("Pipeline runs: wait for a version's validation, start and list runs");
runsCmd
  .command("wait <ref>")
  .description("Wait for the validation run of model@version; print its checks; exit 6 if a required check failed")
  .option("--timeout <seconds>", "give up after this long (exit 7)", "1800")
  .option("--interval <seconds>", "how often to ask", "1")
  .action(async (ref: string, o: { timeout: string; interval: string }) => {
    const json = program.opts<{ json: boolean }>().json;
    const cfg = loadConfig();
    const at = ref.lastIndexOf("@");
    if (at < 1 || !/^\d+$/.test(ref.slice(at + 1))) throw new CliError(`Expected model@version, for example credit-risk@3 (got "${ref}").`, EXIT.usage);
    const path_ = `/workspaces/${encodeURIComponent(cfg.workspace)}/models/${encodeURIComponent(ref.slice(0, at))}/versions/${ref.slice(at + 1)}/validation`;
    const deadline = Date.now() + Number(o.timeout) * 1000;
    const interactive = !json && process.stderr.isTTY;
    const bar = interactive
      ? new cliProgress.SingleBar(
          { format: "{bar} {value}/{total} steps · {status} {running}", hideCursor: true, stream: process.stderr },
          cliProgress.Presets.shades_classic,
        )
      : null;
    const reported = new Set<string>();
    let run: RunView | null = null;
    for (;;) {
      run = ((await api(cfg, "GET", path_)) as { run: RunView | null }).run;
      if (run) {
        const done = run.steps.filter((s) => !["pending", "queued", "running"].includes(s.status));
        const running = run.steps.filter((s) => s.status === "running").map((s) => s.key);
        if (bar) {
          if (!bar.getTotal()) bar.start(run.steps.length, 0, { status: run.status, running: "" });
          bar.update(done.length, { status: run.status, running: running.length ? `(${running.join(", ")})` : "" });
        } else if (!json) {
          for (const s of done) {
            if (reported.has(s.key)) continue;
            reported.add(s.key);
            console.error(`${mark(s.status)} ${s.key}: ${s.status}${s.reason ? ` — ${s.reason}` : ""}`);
          }
        }
        if (TERMINAL_RUN.includes(run.status)) break;
      } else if (!json && !reported.has("(none)")) {
        reported.add("(none)");
        console.error(`No validation run for ${ref} yet; waiting…`);
      }
      if (Date.now() > deadline) {
        bar?.stop();
        throw new CliError(
          `Timed out after ${o.timeout} s waiting for the validation of ${ref}${run ? ` (run #${run.number} is ${run.status})` : ""}.`,
          EXIT.timeout,
        );
      }
      await new Promise((r) => setTimeout(r, Number(o.interval) * 1000));
    }
    bar?.stop();
    const failed = run.checks.filter((c) => c.required && c.status === "fail");
    print(json, run, () =>
      [
        `Run #${run.number} of ${run.pipeline.name} on ${ref}: ${run.status}`,
        ...run.checks.map(
          (c) =>
            `  ${mark(c.status)} ${c.name.padEnd(40)} ${c.value === null ? "—" : String(Number(c.value.toPrecision(4)))}${c.threshold ? `  (${c.threshold})` : ""}${c.required ? "" : "  [informative]"}`,
        ),
        ...run.steps.filter((s) => s.status === "failed" && s.reason).map((s) => `  ✗ ${s.key}: ${s.reason}`),
      ].join("\n"),
    );
    // exitCode, not exit(): let the report reach a pipe before the process ends.
    if (run.status === "failed" || run.status === "cancelled" || failed.length) process.exitCode = EXIT.checksFailed;
  });
runsCmd
  .command("start <pipeline> [ref]")
  .description("Start a pipeline, on model@version (or model, for the version behind production)")
  .action(async (pipeline: string, ref: string | undefined) => {
    const json = program.opts<{ json: boolean }>().json;
    const cfg = loadConfig();
    const at = ref ? ref.lastIndexOf("@") : -1;
    const body = ref ? (at > 0 ? { model: ref.slice(0, at), version: Number(ref.slice(at + 1)) } : { model: ref }) : {};
    const r = await api(cfg, "POST", `/workspaces/${encodeURIComponent(cfg.workspace)}/pipelines/${encodeURIComponent(pipeline)}/runs`, { json: body });
    print(json, r, () => `Started run #${String(r.number)} (${String(r.id)}).`);
  });
runsCmd
  .command("list")
  .description("Recent runs")
  .option("--pipeline <name>")
  .action(async (o: { pipeline?: string }) => {
    const json = program.opts<{ json: boolean }>().json;
    const cfg = loadConfig();
    const q = o.pipeline ? `?pipeline=${encodeURIComponent(o.pipeline)}` : "";
    const rows = (await api(cfg, "GET", `/workspaces/${encodeURIComponent(cfg.workspace)}/runs${q}`)) as unknown as {
      number: number;
      pipeline: string;
      status: string;
      model: string | null;
      version: number | null;
      steps: { done: number; total: number };
    }[];
    print(
      json,
      rows,
      () =>
        rows
          .map(
            (r) =>
              `#${r.number}  ${r.status.padEnd(9)} ${r.pipeline.padEnd(16)} ${r.model ? `${r.model}@${r.version}` : "-"}  ${r.steps.done}/${r.steps.total}`,
          )
          .join("\n") || "No runs yet.",
    );
  });

const auditCmd = program.command("audit").description("The audit trail: export it, verify an export offline");
auditCmd
  .command("export")
  .description("Download the workspace's audit trail (NDJSON with signed checkpoints, or CSV)")
  .option("--format <format>", "ndjson or csv", "ndjson")
  .option("-o, --output <file>", "where to write it (default: standard output)")
  .option("--action <action>", "only this action")
  .option("--actor <actor>", "only this actor (e-mail or id)")
  .option("--from <time>", "from this time (ISO 8601)")
  .option("--to <time>", "to this time (ISO 8601)")
  .action(async (o: { format: string; output?: string; action?: string; actor?: string; from?: string; to?: string }) => {
    const cfg = loadConfig();
    const q = new URLSearchParams({
      format: o.format,
      ...(o.action ? { action: o.action } : {}),
      ...(o.actor ? { actor: o.actor } : {}),
      ...(o.from ? { from: o.from } : {}),
      ...(o.to ? { to: o.to } : {}),
    });
    let res: Response;
    try {
      res = await fetch(`${cfg.url.replace(/\/$/, "")}/api/v1/workspaces/${encodeURIComponent(cfg.workspace)}/audit/export?${q}`, {
        headers: { authorization: `Bearer ${cfg.token}` },
      });
    } catch (err) {
      throw new CliError(`Cannot reach Steward at ${cfg.url}: ${(err as Error).message}`, EXIT.server);
    }
    if (!res.ok || !res.body) {
      const e = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
      throw new CliError(e.error?.message ?? `HTTP ${res.status}`, exitFor(res.status));
    }
    const out = o.output ? fs.createWriteStream(o.output) : process.stdout;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) out.write(chunk);
    if (o.output) await new Promise<void>((r) => (out as fs.WriteStream).end(r));
  });
/** Published checkpoints of one chain: a copy of the artifact store's checkpoints/ folder (or one chain's folder), or a URL answering JSON. */
async function loadPublished(where: string, workspaceId: string | null) {
  const { parsePublishedCheckpoint } = await import("../../server/audit/verify");
  const chain = workspaceId ?? "instance";
  let items: { obj: unknown; where: string }[];
  if (/^https?:\/\//.test(where)) {
    let cfg: Config | null;
    try {
      cfg = loadConfig();
    } catch {
      cfg = null;
    }
    // The REST route (GET /api/v1/workspaces/{workspace}/audit/checkpoints) needs the CLI's token; a public mirror does not.
    const headers: Record<string, string> = cfg && where.startsWith(cfg.url.replace(/\/$/, "")) ? { authorization: `Bearer ${cfg.token}` } : {};
    let res: Response;
    try {
      res = await fetch(where, { headers });
    } catch (err) {
      throw new CliError(`Cannot reach ${where}: ${(err as Error).message}`, EXIT.server);
    }
    if (!res.ok) throw new CliError(`${where} answered HTTP ${res.status}.`, exitFor(res.status));
    const body = (await res.json()) as unknown;
    const list: unknown[] = Array.isArray(body) ? (body as unknown[]) : ((body as { checkpoints?: unknown[] }).checkpoints ?? [body]);
    items = list.map((obj, i) => ({ obj, where: `${where} [${i}]` }));
  } else {
    const candidates = [path.join(where, "checkpoints", chain), path.join(where, chain), where];
    const dir = candidates.find((d) => fs.existsSync(d) && fs.statSync(d).isDirectory() && fs.readdirSync(d).some((f) => f.endsWith(".json")));
    if (!dir) throw new CliError(`${where}: no published checkpoints (*.json) for chain ${chain} there.`, EXIT.usage);
    items = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith(".json"))
      .sort()
      .map((f) => {
        const file = path.join(dir, f);
        try {
          return { obj: JSON.parse(fs.readFileSync(file, "utf8")) as unknown, where: file };
        } catch {
          throw new CliError(`${file} is not JSON.`, EXIT.invalid);
        }
      });
  }
  try {
    return items.map((i) => parsePublishedCheckpoint(i.obj, i.where)).filter((c) => c.workspaceId === workspaceId);
  } catch (err) {
    throw new CliError((err as Error).message, EXIT.invalid);
  }
}

auditCmd
  .command("verify <export>")
  .description(
    "Verify an NDJSON export offline: every hash, the chain's links and the signed checkpoints; with --published, also against the heads published outside the database",
  )
  .option(
    "--public-key <file>",
    "the server's Ed25519 public key(s) (PEM; a file may hold several, and the option may repeat, for keys retired by a rotation); default: the keys in the export, which proves less",
    (v: string, prev: string[] = []) => [...prev, v],
  )
  .option(
    "--published <dir-or-url>",
    "the published checkpoints: a copy of the artifact store's checkpoints/ folder, or GET /api/v1/workspaces/<workspace>/audit/checkpoints",
  )
  .option("--threads <n>", "threads that hash the events (default: every core, for exports over 256 MB; 1 = this one only)", (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 16) throw new CliError(`--threads must be a whole number from 1 to 16, got "${v}".`, EXIT.usage);
    return n;
  })
  .action(async (file: string, o: { publicKey?: string[]; published?: string; threads?: number }) => {
    const json = program.opts<{ json: boolean }>().json;
    const { keyRing, publicKeysFromPem } = await import("../../server/audit/verify");
    const { readExportHeaderFile } = await import("../../server/audit/verify-bytes");
    const { verifyExportFile } = await import("../../server/audit/verify-parallel");
    let head;
    try {
      head = readExportHeaderFile(file);
    } catch (err) {
      throw new CliError(`${file}: ${(err as Error).message}`, EXIT.invalid);
    }
    const header = head.header as { publicKey?: string | null; keys?: { publicKey: string }[] };
    const pems = o.publicKey?.length
      ? o.publicKey.map((f) => fs.readFileSync(f, "utf8"))
      : [...(header.keys ?? []).map((k) => k.publicKey), header.publicKey ?? ""];
    const keys = publicKeysFromPem(pems.join("\n"));
    if (!keys.length) throw new CliError("No public key: pass --public-key (GET /api/v1/audit/public-key).", EXIT.usage);
    const published = o.published ? await loadPublished(o.published, head.workspaceId) : undefined;
    let report;
    try {
      // On every core for a large export (shared memory, one block per thread); same report.
      report = (await verifyExportFile(file, keyRing(keys), published, o.threads ? { threads: o.threads, minBytes: o.threads > 1 ? 0 : undefined } : {}))
        .report;
    } catch (err) {
      throw new CliError(`${file}: ${(err as Error).message}`, EXIT.invalid);
    }
    const against = published ? `, checked against ${report.publishedVerified ?? 0} of ${published.length} published checkpoint(s)` : "";
    print(json, report, () =>
      report.intact
        ? `Intact: ${report.events} events (#${report.firstSeq ?? "-"}…#${report.lastSeq ?? "-"}${report.complete ? ", complete from #1" : ", a filtered selection"}), ${report.checkpointsVerified} signed checkpoint(s) verified${against}.${o.publicKey?.length ? "" : "\nNote: verified with the keys inside the export; pass --public-key to verify against the server's published keys."}`
        : `BROKEN at event #${report.problem!.seq}: ${report.problem!.reason}.`,
    );
    if (!report.intact) process.exit(EXIT.invalid);
  });

/*
 * steward admin: operator commands run on the instance's machine (they read its data folder
 * and talk to its database directly, not through the API). See docs/DEPLOYMENT.md › Backups.
 */
async function instancePaths(o: { databaseUrl?: string }, passwordFrom?: string) {
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..", "..");
  const dataDir = path.resolve(process.env.STEWARD_DATA_DIR ?? path.join(root, ".steward"));
  if (process.env.ARTIFACT_STORE) {
    throw new CliError(
      "ARTIFACT_STORE is an S3 bucket: back it up with the bucket's versioning or replication, and the database with pg_dump (docs/DEPLOYMENT.md › Backups). steward admin backs up a local artifact folder.",
      EXIT.usage,
    );
  }
  let databaseUrl = o.databaseUrl ?? process.env.DATABASE_URL;
  let stop: (() => Promise<void>) | undefined;
  if (!databaseUrl) {
    // A running `npm start` says where its database is; otherwise start the embedded one for the duration.
    const runtime = (() => {
      try {
        return JSON.parse(fs.readFileSync(path.join(dataDir, "runtime.json"), "utf8")) as { databaseUrl?: string };
      } catch {
        return null;
      }
    })();
    if (runtime?.databaseUrl) databaseUrl = runtime.databaseUrl;
    else {
      const secretsFile = [path.join(dataDir, "secrets.json"), passwordFrom].find((f) => f && fs.existsSync(f));
      if (!secretsFile)
        throw new CliError(
          `No database: set DATABASE_URL, start Steward (npm start), or point STEWARD_DATA_DIR at its data folder (${dataDir} has no secrets.json).`,
          EXIT.usage,
        );
      const { pgPassword } = JSON.parse(fs.readFileSync(secretsFile, "utf8")) as { pgPassword: string };
      const { startEmbeddedPostgres } = await import("../lib/embedded-pg");
      const pg = await startEmbeddedPostgres({ dir: path.join(dataDir, "pg"), password: pgPassword });
      process.stderr.write(`Started the embedded PostgreSQL in ${path.join(dataDir, "pg")} for this command.\n`);
      databaseUrl = pg.url;
      stop = pg.stop;
    }
  }
  return {
    paths: {
      databaseUrl,
      dataDir,
      artifactDir: path.resolve(process.env.ARTIFACT_DIR ?? path.join(dataDir, "artifacts")),
      signingKeyPem: process.env.AUDIT_SIGNING_KEY,
      signingKeyFile: process.env.AUDIT_SIGNING_KEY_FILE,
      verifyKeysPem: process.env.AUDIT_VERIFY_KEYS,
      verifyKeysFile: process.env.AUDIT_VERIFY_KEYS_FILE,
      pgBin: process.env.PG_BIN,
      log: (m: string) => process.stderr.write(`${m}\n`),
    },
    stop: async () => void (await stop?.()),
  };
}

const seconds = (ms: number | undefined) => `${((ms ?? 0) / 1000).toFixed(1)} s`;

program
  .command("completion <shell>")
  .description("Print a shell completion script: source <(steward completion bash), or zsh")
  .action((shell: string) => {
    if (shell !== "bash" && shell !== "zsh") throw new CliError(`completion: shell must be bash or zsh, not "${shell}".`, EXIT.usage);
    process.stdout.write(completionScript(program, shell));
  });

const adminCmd = program.command("admin").description("Operator commands on this machine's instance: backup and restore (database, artifact store, keys)");
adminCmd
  .command("backup <dir>")
  .description("Back up the database (pg_dump), the local artifact store and the instance's secrets and keys into <dir>, with a sha256 manifest")
  .option("--database-url <url>", "the database (default: DATABASE_URL, the running npm start, or the embedded one)")
  .action(async (dir: string, o: { databaseUrl?: string }) => {
    const json = program.opts<{ json: boolean }>().json;
    const { paths, stop } = await instancePaths(o);
    const { backup } = await import("../lib/backup");
    try {
      const m = await backup(path.resolve(dir), paths);
      print(json, m, () =>
        [
          `Backed up into ${path.resolve(dir)} in ${seconds(m.timings.totalMs)} (database ${seconds(m.timings.databaseMs)}, artifacts ${seconds(m.timings.artifactsMs)}):`,
          `  database  ${m.database.size} bytes (PostgreSQL ${m.database.serverVersion})`,
          `  artifacts ${m.artifacts.length} file(s), ${m.artifacts.reduce((n, a) => n + a.size, 0)} bytes`,
          `  keys      ${m.keys.map((k) => k.path).join(", ") || "none"}`,
          `  chains    ${m.chains.length} (${m.chains.reduce((n, c) => n + c.events, 0)} events, ${m.chains.reduce((n, c) => n + c.checkpoints, 0)} checkpoints)`,
          `  deployments ${m.deployments.length}`,
          "The folder holds the instance's secrets: keep it where only operators can read it.",
        ].join("\n"),
      );
    } catch (err) {
      throw new CliError((err as Error).message, EXIT.server);
    } finally {
      await stop();
    }
  });
adminCmd
  .command("restore <dir>")
  .description(
    "Restore a backup into an empty database and an empty artifact folder, then verify every audit chain, artifact hash and deployment (exit 6 when a check fails)",
  )
  .option("--database-url <url>", "the empty database to restore into (default: DATABASE_URL, or the embedded one of STEWARD_DATA_DIR)")
  .action(async (dir: string, o: { databaseUrl?: string }) => {
    const json = program.opts<{ json: boolean }>().json;
    const { paths, stop } = await instancePaths(o, path.join(path.resolve(dir), "keys", "secrets.json"));
    const { restore } = await import("../lib/backup");
    let report;
    try {
      report = await restore(path.resolve(dir), paths);
    } catch (err) {
      throw new CliError((err as Error).message, EXIT.server);
    } finally {
      await stop();
    }
    print(json, report, () =>
      [
        `Restored in ${seconds(report.timings.totalMs)} (database ${seconds(report.timings.databaseMs)}, artifacts ${seconds(report.timings.artifactsMs)}, verification ${seconds(report.timings.verifyMs)}).`,
        ...report.chains.map(
          (c) =>
            `  chain ${c.chain}: ${c.intact ? "intact" : `BROKEN (${c.problem})`}, ${c.events} events to #${c.headSeq}, ${c.checkpointsVerified} signed checkpoint(s), ${c.publishedVerified} published`,
        ),
        `  artifacts: ${report.blobs.verified} of ${report.blobs.referenced} referenced blob(s) match their sha256${report.blobs.missing.length ? `; missing ${report.blobs.missing.join(", ")}` : ""}${report.blobs.mismatched.length ? `; different bytes ${report.blobs.mismatched.join(", ")}` : ""}`,
        `  deployments: ${report.deployments.same} of ${report.deployments.expected} serve the versions they served at the backup${report.deployments.different.length ? ` (not: ${report.deployments.different.join(", ")})` : ""}`,
        report.ok ? "Everything verified. Start Steward on it (npm start, or the migrate role then the processes)." : "Some checks FAILED: see above.",
      ].join("\n"),
    );
    if (!report.ok) process.exit(EXIT.checksFailed);
  });

// ---- deployment keys, alert rules, incidents, review decisions: the REST routes of the UI's actions ----
const numberArg = (v: string, what: string) => {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new CliError(`Expected ${what}, for example 12 (got "${v}").`, EXIT.usage);
  return Number(v);
};
const jsonOut = () => program.opts<{ json: boolean }>().json;

/**
 * An e-signature confirmed at the single-sign-on provider (loopback flow): Steward fixes the
 * decision and returns the provider's address; the signer logs in again in a browser; the
 * provider sends it to Steward, which signs and then sends the browser on to a one-shot server
 * on 127.0.0.1 here. The CLI also asks Steward every few seconds, so a browser on another
 * machine (no loopback) works too. Nothing is signed by the token alone.
 */
async function signWithSso(cfg: Config, reviewPath: string, body: { decision: string; meaning: string; reason?: string }, openBrowser: boolean) {
  const http = await import("node:http");
  let wake: () => void = () => {};
  const server = http.createServer((req, res) => {
    const ok = new URL(req.url ?? "/", "http://127.0.0.1").searchParams.has("esign");
    res.writeHead(ok ? 200 : 404, { "content-type": "text/html; charset=utf-8" });
    res.end(
      ok
        ? '<!doctype html><meta charset="utf-8"><title>Steward</title><body style="font:15px system-ui;margin:3rem"><h1 style="font-size:1.2rem">Back to the terminal</h1><p>Steward has your answer; the terminal says whether the signature was recorded. You can close this window.</p>'
        : "Not found",
    );
    if (ok) wake();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  try {
    const started = (await api(cfg, "POST", `${reviewPath}/signatures/sso`, {
      json: { ...body, returnTo: `http://127.0.0.1:${port}/esign` },
    })) as { challengeId: string; authorizeUrl: string; provider: string; expiresAt: string };
    process.stderr.write(
      `To sign, log in again at ${started.provider}. ${openBrowser ? "Opening" : "Open"} this address in a browser:\n\n  ${started.authorizeUrl}\n\n`,
    );
    if (openBrowser && process.stdout.isTTY) {
      const { spawn } = await import("node:child_process");
      const opener = process.platform === "darwin" ? "open" : process.platform === "win32" ? "explorer" : "xdg-open";
      spawn(opener, [started.authorizeUrl], { stdio: "ignore", detached: true })
        .on("error", () => {})
        .unref();
    }
    process.stderr.write(`Waiting for the login and your confirmation on Steward's page (until ${new Date(started.expiresAt).toLocaleTimeString()})…\n`);
    // A challenge is refused or expires on the server by then; the margin covers clock differences.
    const deadline = Date.parse(started.expiresAt) + 60_000;
    type Status = { status: string; outcome: string | null; error: string | null };
    for (;;) {
      const s = (await api(cfg, "GET", `${reviewPath}/signatures/sso/${started.challengeId}`)) as Status;
      if (s.status === "signed") return { outcome: s.outcome, challengeId: started.challengeId, method: "oidc" };
      if (s.status === "refused") throw new CliError(s.error ?? "The signature was refused.", EXIT.auth);
      if (s.status === "expired" || Date.now() > deadline)
        throw new CliError(s.error ?? "The login was not finished in time: nothing was signed.", EXIT.timeout);
      // The browser's arrival on the loopback server, or a few seconds, whichever is first.
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 2000);
        wake = () => (clearTimeout(t), resolve());
      });
    }
  } finally {
    server.close();
  }
}

/** The signer's password: from stdin with --password-stdin (CI), else asked on the terminal without echo. */
async function signingPassword(o: { passwordStdin?: boolean }): Promise<string> {
  if (o.passwordStdin) {
    let text = "";
    for await (const chunk of process.stdin) text += (chunk as Buffer).toString("utf8");
    const password = text.replace(/\r?\n$/, "");
    if (!password) throw new CliError("--password-stdin: nothing was read from standard input.", EXIT.usage);
    return password;
  }
  if (!process.stdin.isTTY) throw new CliError("Signing asks for your password: run on a terminal, or pipe it in with --password-stdin.", EXIT.usage);
  const { createInterface } = await import("node:readline");
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  const prompt = "Password (to sign): ";
  // Echo nothing of what is typed: readline writes the prompt, then each keystroke.
  (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
    if (s.startsWith(prompt)) process.stderr.write(prompt);
  };
  const password = await new Promise<string>((resolve) => rl.question(prompt, resolve));
  rl.close();
  process.stderr.write("\n");
  if (!password) throw new CliError("No password given: the signature was not recorded.", EXIT.usage);
  return password;
}

type KeyView = { id: string; name: string; prefix: string; createdAt: string; lastUsedAt: string | null; revokedAt: string | null };
const keysCmd = deploymentsCmd.command("keys").description("Deployment keys (stwd_…): credentials for predict calls to one deployment");
keysCmd
  .command("list <deployment>")
  .description("List a deployment's keys (never the keys themselves)")
  .action(async (name: string) => {
    const cfg = loadConfig();
    const rows = (await api(cfg, "GET", `${dep(cfg, name)}/keys`)) as unknown as KeyView[];
    print(jsonOut(), rows, () =>
      rows.length
        ? rows
            .map(
              (k) =>
                `${k.id}  ${k.name.padEnd(24)} ${k.prefix}…  ${k.revokedAt ? `revoked ${k.revokedAt}` : k.lastUsedAt ? `last used ${k.lastUsedAt}` : "never used"}`,
            )
            .join("\n")
        : `${name} has no keys.`,
    );
  });
keysCmd
  .command("create <deployment>")
  .description("Create a key; it is printed once, store it now")
  .requiredOption("--name <name>", "what uses the key, e.g. checkout-service")
  .action(async (name: string, o: { name: string }) => {
    const cfg = loadConfig();
    const r = await api(cfg, "POST", `${dep(cfg, name)}/keys`, { json: { name: o.name } });
    print(jsonOut(), r, () => `${String(r.key)}\nKey "${o.name}" for ${name} (id ${String(r.id)}). It is not shown again: store it now.`);
  });
keysCmd
  .command("revoke <deployment> <keyId>")
  .description("Revoke a key: predict calls with it are refused at once")
  .action(async (name: string, keyId: string) => {
    const cfg = loadConfig();
    const r = await api(cfg, "DELETE", `${dep(cfg, name)}/keys/${encodeURIComponent(keyId)}`);
    print(jsonOut(), r, () => `Revoked key ${keyId} of ${name}.`);
  });

type RuleView = {
  id: string;
  name: string;
  metric: string;
  feature: string | null;
  threshold: number;
  windowMinutes: number;
  severity: string;
  enabled: boolean;
};
type IncidentView = {
  id: string;
  status: string;
  message: string;
  openedAt: string;
  rule: string;
  deployment?: string;
  severity?: string;
  resolutionNote?: string | null;
};
const describeIncident = (i: IncidentView) =>
  `${i.id}  ${i.status.padEnd(12)} ${i.openedAt}  ${i.severity ? `[${i.severity}] ` : ""}${i.deployment ? `${i.deployment}: ` : ""}${i.rule} — ${i.message}${i.resolutionNote ? ` (resolved: ${i.resolutionNote})` : ""}`;
const mon = (cfg: Config, name: string) => `${ws(cfg)}/monitoring/${encodeURIComponent(name)}`;

const alertsCmd = program.command("alerts").description("Alert rules of a deployment: list, create, delete");
alertsCmd
  .command("list <deployment>")
  .description("A deployment's alert rules and its latest incidents")
  .action(async (name: string) => {
    const cfg = loadConfig();
    const r = (await api(cfg, "GET", `${mon(cfg, name)}/alerts`)) as unknown as { rules: RuleView[]; incidents: IncidentView[] };
    print(jsonOut(), r, () =>
      [
        ...(r.rules.length ? r.rules : []).map(
          (x) =>
            `${x.id}  ${x.name.padEnd(24)} ${x.metric}${x.feature ? `(${x.feature})` : ""} threshold ${x.threshold} over ${x.windowMinutes} min  ${x.severity}${x.enabled ? "" : "  (off)"}`,
        ),
        ...(r.rules.length ? [] : [`${name} has no alert rules.`]),
        ...(r.incidents.length ? ["incidents:", ...r.incidents.slice(0, 10).map((i) => `  ${describeIncident(i)}`)] : []),
      ].join("\n"),
    );
  });
alertsCmd
  .command("create <deployment>")
  .description("Add an alert rule")
  .requiredOption("--name <name>", "the rule's name")
  .requiredOption("--metric <metric>", "latency_p99, error_rate, traffic_drop, drift_any, drift_feature, prediction_drift, accuracy, f1, auc, mae, rmse")
  .requiredOption("--threshold <n>", "fires above it (below it for traffic_drop, accuracy, f1, auc)")
  .option("--window <minutes>", "the window it is judged over", "15")
  .option("--severity <severity>", "info, warning or critical", "warning")
  .option("--feature <feature>", "the input feature, for drift_feature")
  .option("--start-pipeline <pipeline>", "a pipeline to run when it fires (e.g. retraining)")
  .option("--disabled", "create it switched off")
  .action(
    async (
      name: string,
      o: { name: string; metric: string; threshold: string; window: string; severity: string; feature?: string; startPipeline?: string; disabled?: boolean },
    ) => {
      const cfg = loadConfig();
      const threshold = Number(o.threshold);
      if (o.threshold.trim() === "" || !Number.isFinite(threshold)) throw new CliError(`--threshold: expected a number (got "${o.threshold}").`, EXIT.usage);
      const rule = {
        name: o.name,
        metric: o.metric,
        threshold,
        windowMinutes: numberArg(o.window, "--window in minutes"),
        severity: o.severity,
        enabled: !o.disabled,
        ...(o.feature ? { feature: o.feature } : {}),
        ...(o.startPipeline ? { startPipeline: o.startPipeline } : {}),
      };
      const r = await api(cfg, "POST", `${mon(cfg, name)}/alerts`, { json: rule });
      print(jsonOut(), r, () => `Added the alert rule "${o.name}" on ${name} (id ${String(r.id)}).`);
    },
  );
alertsCmd
  .command("delete <deployment> <ruleId>")
  .description("Delete an alert rule (refused while it has an open incident: resolve it first)")
  .action(async (name: string, ruleId: string) => {
    const cfg = loadConfig();
    const r = await api(cfg, "DELETE", `${mon(cfg, name)}/alerts/${encodeURIComponent(ruleId)}`);
    print(jsonOut(), r, () => `Deleted the alert rule ${ruleId} of ${name}.`);
  });

const incidentsCmd = program.command("incidents").description("Incidents raised by alert rules: list, acknowledge, resolve and reopen with a note");
incidentsCmd
  .command("list")
  .description("Incidents, newest first (default: the open ones)")
  .option("--status <status>", "open, firing, acknowledged, resolved or all", "open")
  .option("--deployment <name>", "only this deployment's")
  .option("--limit <n>", "at most this many", "100")
  .action(async (o: { status: string; deployment?: string; limit: string }) => {
    const cfg = loadConfig();
    const q = new URLSearchParams({ limit: String(numberArg(o.limit, "--limit")) });
    if (o.status !== "all") q.set("status", o.status);
    if (o.deployment) q.set("deployment", o.deployment);
    const rows = (await api(cfg, "GET", `${ws(cfg)}/incidents?${q.toString()}`)) as unknown as IncidentView[];
    print(jsonOut(), rows, () => (rows.length ? rows.map(describeIncident).join("\n") : o.status === "open" ? "No open incidents." : "No incidents."));
  });
incidentsCmd
  .command("ack <id>")
  .description("Acknowledge a firing incident: someone is on it")
  .action(async (id: string) => {
    const cfg = loadConfig();
    const r = await api(cfg, "POST", `${ws(cfg)}/incidents/${encodeURIComponent(id)}/acknowledge`);
    print(jsonOut(), r, () => `Acknowledged incident ${id}.`);
  });
incidentsCmd
  .command("resolve <id>")
  .description("Resolve an incident by hand, saying why (if its condition still holds, a new one opens)")
  .requiredOption("--note <text>", "why it is resolved: recorded on the incident and in the audit trail")
  .action(async (id: string, o: { note: string }) => {
    const cfg = loadConfig();
    const r = await api(cfg, "POST", `${ws(cfg)}/incidents/${encodeURIComponent(id)}/resolve`, { json: { note: o.note } });
    print(jsonOut(), r, () => `Resolved incident ${id}: ${o.note}`);
  });
incidentsCmd
  .command("reopen <id>")
  .description("Reopen a resolved incident, saying why (it fires again, unacknowledged)")
  .requiredOption("--note <text>", "why it is reopened: recorded in the audit trail")
  .action(async (id: string, o: { note: string }) => {
    const cfg = loadConfig();
    const r = await api(cfg, "POST", `${ws(cfg)}/incidents/${encodeURIComponent(id)}/reopen`, { json: { note: o.note } });
    print(jsonOut(), r, () => `Reopened incident ${id}: ${o.note}`);
  });

const review = (cfg: Config, n: string) => `${ws(cfg)}/reviews/${numberArg(n, "a review number")}`;
reviewsCmd
  .command("list")
  .description("Review requests, newest first")
  .option("--status <status>", "open, closed or all", "open")
  .action(async (o: { status: string }) => {
    const cfg = loadConfig();
    const rows = await allPages<{ number: number; model: string; version: number; alias: string; status: string; requester: string }>(
      cfg,
      `${ws(cfg)}/reviews?limit=500${o.status === "all" ? "" : `&status=${encodeURIComponent(o.status)}`}`,
    );
    print(jsonOut(), rows, () =>
      rows.length
        ? rows
            .map((r) => `#${String(r.number).padEnd(5)} ${`${r.model}@${r.version} → ${r.alias}`.padEnd(40)} ${r.status.padEnd(10)} ${r.requester}`)
            .join("\n")
        : "No review requests.",
    );
  });
reviewsCmd
  .command("comment <number>")
  .description("Comment on a review (markdown; @mentions notify)")
  .requiredOption("-m, --message <text>", "the comment")
  .option("--thread <id>", "reply in this thread")
  .option("--anchor <anchor>", "start a thread on a part of the room (card, checks, metrics, signature, lineage)")
  .action(async (n: string, o: { message: string; thread?: string; anchor?: string }) => {
    const cfg = loadConfig();
    const r = await api(cfg, "POST", `${review(cfg, n)}/comments`, { json: { body: o.message, threadId: o.thread, anchor: o.anchor } });
    print(jsonOut(), r, () => `Commented on #${n}.`);
  });
reviewsCmd
  .command("request-changes <number>")
  .description("Request changes, with a reason (reviewers, compliance officers, admins, owners)")
  .requiredOption("--reason <text>", "what must change")
  .action(async (n: string, o: { reason: string }) => {
    const cfg = loadConfig();
    const r = await api(cfg, "POST", `${review(cfg, n)}/changes`, { json: { reason: o.reason } });
    print(jsonOut(), r, () => `Requested changes on #${n}.`);
  });
for (const decision of ["approve", "reject"] as const) {
  reviewsCmd
    .command(`${decision} <number>`)
    .description(
      decision === "approve"
        ? "E-sign an approval: asks for your password (or --password-stdin); when the policy is satisfied the alias moves"
        : "E-sign a rejection, with a reason: asks for your password (or --password-stdin); the request closes",
    )
    .option("--meaning <text>", 'what your signature means, e.g. "Approved for production release"', decision === "approve" ? undefined : "Rejected")
    .option("--reason <text>", decision === "approve" ? "a note with the signature" : "why (required)")
    .option("--password-stdin", "read the password from standard input (CI); otherwise it is asked on the terminal")
    .option("--sso", "confirm with a fresh login at the single-sign-on provider in a browser instead of a password (accounts without one)")
    .option("--no-browser", "with --sso: print the address to open instead of opening a browser")
    .action(async (n: string, o: { meaning?: string; reason?: string; passwordStdin?: boolean; sso?: boolean; browser: boolean }) => {
      const cfg = loadConfig();
      const path_ = review(cfg, n);
      if (!o.meaning) throw new CliError('--meaning is required: what your signature means, e.g. --meaning "Approved for production release".', EXIT.usage);
      if (decision === "reject" && !o.reason) throw new CliError("--reason is required to reject: say why.", EXIT.usage);
      if (o.sso && o.passwordStdin) throw new CliError("Give --sso or --password-stdin, not both.", EXIT.usage);
      const r = o.sso
        ? await signWithSso(cfg, path_, { decision, meaning: o.meaning, reason: o.reason }, o.browser)
        : await api(cfg, "POST", `${path_}/signatures`, { json: { decision, meaning: o.meaning, reason: o.reason, password: await signingPassword(o) } });
      print(jsonOut(), r, () =>
        r.outcome === "approved"
          ? `Signed #${n}: approved — the alias moved.`
          : r.outcome === "rejected"
            ? `Signed #${n}: rejected.`
            : `Signed #${n} (${decision}); the policy still needs more signatures: steward reviews show ${n}`,
      );
    });
}
reviewsCmd
  .command("withdraw <number>")
  .description("Withdraw an open review request (its requester, or an admin)")
  .action(async (n: string) => {
    const cfg = loadConfig();
    const r = await api(cfg, "POST", `${review(cfg, n)}/withdraw`);
    print(jsonOut(), r, () => `Withdrew #${n}.`);
  });

/** The command registry, for tests that walk every command (see server/serving/paths.int.test.ts). */
export { program };

/** Runs the CLI (bin/steward.mjs calls it). */
export async function run(argv = process.argv) {
  try {
    await program.parseAsync(argv);
  } catch (err) {
    fail(err);
  }
}

function fail(err: unknown): never {
  if (err instanceof CliError) {
    process.stderr.write(`steward: ${err.message}\n`);
    process.exit(err.exit);
  }
  const code = (err as { code?: string; exitCode?: number }).code;
  if (code === "commander.helpDisplayed" || code === "commander.help" || code === "commander.version") process.exit(0);
  if (code?.startsWith("commander.")) process.exit(EXIT.usage);
  process.stderr.write(`steward: ${(err as Error).message}\n`);
  process.exit(EXIT.usage);
}

import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import zlib from "node:zlib";
import { eq, sql } from "drizzle-orm";
import { InferenceSession, Tensor } from "onnxruntime-node";
import onnxProto from "onnx-proto";
import tar from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getDb } from "~/db/client";
import { modelVersions } from "~/db/schema";
import { createWorkspace } from "~/db/seed/factories";
import { encodeModel } from "~/db/seed/onnx-builder";
import { BUNDLE_LIMITS } from "~/server/artifacts/bundle";
import { INSPECT_LIMITS, inspectorCommand } from "~/server/registry/onnx-inspect";
import { createDeployment } from "~/server/serving/deployments.service";
import { createToken } from "~/server/tokens/tokens.service";
import { restEntry } from "~/server/web/rest/entry";
import { form, rest } from "~/test/rest-client";
import { LiveRegistry } from "~/workers/inference/live";
import { InferencePool } from "~/workers/inference/pool";

const { onnx } = onnxProto;

/*
 * Models with external data, uploaded as bundles through REST: a MatMul whose 1000×10 weight
 * lives in weights.bin. Registered from a .zip, a .tar and a .tar.gz (one version: the same
 * normalised tar), served from the store with the outputs onnxruntime gives directly,
 * downloaded as that tar. Then the traversal corpus and the bombs: each refused with its
 * reason, and nothing written — no version row, no blob, no staging leftovers.
 */

const ROWS = 1000;
const COLS = 10;
const weights = new Float32Array(ROWS * COLS).map((_, i) => Math.sin(i * 0.37) * 0.5);
const weightBytes = Buffer.from(weights.buffer);

type Ext = { location?: string; offset?: number; length?: number; extra?: [string, string][] };

/** y[n,10] = x[n,1000] · W, with W's data external (or inline when `ext` is null). */
function matmulModel(ext: Ext | null = { location: "weights.bin" }) {
  const external = ext
    ? [
        ...(ext.location !== undefined ? [{ key: "location", value: ext.location }] : []),
        ...(ext.offset !== undefined ? [{ key: "offset", value: String(ext.offset) }] : []),
        ...(ext.length !== undefined ? [{ key: "length", value: String(ext.length) }] : []),
        ...(ext.extra ?? []).map(([key, value]) => ({ key, value })),
      ]
    : [];
  return Buffer.from(
    encodeModel({
      irVersion: 8,
      opsetImport: [{ domain: "", version: 13 }],
      producerName: "bundle-test",
      graph: {
        name: "matmul",
        node: [{ opType: "MatMul", input: ["x", "W"], output: ["y"] }],
        initializer: [
          ext
            ? {
                name: "W",
                dataType: onnx.TensorProto.DataType.FLOAT,
                dims: [ROWS, COLS],
                dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
                externalData: external,
              }
            : { name: "W", dataType: onnx.TensorProto.DataType.FLOAT, dims: [ROWS, COLS], rawData: weightBytes },
        ],
        input: [{ name: "x", type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: "n" }, { dimValue: ROWS }] } } } }],
        output: [{ name: "y", type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: "n" }, { dimValue: COLS }] } } } }],
      },
    }),
  );
}

type Entry = { name: string; data?: Buffer; type?: "file" | "directory" | "symlink" | "link" | "character-device" | "fifo"; linkname?: string };

async function tarOf(entries: Entry[], gzip = false) {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const collect = async (src: AsyncIterable<Buffer>) => {
    for await (const c of src) chunks.push(c);
  };
  const done = gzip ? pipeline(pack as unknown as Readable, zlib.createGzip(), collect) : collect(pack as unknown as AsyncIterable<Buffer>);
  for (const e of entries) {
    const type = e.type ?? "file";
    await new Promise<void>((resolve, reject) =>
      pack.entry(
        { name: e.name, type, linkname: e.linkname, size: type === "file" ? (e.data?.length ?? 0) : 0 },
        type === "file" ? (e.data ?? Buffer.alloc(0)) : Buffer.alloc(0),
        (err) => (err ? reject(err) : resolve()),
      ),
    );
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

type ZipEntry = { name: string; data?: Buffer; mode?: number; deflate?: boolean; declaredSize?: number };

/** A minimal zip writer (names as given, unchecked), for archives no well-behaved tool would write. */
function zipOf(entries: ZipEntry[]) {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, "utf8");
    const data = e.data ?? Buffer.alloc(0);
    const body = e.deflate ? zlib.deflateRawSync(data) : data;
    const crc = zlib.crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x800, 6);
    local.writeUInt16LE(e.deflate ? 8 : 0, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(e.declaredSize ?? data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE((3 << 8) | 20, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(0x800, 8);
    cd.writeUInt16LE(e.deflate ? 8 : 0, 10);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(body.length, 20);
    cd.writeUInt32LE(e.declaredSize ?? data.length, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE(((e.mode ?? 0o100644) << 16) >>> 0, 38);
    cd.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    central.push(cd, name);
    offset += 30 + name.length + body.length;
  }
  const cdBuf = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cdBuf.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cdBuf, end]);
}

/** A zip of one entry of `size` zero bytes, deflated as it streams into `file` (never held in memory). */
async function zipBombFile(file: string, size: number) {
  const name = Buffer.from("weights.bin");
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(0x808, 6); // sizes and CRC in a data descriptor
  local.writeUInt16LE(8, 8);
  local.writeUInt16LE(name.length, 26);
  const out = fs.createWriteStream(file);
  out.write(Buffer.concat([local, name]));
  let compressed = 0;
  const zero = Buffer.alloc(1024 ** 2);
  async function* zeros() {
    for (let n = 0; n < size; n += zero.length) yield zero;
  }
  await pipeline(Readable.from(zeros()), zlib.createDeflateRaw({ level: 1 }), async (src: AsyncIterable<Buffer>) => {
    for await (const c of src) {
      compressed += c.length;
      if (!out.write(c)) await new Promise<void>((r) => out.once("drain", () => r()));
    }
  });
  // The CRC of `size` zeros is not computed here: unpacking stops long before any check of it.
  const cd = Buffer.alloc(46);
  cd.writeUInt32LE(0x02014b50, 0);
  cd.writeUInt16LE(20, 4);
  cd.writeUInt16LE(20, 6);
  cd.writeUInt16LE(0x808, 8);
  cd.writeUInt16LE(8, 10);
  cd.writeUInt32LE(compressed, 20);
  cd.writeUInt32LE(size, 24);
  cd.writeUInt16LE(name.length, 28);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(46 + name.length, 12);
  end.writeUInt32LE(30 + name.length + compressed, 16);
  out.end(Buffer.concat([cd, name, end]));
  await new Promise<void>((r) => out.on("finish", () => r()));
  return compressed;
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const artifactDir = () => process.env.ARTIFACT_DIR!;
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => !d.isDirectory())
    .map((d) => path.join(d.parentPath, d.name));
}

let ws: Awaited<ReturnType<typeof createWorkspace>>;
let token: string;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "steward-bundle-"));
const pool = new InferencePool(1);

beforeAll(async () => {
  ws = await createWorkspace();
  token = (await createToken(ws.owner.wsActor, { workspaceId: ws.workspace.id, name: "t", role: "owner" })).token;
});
afterAll(async () => {
  await pool.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const upload = (name: string, bytes: Buffer, filename: string) =>
  rest("POST", `/workspaces/${ws.workspace.slug}/models/${name}/versions`, { token, form: form(bytes, filename) });

describe("model bundles (external data)", () => {
  const model = matmulModel();
  let bundleSha = "";

  it("registers a zip, a tar and a tar.gz of the same files as one version, with an exact signature", { timeout: 30_000 }, async () => {
    const zip = zipOf([
      { name: "model.onnx", data: model, deflate: true },
      { name: "weights.bin", data: weightBytes, deflate: true },
    ]);
    const first = await upload("mm", zip, "mm.zip");
    expect(first.status, JSON.stringify(first.data)).toBe(201);
    expect(first.data).toMatchObject({ created: true, version: 1, loadable: true });
    bundleSha = first.data.sha256 as string;
    // Content-addressed by the normalised tar: the same files in another archive are the same version.
    const asTar = await upload(
      "mm",
      await tarOf([
        { name: "weights.bin", data: weightBytes },
        { name: "model.onnx", data: model },
      ]),
      "mm.tar",
    );
    expect([asTar.status, asTar.data.version, asTar.data.sha256, asTar.data.created]).toEqual([200, 1, bundleSha, false]);
    const asTgz = await upload(
      "mm",
      await tarOf(
        [
          { name: "d", type: "directory" },
          { name: "d/model.onnx", data: model },
          { name: "d/weights.bin", data: weightBytes },
        ],
        true,
      ),
      "mm.tar.gz",
    );
    expect([asTgz.status, asTgz.data.sha256]).toEqual([200, bundleSha]);

    const got = await rest("GET", `/workspaces/${ws.workspace.slug}/models/mm/versions/1`, { token });
    expect(got.status).toBe(200);
    const v = got.data as { sha256: string; filename: string; signature: Record<string, unknown> };
    expect(v.sha256).toBe(bundleSha);
    expect(v.filename).toBe("mm.tar");
    expect(v.signature).toMatchObject({
      inputs: [{ name: "x", elemType: "float", shape: ["n", ROWS] }],
      outputs: [{ name: "y", elemType: "float", shape: ["n", COLS] }],
      opCounts: { MatMul: 1 },
      initializerBytes: ROWS * COLS * 4,
      initializerCount: 1,
      runtime: { loadable: true, inputNames: ["x"], outputNames: ["y"] },
    });
  });

  it("downloads the bundle as its normalised tar, the model and data inside byte for byte", async () => {
    const res = await rest("GET", `/workspaces/${ws.workspace.slug}/models/mm/versions/1/file`, { token, raw: true });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/x-tar");
    expect(res.headers.get("x-checksum-sha256")).toBe(bundleSha);
    expect(sha(res.bytes!)).toBe(bundleSha);
    const seen: Record<string, Buffer> = {};
    const extract = tar.extract();
    extract.on("entry", (h, stream, next) => {
      const parts: Buffer[] = [];
      stream.on("data", (c: unknown) => void parts.push(c as Buffer));
      stream.on("end", () => {
        seen[h.name] = Buffer.concat(parts);
        next();
      });
    });
    await pipeline(Readable.from([Buffer.from(res.bytes!)]), extract);
    expect(Object.keys(seen)).toEqual(["model.onnx", "weights.bin"]);
    expect(seen["model.onnx"]!.equals(model)).toBe(true);
    expect(seen["weights.bin"]!.equals(weightBytes)).toBe(true);
  });

  it("serves it from the store with the outputs onnxruntime gives directly", { timeout: 30_000 }, async () => {
    const d = await createDeployment(ws.owner.wsActor, { name: "mm-dev", environment: "dev", model: "mm", alias: "dev", follow: false, version: 1 });
    const live = new LiveRegistry(pool, () => undefined);
    await live.reload(d.id);
    const dep = live.byIdGet(d.id);
    expect(dep?.primary.version).toBe(1);
    // Unpacked once into its content-addressed folder, read-only.
    const folder = path.join(artifactDir(), "bundles", bundleSha);
    expect(fs.readdirSync(folder).sort()).toEqual(["model.onnx", "weights.bin"]);
    expect(fs.statSync(path.join(folder, "weights.bin")).mode & 0o777).toBe(0o444);

    const x = new Float32Array(2 * ROWS).map((_, i) => Math.cos(i * 0.11));
    const served = await pool.run(dep!.primary.key, { x: { type: "float32", data: x.slice(), dims: [2, ROWS] } });
    fs.writeFileSync(path.join(tmp, "model.onnx"), model);
    fs.writeFileSync(path.join(tmp, "weights.bin"), weightBytes);
    const direct = await InferenceSession.create(path.join(tmp, "model.onnx"));
    const expected = await direct.run({ x: new Tensor("float32", x, [2, ROWS]) });
    await direct.release();
    expect(served.outputs.y!.dims).toEqual([2, COLS]);
    expect(Array.from(served.outputs.y!.data as Float32Array)).toEqual(Array.from(expected.y!.data as Float32Array));
  });

  it("pushes a bundle with the CLI and pulls it back as its tar, sha256 verified", { timeout: 30_000 }, async () => {
    const handler = restEntry(async () => null);
    const server = createServer((req, res) => {
      const body = req.method === "GET" ? undefined : (Readable.toWeb(req) as ReadableStream<Uint8Array>);
      void handler(
        new Request(`http://localhost${req.url}`, { method: req.method, headers: req.headers as Record<string, string>, body, duplex: "half" } as RequestInit),
      ).then(async (answer) => {
        res.statusCode = answer.status;
        answer.headers.forEach((value, name) => res.setHeader(name, value));
        res.end(Buffer.from(await answer.arrayBuffer()));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const cli = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [path.resolve("bin/steward.mjs"), "--json", ...args], {
          cwd: tmp,
          env: { PATH: process.env.PATH, HOME: tmp, STEWARD_URL: url, STEWARD_TOKEN: token, STEWARD_WORKSPACE: ws.workspace.slug, NODE_ENV: "production" },
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
      });
    try {
      fs.writeFileSync(
        path.join(tmp, "cli.tar.gz"),
        await tarOf(
          [
            { name: "model.onnx", data: model },
            { name: "weights.bin", data: weightBytes },
          ],
          true,
        ),
      );
      const push = await cli(["models", "push", "cli.tar.gz", "--name", "cli-mm"]);
      expect(push.code, push.stderr).toBe(0);
      expect(JSON.parse(push.stdout)).toMatchObject({ created: true, version: 1, sha256: bundleSha, loadable: true });
      const pull = await cli(["models", "pull", "cli-mm@1"]);
      expect(pull.code, pull.stderr).toBe(0);
      expect(JSON.parse(pull.stdout)).toMatchObject({ file: "cli-mm-v1.tar", sha256: bundleSha, verified: true });
      expect(sha(fs.readFileSync(path.join(tmp, "cli-mm-v1.tar")))).toBe(bundleSha);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it("inspects in bubblewrap: the bundle readable and read-only; the store, the environment and the network out of reach", () => {
    return (async () => {
      const dir = path.join(artifactDir(), "staging", "probe.bundle");
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, "weights.bin"), "w");
      const script = `
        const fs = require("node:fs"), os = require("node:os");
        const tryIt = (f) => { try { return f(); } catch (e) { return e.code; } };
        console.log(JSON.stringify({
          read: tryIt(() => fs.readFileSync(${JSON.stringify(path.join(dir, "weights.bin"))}, "utf8")),
          write: tryIt(() => fs.writeFileSync(${JSON.stringify(path.join(dir, "x"))}, "x")),
          store: tryIt(() => fs.readdirSync(${JSON.stringify(path.join(artifactDir(), "sha256"))}).length),
          env: Object.keys(process.env).sort(),
          net: Object.keys(os.networkInterfaces()),
        }));`;
      const cmd = await inspectorCommand([process.execPath, "-e", script], [dir]);
      expect(cmd.sandboxed).toBe(true);
      const r = spawnSync(cmd.file, cmd.args, { encoding: "utf8", env: { PATH: "/usr/bin:/bin" } as unknown as NodeJS.ProcessEnv });
      fs.rmSync(dir, { recursive: true, force: true });
      expect(r.stderr).toBe("");
      expect(JSON.parse(r.stdout)).toEqual({ read: "w", write: "EROFS", store: "ENOENT", env: ["NODE_ENV", "PATH", "PWD"], net: ["lo"] });
    })();
  });

  it("the inspector's memory watchdog counts the process inside the sandbox", { timeout: 30_000 }, async () => {
    const saved = INSPECT_LIMITS.rssBytes;
    // Node with its TypeScript loader alone is past 40 MiB: measured on bwrap's pid only, the limit would never be reached.
    INSPECT_LIMITS.rssBytes = 40 * 1024 ** 2;
    try {
      const res = await upload(
        "tiny",
        await tarOf([
          { name: "model.onnx", data: model },
          { name: "weights.bin", data: weightBytes },
        ]),
        "b.tar",
      );
      expect([res.status, res.data.error?.message]).toEqual([400, expect.stringMatching(/needed more memory than allowed to inspect/)]);
    } finally {
      INSPECT_LIMITS.rssBytes = saved;
    }
  });

  describe("refusals: each names its entry and reason, and writes nothing", () => {
    const data = { name: "weights.bin", data: weightBytes };
    const withModel = (m: Buffer, ...rest: Entry[]): Entry[] => [{ name: "model.onnx", data: m }, ...rest];
    const archiveCases: [string, () => Promise<[Buffer, string]>, RegExp][] = [
      [
        "an absolute entry",
        async () => [await tarOf(withModel(model, data, { name: "/etc/cron.d/x", data: Buffer.from("x") })), "b.tar"],
        /Entry "\/etc\/cron.d\/x" is an absolute path/,
      ],
      [
        "a .. entry",
        async () => [await tarOf(withModel(model, data, { name: "../../x.bin", data: Buffer.from("x") })), "b.tar"],
        /Entry "..\/..\/x.bin" has a ".." segment/,
      ],
      [
        "a backslash entry (zip)",
        async () => [
          zipOf([
            { name: "model.onnx", data: model },
            { name: "..\\..\\x.bin", data: Buffer.from("x") },
          ]),
          "b.zip",
        ],
        /Entry "..\\\\..\\\\x.bin" contains a backslash/,
      ],
      [
        "a URL-encoded entry",
        async () => [await tarOf(withModel(model, data, { name: "%2e%2e%2fx.bin", data: Buffer.from("x") })), "b.tar"],
        /Entry "%2e%2e%2fx.bin" contains a percent-encoded sequence/,
      ],
      [
        "a double-encoded entry",
        async () => [
          zipOf([
            { name: "model.onnx", data: model },
            { name: "%252e%252e%252fx.bin", data: Buffer.from("x") },
          ]),
          "b.zip",
        ],
        /Entry "%252e%252e%252fx.bin" contains a percent-encoded/,
      ],
      [
        "a symlink (tar)",
        async () => [await tarOf(withModel(model, { name: "weights.bin", type: "symlink", linkname: "/etc/passwd" })), "b.tar"],
        /Entry "weights.bin" is a symbolic link/,
      ],
      [
        "a symlink (zip)",
        async () => [
          zipOf([
            { name: "model.onnx", data: model },
            { name: "weights.bin", data: Buffer.from("/etc/passwd"), mode: 0o120777 },
          ]),
          "b.zip",
        ],
        /Entry "weights.bin" is a symbolic link/,
      ],
      [
        "a hardlink",
        async () => [await tarOf(withModel(model, { name: "weights.bin", type: "link", linkname: "/etc/passwd" })), "b.tar"],
        /Entry "weights.bin" is a hard link/,
      ],
      [
        "a device",
        async () => [await tarOf(withModel(model, { name: "weights.bin", type: "character-device" })), "b.tar"],
        /Entry "weights.bin" is a device file/,
      ],
      ["a fifo", async () => [await tarOf(withModel(model, { name: "weights.bin", type: "fifo" })), "b.tar"], /Entry "weights.bin" is a named pipe/],
      ["a duplicate name", async () => [await tarOf(withModel(model, data, data)), "b.tar"], /Entry "weights.bin" appears more than once/],
      [
        "an unreferenced file",
        async () => [await tarOf(withModel(model, data, { name: "README.md", data: Buffer.from("hi") })), "b.tar"],
        /a file the model does not reference \("README.md"\)/,
      ],
      ["two models", async () => [await tarOf(withModel(model, data, { name: "other.onnx", data: model })), "b.tar"], /model.onnx and other .onnx files/],
      ["no model", async () => [await tarOf([data]), "b.tar"], /no .onnx file/],
      [
        "more than 10,000 entries",
        async () => [
          zipOf([{ name: "model.onnx", data: model }, data, ...Array.from({ length: BUNDLE_LIMITS.maxEntries }, (_, i) => ({ name: `f${i}` }))]),
          "b.zip",
        ],
        /more than 10,000 entries \(10,002\)/,
      ],
      ["a size the header understates", async () => [zipOf([{ name: "model.onnx", data: model, declaredSize: 100 }, data]), "b.zip"], /\.zip file is damaged/],
      ["a truncated archive", async () => [(await tarOf(withModel(model, data))).subarray(0, 20_000), "b.tar"], /damaged or not an archive/],
    ];
    const locationCases: [string, Ext, RegExp][] = [
      ["an absolute location", { location: "/etc/passwd" }, /location "\/etc\/passwd" that is an absolute path/],
      ["a .. location", { location: "../weights.bin" }, /location "..\/weights.bin" that has a ".." segment/],
      ["a backslash location", { location: "..\\weights.bin" }, /location "..\\\\weights.bin" that contains a backslash/],
      ["a URL-encoded location", { location: "%2e%2e%2fweights.bin" }, /location "%2e%2e%2fweights.bin" that contains a percent-encoded sequence/],
      ["a double-encoded location", { location: "%252e%252e%252fweights.bin" }, /location "%252e%252e%252fweights.bin" that contains a percent-encoded/],
      ["onnxruntime's memory-address marker", { location: "*/_ORT_MEM_ADDR_/*" }, /location "\*\/_ORT_MEM_ADDR_\/\*" that contains a character reserved/],
      ["an empty location", { location: "" }, /stores its data externally with an empty location/],
      ["no location at all", {}, /stores its data externally with an empty location/],
      ["a missing file", { location: "nope.bin" }, /location "nope.bin" that is not a file in the bundle/],
      [
        "an offset past the end",
        { location: "weights.bin", offset: 40_000, length: 40_000 },
        /reads bytes 40000–80000 of "weights.bin", which has only 40000 bytes/,
      ],
      ["a length past the end", { location: "weights.bin", offset: 8, length: 40_000 }, /reads bytes 8–40008 of "weights.bin"/],
      ["a repeated key", { location: "weights.bin", extra: [["location", "/etc/passwd"]] }, /names its external-data "location" twice/],
    ];

    it("refuses each case of the corpus with its reason; no version row, no blob, nothing left in staging", { timeout: 60_000 }, async () => {
      const blobsBefore = filesUnder(path.join(artifactDir(), "sha256")).length;
      const rowsBefore = (
        await getDb()
          .select({ n: sql<number>`count(*)::int` })
          .from(modelVersions)
          .where(eq(modelVersions.workspaceId, ws.workspace.id))
      )[0]!.n;
      const results: string[] = [];
      for (const [what, make, reason] of archiveCases) {
        const [bytes, filename] = await make();
        const res = await upload("bad", bytes, filename);
        results.push(`${what}: ${res.status} ${res.data.error?.message}`);
        expect(res.status, what).toBe(400);
        expect(res.data.error?.field, what).toBe("file");
        expect(res.data.error?.message, what).toMatch(/^The bundle was refused, and nothing was stored: /);
        expect(res.data.error?.message, what).toMatch(reason);
      }
      // The location a directory of the bundle.
      const dirCase = await upload(
        "bad",
        await tarOf([
          { name: "model.onnx", data: matmulModel({ location: "sub" }) },
          { name: "sub/w.bin", data: weightBytes },
        ]),
        "b.tar",
      );
      expect([dirCase.status, dirCase.data.error?.message]).toEqual([400, expect.stringMatching(/location "sub" that is a folder, not a file/)]);
      for (const [what, ext, reason] of locationCases) {
        const res = await upload("bad", await tarOf([{ name: "model.onnx", data: matmulModel(ext) }, data]), "b.tar");
        expect(res.status, what).toBe(400);
        expect(res.data.error?.message, what).toMatch(/^The bundle was refused, and nothing was stored: Initializer "W" /);
        expect(res.data.error?.message, what).toMatch(reason);
      }
      // A single .onnx with external data is still refused: it has no folder to resolve against.
      const single = await upload("bad", matmulModel(), "m.onnx");
      expect([single.status, single.data.error?.message]).toEqual([
        400,
        expect.stringMatching(/stores its data in an external file \("weights.bin"\).*or a .zip or .tar bundle/),
      ]);

      const rowsAfter = (
        await getDb()
          .select({ n: sql<number>`count(*)::int` })
          .from(modelVersions)
          .where(eq(modelVersions.workspaceId, ws.workspace.id))
      )[0]!.n;
      expect(rowsAfter).toBe(rowsBefore);
      expect(filesUnder(path.join(artifactDir(), "sha256"))).toHaveLength(blobsBefore);
      expect(filesUnder(path.join(artifactDir(), "staging"))).toEqual([]);
      expect((await rest("GET", `/workspaces/${ws.workspace.slug}/models/bad`, { token })).status).toBe(404);
    });

    it("stops a 1 GB zip bomb mid-stream, and a header that understates it", { timeout: 60_000 }, async () => {
      const file = path.join(tmp, "bomb.zip");
      const compressed = await zipBombFile(file, 1024 ** 3);
      expect(compressed).toBeLessThan(10 * 1024 ** 2);
      const res = await upload("bomb", Buffer.concat([fs.readFileSync(file)]), "bomb.zip");
      // A model.onnx is not even needed: the entry is refused while it unpacks.
      expect(res.status).toBe(400);
      expect(res.data.error?.message).toMatch(/Entry "weights.bin" unpacks to more than 200 times its compressed size .* refused as a zip bomb/);
      // The same entry under a central directory that declares 1 KiB: counted, not believed.
      const lying = zipOf([
        { name: "model.onnx", data: model },
        { name: "weights.bin", data: Buffer.alloc(64 * 1024 ** 2), deflate: true, declaredSize: 1024 },
      ]);
      const res2 = await upload("bomb", lying, "bomb.zip");
      expect(res2.status).toBe(400);
      expect(res2.data.error?.message).toMatch(/zip bomb|damaged/);
      // A .tar.gz: the gzip stream's ratio as a whole.
      const tgz = await tarOf(
        [
          { name: "model.onnx", data: model },
          { name: "weights.bin", data: Buffer.alloc(64 * 1024 ** 2) },
        ],
        true,
      );
      const res3 = await upload("bomb", tgz, "bomb.tar.gz");
      expect(res3.status).toBe(400);
      expect(res3.data.error?.message).toMatch(/The .tar.gz unpacks to more than 200 times its compressed size/);
      expect(filesUnder(path.join(artifactDir(), "staging"))).toEqual([]);
    });

    it("refuses a bundle that unpacks past the total size limit", async () => {
      const saved = BUNDLE_LIMITS.maxTotalBytes;
      BUNDLE_LIMITS.maxTotalBytes = 30_000;
      try {
        const res = await upload("big", await tarOf([{ name: "model.onnx", data: model }, data]), "b.tar");
        expect([res.status, res.data.error?.message]).toEqual([400, expect.stringMatching(/The bundle unpacks to more than 29 KiB\./)]);
      } finally {
        BUNDLE_LIMITS.maxTotalBytes = saved;
      }
    });
  });
});

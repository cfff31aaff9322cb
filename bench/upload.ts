/* ---------------------------------------------------------------------------
 * bench/upload: large files in and out of the registry over HTTP, beside a plain local
 * copy of the same bytes.
 *   npm run bench:upload [-- --mb 300 --rounds 2]
 * A model of --mb MB (one large initializer, generated here) is uploaded through the REST
 * API (a streamed multipart body, as the browser and the CLI send it) and with the CLI,
 * then downloaded with `steward models pull` (sha256 verified). The API runs in its own
 * process (bench/lib/upload-server.ts, the handler behind app/api/v1), whose peak RSS is
 * sampled during each transfer. An upload includes staging + hashing, inspection in the
 * ONNX child process (parse + onnxruntime load) and the store; the baseline copies the
 * file with fs streams. Prints a Markdown table.
 * ------------------------------------------------------------------------- */
import { fork, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import { benchEnv } from "./lib/env";

const { values } = parseArgs({ options: { mb: { type: "string", default: "300" }, rounds: { type: "string", default: "2" } } });
const MB = Number(values.mb);
const ROUNDS = Number(values.rounds);
const bench = await benchEnv("upload");
const { createWorkspace } = await import("../db/seed/factories");
const { writeLargeOnnx } = await import("../db/seed/onnx-builder");
const { createToken } = await import("../server/tokens/tokens.service");
const { closeDb } = await import("../db/client");

const ws = await createWorkspace();
const token = (await createToken(ws.owner.wsActor, { workspaceId: ws.workspace.id, name: "bench", role: "owner" })).token;
const child = fork(path.resolve("bench/lib/upload-server.ts"), [], {
  execArgv: ["--import", "tsx", "--import", "./bin/hooks/register.js"],
  env: process.env,
  stdio: "inherit",
});
const ask = (type: string) =>
  new Promise<{ now: number; peak?: number; port?: number }>((resolve) => {
    child.once("message", (m: { now: number; peak?: number }) => resolve(m));
    child.send({ type });
  });
const port = await new Promise<number>((resolve) => child.once("message", (m: { port: number }) => resolve(m.port)));
const url = `http://127.0.0.1:${port}`;

function cli(args: string[]) {
  return new Promise<void>((resolve, reject) => {
    const p = spawn(process.execPath, [path.resolve("bin/steward.mjs"), ...args], {
      cwd: bench.dir,
      env: { PATH: process.env.PATH, HOME: bench.dir, STEWARD_URL: url, STEWARD_TOKEN: token, STEWARD_WORKSPACE: ws.workspace.slug, NODE_ENV: "production" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let err = "";
    p.stderr.on("data", (d: Buffer) => (err += d.toString()));
    p.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`steward ${args.join(" ")}: ${err}`))));
  });
}

/** The same multipart body the CLI builds, sent with fetch. */
async function restUpload(file: string, name: string) {
  const boundary = "----stewardbench";
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="m.onnx"\r\nContent-Type: application/octet-stream\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  async function* parts() {
    yield head;
    for await (const c of fs.createReadStream(file, { highWaterMark: 256 * 1024 })) yield c as Buffer;
    yield tail;
  }
  const res = await fetch(`${url}/api/v1/workspaces/${ws.workspace.slug}/models/${name}/versions`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": `multipart/form-data; boundary=${boundary}`,
      "content-length": String(head.length + fs.statSync(file).size + tail.length),
    },
    body: Readable.toWeb(Readable.from(parts())) as ReadableStream<Uint8Array>,
    duplex: "half",
  } as RequestInit);
  if (res.status !== 201) throw new Error(`upload answered ${res.status}: ${await res.text()}`);
}

type Row = { path: string; seconds: number[]; peaks: number[] };
const rows: Row[] = [];
const row = (p: string) => rows.find((r) => r.path === p) ?? (rows.push({ path: p, seconds: [], peaks: [] }), rows.at(-1)!);
async function measure(p: string, fn: () => Promise<void>) {
  await ask("reset");
  const base = (await ask("peak")).now;
  const t = performance.now();
  await fn();
  const seconds = (performance.now() - t) / 1000;
  const { peak } = await ask("peak");
  row(p).seconds.push(seconds);
  row(p).peaks.push(Math.max(0, (peak ?? base) - base));
}

let size = 0;
for (let round = 0; round < ROUNDS; round++) {
  const file = path.join(bench.dir, `m${round}.onnx`);
  await writeLargeOnnx(file, MB * 1e6, round + 1);
  size = fs.statSync(file).size;
  await measure("plain copy (fs streams)", () => pipeline(fs.createReadStream(file), fs.createWriteStream(`${file}.copy`)));
  fs.rmSync(`${file}.copy`);
  await measure("REST upload (multipart, streamed)", () => restUpload(file, `rest-${round}`));
  await writeLargeOnnx(file, MB * 1e6, 1000 + round);
  await measure("CLI push", () => cli(["models", "push", file, "--name", `cli-${round}`]));
  await measure("CLI pull (sha256 verified)", () => cli(["models", "pull", `cli-${round}@1`, "-o", `back-${round}.onnx`]));
  fs.rmSync(path.join(bench.dir, `back-${round}.onnx`));
  fs.rmSync(file);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const copy = median(rows[0]!.seconds);
const mib = (b: number) => (b / 1024 ** 2).toFixed(0);
console.log(`\n${(size / 1e6).toFixed(0)} MB ONNX model, ${ROUNDS} rounds (median); peak RSS growth of the API process during the transfer\n`);
console.log("| path | seconds | MB/s | × plain copy | peak RSS growth (MiB) |");
console.log("|---|---:|---:|---:|---:|");
for (const r of rows) {
  const s = median(r.seconds);
  console.log(
    `| ${r.path} | ${s.toFixed(2)} | ${(size / 1e6 / s).toFixed(0)} | ${(s / copy).toFixed(1)} | ${r.path.startsWith("plain") ? "—" : mib(Math.max(...r.peaks))} |`,
  );
}
child.disconnect();
await closeDb();
await bench.done();

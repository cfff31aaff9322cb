/* ---------------------------------------------------------------------------
 * bench/oip: one 1M-float tensor through the real inference process, three ways, in
 * one run (alternating rounds, medians, ratios):
 *   - Steward's predict, JSON both ways (exact floats: every float32 digit);
 *   - the Open Inference Protocol with JSON tensors;
 *   - the Open Inference Protocol with the binary tensor data extension both ways.
 * Bytes on the wire (request and answer) and wall time per request, sequential, with a
 * deployment key and the prediction log on, as served. The model is y = Identity(x), so
 * what is measured is encoding, transport, decoding and the copy to the inference thread.
 *   node --import tsx --import ./bin/hooks/register.js bench/oip.ts [--rounds 5]
 * The server runs with INFERENCE_MAX_BODY_BYTES = 64 MiB: the JSON body (~19 MB) passes
 * the default 16 MiB limit, which is the point of the binary extension.
 * ------------------------------------------------------------------------- */
import { spawn, type ChildProcess } from "node:child_process";
import http from "node:http";
import os from "node:os";
import { Readable } from "node:stream";
import { parseArgs } from "node:util";
import onnxProto from "onnx-proto";
import { freePort } from "../bin/lib/embedded-pg";
import { benchEnv } from "./lib/env";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "5" } } });
const ROUNDS = Number(values.rounds);
const N = 1_000_000;
const bench = await benchEnv("oip");
const { createWorkspace } = await import("../db/seed/factories");
const { encodeModel } = await import("../db/seed/onnx-builder");
const { uploadModelVersion } = await import("../server/registry/models.service");
const { createDeployment, createKey } = await import("../server/serving/deployments.service");
const { closeDb } = await import("../db/client");

const T = onnxProto.onnx.TensorProto.DataType;
const vi = (name: string) => ({ name, type: { tensorType: { elemType: T.FLOAT, shape: { dim: [{ dimValue: 1 }, { dimParam: "n" }] } } } });
const model = encodeModel({
  irVersion: 8,
  opsetImport: [{ domain: "", version: 17 }],
  producerName: "steward-bench",
  graph: { name: "id", node: [{ opType: "Identity", input: ["x"], output: ["y"] }], input: [vi("x")], output: [vi("y")] },
});
const ws = await createWorkspace();
await uploadModelVersion(ws.owner.wsActor, { name: "echo", filename: "echo.onnx" }, Readable.from([Buffer.from(model)]));
await createDeployment(ws.owner.wsActor, { name: "echo-bench", environment: "bench", model: "echo", alias: "bench", version: 1 });
const { key } = await createKey(ws.owner.wsActor, { name: "echo-bench", keyName: "bench" });
await closeDb();

// Seeded floats in [-1, 1): ~9 significant digits each as JSON, as real activations have.
const x = new Float32Array(N);
let seed = 7;
for (let i = 0; i < N; i++) x[i] = ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
const xs = Array.from(x);
const bodies = {
  "Steward predict (JSON)": {
    path: "/v1/deployments/echo-bench/predict",
    body: Buffer.from(JSON.stringify({ inputs: { x: [xs] } })),
    headers: { "content-type": "application/json" },
  },
  "v2 infer, JSON tensors": {
    path: "/v2/models/echo-bench/infer",
    body: Buffer.from(JSON.stringify({ inputs: [{ name: "x", shape: [1, N], datatype: "FP32", data: xs }] })),
    headers: { "content-type": "application/json" },
  },
  "v2 infer, binary both ways": (() => {
    const header = Buffer.from(
      JSON.stringify({
        inputs: [{ name: "x", shape: [1, N], datatype: "FP32", parameters: { binary_data_size: 4 * N } }],
        outputs: [{ name: "y", parameters: { binary_data: true } }],
      }),
    );
    return {
      path: "/v2/models/echo-bench/infer",
      body: Buffer.concat([header, Buffer.from(x.buffer)]),
      headers: { "content-type": "application/octet-stream", "inference-header-content-length": String(header.length) },
    };
  })(),
};

const port = await freePort();
const server: ChildProcess = spawn(process.execPath, ["--import", "tsx", "--import", "./bin/hooks/register.js", "workers/inference/index.ts"], {
  env: { ...process.env, INFERENCE_PORT: String(port), INFERENCE_MAX_BODY_BYTES: String(64 * 1024 * 1024), INFERENCE_THREADS: "1", NODE_ENV: "production" },
  stdio: ["ignore", "pipe", "inherit", "ipc"],
});
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const call = (b: (typeof bodies)[keyof typeof bodies]) =>
  new Promise<{ ms: number; bytes: number; answer: Buffer; headerLength: number | null }>((resolve, reject) => {
    const t = performance.now();
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        path: b.path,
        method: "POST",
        agent,
        headers: { authorization: `Bearer ${key}`, "content-length": b.body.length, ...b.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const answer = Buffer.concat(chunks);
          if (res.statusCode !== 200) return reject(new Error(`${b.path} answered ${res.statusCode}: ${answer.toString().slice(0, 300)}`));
          const hl = res.headers["inference-header-content-length"];
          resolve({ ms: performance.now() - t, bytes: answer.length, answer, headerLength: typeof hl === "string" ? Number(hl) : null });
        });
      },
    );
    req.on("error", reject);
    req.end(b.body);
  });

const f = (n: number, d = 0) => n.toLocaleString("en", { maximumFractionDigits: d, minimumFractionDigits: d });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
try {
  await new Promise<void>((resolve, reject) => {
    server.stdout!.on("data", (d: Buffer) => d.toString().includes("ready:") && resolve());
    server.on("exit", (c) => reject(new Error(`the inference server exited (${c})`)));
  });
  // Served once the deployment is loaded; and every answer checked exact, once.
  for (;;) {
    try {
      const r = await call(bodies["v2 infer, binary both ways"]);
      if (Buffer.compare(r.answer.subarray(r.headerLength!), Buffer.from(x.buffer)) !== 0) throw new Error("the binary answer is not the tensor sent");
      break;
    } catch (err) {
      if (!/answered (404|503)/.test((err as Error).message)) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const json = JSON.parse((await call(bodies["Steward predict (JSON)"])).answer.toString()) as { outputs: { y: number[][] } };
  if (!json.outputs.y[0]!.every((v, i) => v === x[i])) throw new Error("the JSON answer is not the tensor sent");
  const times: Record<string, number[]> = {};
  const sizes: Record<string, number> = {};
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, b] of Object.entries(bodies)) {
      const res = await call(b);
      (times[name] ??= []).push(res.ms);
      sizes[name] = res.bytes;
    }
  }
  const cpus = os.cpus();
  const base = median(times["Steward predict (JSON)"]!);
  const baseBytes = bodies["Steward predict (JSON)"].body.length + sizes["Steward predict (JSON)"]!;
  console.log(
    `bench/oip: 1,000,000 float32 values, Identity model · ${cpus.length} × ${cpus[0]?.model ?? "cpu"} · Node ${process.version} · ${ROUNDS} rounds, median\n`,
  );
  console.log("| encoding | request bytes | answer bytes | on the wire vs JSON predict | time per request | vs JSON predict |");
  console.log("|---|---:|---:|---:|---:|---:|");
  for (const [name, b] of Object.entries(bodies)) {
    const wire = b.body.length + sizes[name]!;
    const t = median(times[name]!);
    console.log(`| ${name} | ${f(b.body.length)} | ${f(sizes[name]!)} | ×${f(wire / baseBytes, 2)} | ${f(t, 1)} ms | ×${f(t / base, 2)} |`);
  }
} finally {
  server.kill("SIGTERM");
  await new Promise((r) => server.once("exit", r));
  agent.destroy();
  await bench.done();
}

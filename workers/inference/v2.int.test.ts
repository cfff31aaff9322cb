/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- JSON answers read as documents */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { eq } from "drizzle-orm";
import onnxProto from "onnx-proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "~/bin/lib/embedded-pg";
import { getDb } from "~/db/client";
import { predictionLogs } from "~/db/schema";
import { createWorkspace } from "~/db/seed/factories";
import { encodeModel, logisticRegressionOnnx } from "~/db/seed/onnx-builder";
import { uploadModelVersion } from "~/server/registry/models.service";
import * as deployments from "~/server/serving/deployments.service";
import { createToken } from "~/server/tokens/tokens.service";

/*
 * The Open Inference Protocol (KServe v2 / Triton REST) against the inference process over
 * real HTTP, with request/response pairs written from the specification
 * (kserve/open-inference-protocol specification/protocol/inference_rest.md, Triton's
 * docs/protocol/extension_binary_data.md), beside Steward's own predict: one serve path,
 * exact floats both ways, gzip bodies.
 */
const { onnx } = onnxProto;
const root = path.resolve(import.meta.dirname, "../..");
let child: ChildProcess;
let base: string;
let out = "";

beforeAll(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  child = spawn(process.execPath, ["--import", "tsx", "--import", "./bin/hooks/register.js", "workers/inference/index.ts"], {
    cwd: root,
    env: { ...process.env, INFERENCE_PORT: String(port), INFERENCE_THREADS: "1", NODE_ENV: "production" },
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", () => out.includes("ready:") && resolve());
    child.on("exit", (c) => reject(new Error(`inference exited (${c}):\n${out}`)));
  });
});
afterAll(() => {
  child?.kill("SIGKILL");
});

/** Polls until `read` gives a value: no deadline of its own (the test's timeout bounds it), so a busy machine is slow, not failing. */
async function until<T>(_what: string, read: () => Promise<T | null | undefined | false>): Promise<T> {
  for (;;) {
    const v = await read();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
}

const T = onnx.TensorProto.DataType;
/** y = Identity(x), x of one float type and a fully dynamic shape [n]. */
function identity(elem: number) {
  const vi = (name: string) => ({ name, type: { tensorType: { elemType: elem, shape: { dim: [{ dimParam: "n" }] } } } });
  return encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 17 }],
    producerName: "steward-test",
    graph: { name: "id", node: [{ opType: "Identity", input: ["x"], output: ["y"] }], input: [vi("x")], output: [vi("y")] },
  });
}

const FEATURES = ["age", "income_k", "debt_ratio"];
let s: Awaited<ReturnType<typeof createWorkspace>> & { token: string };

async function call(method: string, url: string, opts: { token?: string; body?: Buffer | string; headers?: Record<string, string> } = {}) {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...opts.headers },
    body: typeof opts.body === "string" || opts.body === undefined ? opts.body : new Uint8Array(opts.body),
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  const hl = res.headers.get("inference-header-content-length");
  const json = JSON.parse(bytes.subarray(0, hl ? Number(hl) : bytes.length).toString("utf8"));
  return { status: res.status, headers: res.headers, body: json as Record<string, any>, binary: hl ? bytes.subarray(Number(hl)) : null, size: bytes.length };
}
const infer = (name: string, body: unknown, token = s.token, headers: Record<string, string> = {}) =>
  call("POST", `/v2/models/${name}/infer`, { token, body: JSON.stringify(body), headers: { "content-type": "application/json", ...headers } });
/** A request with the binary tensor data extension: the JSON header, then the tensors' bytes. */
function binaryBody(header: unknown, ...tensors: Buffer[]) {
  const json = Buffer.from(JSON.stringify(header));
  return {
    body: Buffer.concat([json, ...tensors]),
    headers: { "content-type": "application/octet-stream", "inference-header-content-length": String(json.length) },
  };
}
const bytesOf = (a: Float32Array | Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

beforeAll(async () => {
  const ws = await createWorkspace();
  const { token } = await createToken(ws.owner.wsActor, { workspaceId: ws.workspace.id, name: "serve", role: "ml_engineer" });
  s = { ...ws, token };
  await uploadModelVersion(
    s.owner.wsActor,
    { name: "risk", filename: "risk.onnx" },
    Readable.from([Buffer.from(logisticRegressionOnnx({ weights: [0.01, -0.01, 2], bias: -1, featureNames: FEATURES }))]),
  );
  await uploadModelVersion(s.owner.wsActor, { name: "echo32", filename: "echo32.onnx" }, Readable.from([Buffer.from(identity(T.FLOAT))]));
  await uploadModelVersion(s.owner.wsActor, { name: "echo64", filename: "echo64.onnx" }, Readable.from([Buffer.from(identity(T.DOUBLE))]));
  await uploadModelVersion(s.owner.wsActor, { name: "echo16", filename: "echo16.onnx" }, Readable.from([Buffer.from(identity(T.FLOAT16))]));
  for (const [name, model] of [
    ["risk-v2", "risk"],
    ["echo32", "echo32"],
    ["echo64", "echo64"],
    ["echo16", "echo16"],
  ] as const) {
    await deployments.createDeployment(s.owner.wsActor, { name, environment: "prod", model, alias: "v2-test", version: 1 });
  }
  for (const name of ["risk-v2", "echo32", "echo64", "echo16"])
    await until(`${name} to be served`, async () => (await call("GET", `/v2/models/${name}/ready`, { token: s.token })).status === 200);
}, 120_000);

describe("Open Inference Protocol: health and metadata", () => {
  it("answers the health probes and the server metadata without credentials", async () => {
    expect(await call("GET", "/v2/health/live")).toMatchObject({ status: 200, body: { live: true } });
    expect(await call("GET", "/v2/health/ready")).toMatchObject({ status: 200, body: { ready: true } });
    expect(await call("GET", "/v2")).toMatchObject({ status: 200, body: { name: "steward", extensions: ["binary_tensor_data"] } });
  });

  it("describes a deployment from its signature: datatypes, shapes with -1 for dynamic dims, versions, platform", async () => {
    const meta = await call("GET", "/v2/models/risk-v2", { token: s.token });
    expect(meta.status).toBe(200);
    expect(meta.body).toEqual({
      name: "risk-v2",
      versions: ["1"],
      platform: "onnxruntime_onnx",
      inputs: [{ name: "features", datatype: "FP32", shape: [-1, 3] }],
      outputs: [
        { name: "probability", datatype: "FP32", shape: [-1, 1] },
        { name: "label", datatype: "INT64", shape: [-1, 1] },
      ],
    });
    expect((await call("GET", "/v2/models/echo16", { token: s.token })).body.inputs).toEqual([{ name: "x", datatype: "FP16", shape: [-1] }]);
    expect(await call("GET", "/v2/models/risk-v2/versions/1", { token: s.token })).toMatchObject({ status: 200, body: { name: "risk-v2" } });
    expect(await call("GET", "/v2/models/risk-v2/ready", { token: s.token })).toMatchObject({ status: 200, body: { name: "risk-v2", ready: true } });
    expect(await call("GET", "/v2/models/risk-v2/versions/1/ready", { token: s.token })).toMatchObject({ status: 200, body: { ready: true } });
  });

  it("refuses with the protocol's error body { error: string } and a proper status", async () => {
    const cases: [Promise<Awaited<ReturnType<typeof call>>>, number, RegExp][] = [
      [call("GET", "/v2/models/risk-v2"), 401, /Authorization: Bearer/],
      [call("GET", "/v2/models/risk-v2", { token: "stw_not_a_token" }), 401, /unknown, revoked or expired/],
      [call("GET", "/v2/models/nope", { token: s.token }), 404, /no deployment "nope"/],
      [call("GET", "/v2/models/risk-v2/versions/7", { token: s.token }), 404, /serves version 1, not version 7/],
      [call("POST", "/v2/models/risk-v2/versions/7/infer", { token: s.token, body: "{}" }), 404, /serves version 1, not version 7/],
      [call("GET", "/v2/models/risk-v2/infer", { token: s.token }), 405, /Use POST/],
      [call("GET", "/v2/nothing-here"), 404, /Open Inference Protocol/],
    ];
    for (const [p, status, message] of cases) {
      const r = await p;
      expect(r.status, message.source).toBe(status);
      expect(typeof r.body.error, message.source).toBe("string");
      expect(r.body.error).toMatch(message);
    }
  });
});

describe("Open Inference Protocol: inference", () => {
  it("infers with JSON tensors, flat or nested, echoes the id and answers as Steward's predict does (one serve path, logged)", async () => {
    const r = await infer("risk-v2", { id: "req-42", inputs: [{ name: "features", shape: [2, 3], datatype: "FP32", data: [40, 50, 0.3, 25, 20, 0.9] }] });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("application/json");
    expect(r.body).toMatchObject({
      model_name: "risk-v2",
      model_version: "1",
      id: "req-42",
      parameters: { role: "primary", model: "risk", request_id: expect.any(String) },
    });
    expect(r.body.outputs.map((o: any) => [o.name, o.datatype, o.shape])).toEqual([
      ["probability", "FP32", [2, 1]],
      ["label", "INT64", [2, 1]],
    ]);
    const nested = await infer("risk-v2", {
      inputs: [
        {
          name: "features",
          shape: [2, 3],
          datatype: "FP32",
          data: [
            [40, 50, 0.3],
            [25, 20, 0.9],
          ],
        },
      ],
    });
    expect(nested.body.outputs).toEqual(r.body.outputs);
    expect(nested.body.id).toBeUndefined();
    const v1 = await fetch(`${base}/v1/deployments/risk-v2/predict`, {
      method: "POST",
      headers: { authorization: `Bearer ${s.token}` },
      body: JSON.stringify({
        inputs: {
          features: [
            [40, 50, 0.3],
            [25, 20, 0.9],
          ],
        },
      }),
    });
    const steward = await v1.json();
    expect(r.body.outputs[0].data).toEqual(steward.outputs.probability.flat());
    expect(r.body.outputs[1].data).toEqual(steward.outputs.label.flat());
    // The prediction log holds the v2 request like a predict body, under the request id the answer names.
    const logged = await until(
      "the v2 prediction in the log",
      async () =>
        (
          await getDb()
            .select()
            .from(predictionLogs)
            .where(eq(predictionLogs.requestId, r.body.parameters.request_id as string))
        )[0],
    );
    expect(logged).toMatchObject({
      role: "primary",
      status: "ok",
      rows: 2,
      inputs: {
        inputs: {
          features: [
            [40, 50, Math.fround(0.3)],
            [25, 20, Math.fround(0.9)],
          ],
        },
      },
      outputs: steward.outputs,
    });
    expect(r.headers.get("x-request-id")).toBe(r.body.parameters.request_id);
  });

  it("returns only the outputs asked for, in the order asked, and serves a named version", async () => {
    const r = await call("POST", "/v2/models/risk-v2/versions/1/infer", {
      token: s.token,
      body: JSON.stringify({ inputs: [{ name: "features", shape: [1, 3], datatype: "FP32", data: [1, 2, 3] }], outputs: [{ name: "label" }] }),
    });
    expect(r.status).toBe(200);
    expect(r.body.outputs).toEqual([{ name: "label", datatype: "INT64", shape: [1, 1], data: [1] }]);
  });

  it("binary tensor data extension both ways: raw little-endian bytes after the JSON header, Inference-Header-Content-Length on each side", async () => {
    const features = new Float32Array([40, 50, 0.3, 25, 20, 0.9]);
    const req = binaryBody(
      {
        inputs: [{ name: "features", shape: [2, 3], datatype: "FP32", parameters: { binary_data_size: 24 } }],
        outputs: [{ name: "probability", parameters: { binary_data: true } }, { name: "label" }],
      },
      bytesOf(features),
    );
    const r = await call("POST", "/v2/models/risk-v2/infer", { token: s.token, ...req });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("application/octet-stream");
    expect(r.body.outputs[0]).toEqual({ name: "probability", datatype: "FP32", shape: [2, 1], parameters: { binary_data_size: 8 } });
    expect(r.size).toBe(Number(r.headers.get("content-length")));
    const json = await infer("risk-v2", { inputs: [{ name: "features", shape: [2, 3], datatype: "FP32", data: Array.from(features) }] });
    const probability = new Float32Array(r.binary!.buffer.slice(r.binary!.byteOffset, r.binary!.byteOffset + 8));
    expect(Array.from(probability)).toEqual(json.body.outputs[0].data);
    expect(r.body.outputs[1]).toEqual(json.body.outputs[1]);
    // binary_data_output: every output binary unless an output says otherwise; int64 as 8 bytes each.
    const all = await call("POST", "/v2/models/risk-v2/infer", {
      token: s.token,
      ...binaryBody(
        { parameters: { binary_data_output: true }, inputs: [{ name: "features", shape: [2, 3], datatype: "FP32", parameters: { binary_data_size: 24 } }] },
        bytesOf(features),
      ),
    });
    expect(all.body.outputs.map((o: any) => o.parameters.binary_data_size)).toEqual([8, 16]);
    expect(Array.from(new BigInt64Array(all.binary!.buffer.slice(all.binary!.byteOffset + 8, all.binary!.byteOffset + 24)), Number)).toEqual(
      json.body.outputs[1].data,
    );
  });

  it("carries a 1M-float tensor as 4 MB of raw bytes, exactly, where the same tensor as JSON passes the body limit", async () => {
    const n = 1_000_000;
    const x = new Float32Array(n);
    let seed = 1;
    for (let i = 0; i < n; i++) x[i] = ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
    x[3] = Number.NaN;
    x[5] = Number.POSITIVE_INFINITY;
    const req = binaryBody(
      {
        inputs: [{ name: "x", shape: [n], datatype: "FP32", parameters: { binary_data_size: 4 * n } }],
        outputs: [{ name: "y", parameters: { binary_data: true } }],
      },
      bytesOf(x),
    );
    expect(req.body.length).toBeLessThan(4 * n + 300);
    const r = await call("POST", "/v2/models/echo32/infer", { token: s.token, ...req });
    expect(r.status, JSON.stringify(r.body).slice(0, 300)).toBe(200);
    expect(r.binary!.length).toBe(4 * n);
    expect(Buffer.compare(r.binary!, bytesOf(x))).toBe(0);
    const asJson = JSON.stringify({ inputs: { x: Array.from(x, (v) => (Number.isFinite(v) ? v : String(v))) } });
    expect(asJson.length).toBeGreaterThan(16 * 1024 * 1024);
    const v1 = await fetch(`${base}/v1/deployments/echo32/predict`, { method: "POST", headers: { authorization: `Bearer ${s.token}` }, body: asJson });
    expect(v1.status).toBe(413);
  }, 60_000);

  it("refuses requests the specification makes invalid with 400 and { error } naming the problem", async () => {
    const f = (extra: Record<string, unknown> = {}) => ({ name: "features", shape: [1, 3], datatype: "FP32", data: [1, 2, 3], ...extra });
    const cases: [unknown, RegExp][] = [
      [{ inputs: [f({ datatype: "FP64" })] }, /Input "features" is FP64; the model takes FP32 \(float\)/],
      [{ inputs: [f({ datatype: "FLOAT" })] }, /datatype "FLOAT"; expected one of FP32/],
      [{ inputs: [f({ shape: [1, 4] })] }, /has 4 at dimension 1; expected 3/],
      [{ inputs: [f({ data: [1, 2] })] }, /has 2 values but shape \[1, 3\] holds 3/],
      [{ inputs: [f({ data: [1, "x", 3] })] }, /element 1 is "x"/],
      [{ inputs: [f({ shape: [1, -3] })] }, /expected a list of at most 32 non-negative integers/],
      [{ inputs: [f(), f()] }, /given twice/],
      [{ inputs: [f({ name: "other" })] }, /Missing input "features"/],
      [{ inputs: [f()], outputs: [{ name: "nope" }] }, /Unknown output "nope" requested \(the model returns probability, label\)/],
      [{ inputs: [] }, /non-empty list/],
      [{ inputs: [f({ data: undefined, parameters: { binary_data_size: 12 } })] }, /no Inference-Header-Content-Length/],
      [{ inputs: [f()], id: 5 }, /"id" must be a string/],
    ];
    for (const [body, message] of cases) {
      const r = await infer("risk-v2", body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error, JSON.stringify(body)).toMatch(message);
    }
    const raw = await call("POST", "/v2/models/risk-v2/infer", { token: s.token, body: "not json" });
    expect(raw).toMatchObject({ status: 400, body: { error: expect.stringMatching(/not valid JSON/) } });
    // A binary size that disagrees with the shape, a section longer than declared, a header length past the body.
    const header = (size: number) => ({ inputs: [{ name: "features", shape: [1, 3], datatype: "FP32", parameters: { binary_data_size: size } }] });
    const short = await call("POST", "/v2/models/risk-v2/infer", { token: s.token, ...binaryBody(header(8), Buffer.alloc(8)) });
    expect(short).toMatchObject({ status: 400, body: { error: 'Input "features" has binary_data_size 8 but its shape holds 3 FP32 elements: 12 bytes.' } });
    const extraBytes = await call("POST", "/v2/models/risk-v2/infer", { token: s.token, ...binaryBody(header(12), Buffer.alloc(16)) });
    expect(extraBytes.body.error).toMatch(/holds 16 bytes after the JSON header but the inputs' binary_data_size add up to 12/);
    const past = await call("POST", "/v2/models/risk-v2/infer", { token: s.token, body: "{}", headers: { "inference-header-content-length": "99" } });
    expect(past.body.error).toMatch(/Inference-Header-Content-Length is "99"/);
    // The server stays up and Steward's own error body keeps its shape.
    const v1 = await fetch(`${base}/v1/deployments/risk-v2/predict`, { method: "POST", headers: { authorization: `Bearer ${s.token}` }, body: "{}" });
    expect((await v1.json()).error.message).toMatch(/"inputs"|"instances"/);
  });

  it("authenticates like predict: a deployment key calls its own deployment only", async () => {
    const { key } = await deployments.createKey(s.owner.wsActor, { name: "risk-v2", keyName: "v2-app" });
    const body = { inputs: [{ name: "features", shape: [1, 3], datatype: "FP32", data: [1, 2, 3] }] };
    expect((await infer("risk-v2", body, key)).status).toBe(200);
    const other = await infer("echo32", { inputs: [{ name: "x", shape: [1], datatype: "FP32", data: [1] }] }, key);
    expect(other).toMatchObject({ status: 403, body: { error: expect.stringMatching(/another deployment/) } });
  });
});

describe("exact floats on the wire, both protocols", () => {
  it("NaN, Infinity and -Infinity round-trip by name in Steward's predict and in v2 JSON, and as bits in v2 binary", async () => {
    const values = ["NaN", "Infinity", "-Infinity", 1.5, -0.25, 3.4028234663852886e38];
    for (const name of ["echo32", "echo64", "echo16"]) {
      const v1 = await fetch(`${base}/v1/deployments/${name}/predict`, {
        method: "POST",
        headers: { authorization: `Bearer ${s.token}` },
        body: JSON.stringify({ inputs: { x: name === "echo16" ? values.slice(0, 5) : values } }),
      });
      const text = await v1.text();
      expect(v1.status, text).toBe(200);
      expect(JSON.parse(text).outputs.y).toEqual(name === "echo16" ? values.slice(0, 5) : values);
    }
    const datatype = { echo32: "FP32", echo64: "FP64", echo16: "FP16" };
    for (const [name, dt] of Object.entries(datatype)) {
      const data = name === "echo16" ? values.slice(0, 5) : values;
      const r = await infer(name, { inputs: [{ name: "x", shape: [data.length], datatype: dt, data }] });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.outputs[0]).toEqual({ name: "y", datatype: dt, shape: [data.length], data });
    }
    const f64 = new Float64Array([Number.NaN, Number.NEGATIVE_INFINITY, 5e-324, Number.MAX_VALUE]);
    const bin = await call("POST", "/v2/models/echo64/infer", {
      token: s.token,
      ...binaryBody(
        {
          inputs: [{ name: "x", shape: [4], datatype: "FP64", parameters: { binary_data_size: 32 } }],
          outputs: [{ name: "y", parameters: { binary_data: true } }],
        },
        bytesOf(f64),
      ),
    });
    expect(Buffer.compare(bin.binary!, bytesOf(f64))).toBe(0);
    // float16 travels as its 16-bit patterns: 0x7e00 NaN, 0x7c00 +Inf, 0x3c00 1, 0x0001 the smallest subnormal.
    const halves = Buffer.from(new Uint16Array([0x7e00, 0x7c00, 0x3c00, 0x0001]).buffer);
    const h = await call("POST", "/v2/models/echo16/infer", {
      token: s.token,
      ...binaryBody({ inputs: [{ name: "x", shape: [4], datatype: "FP16", parameters: { binary_data_size: 8 } }] }, halves),
    });
    expect(h.body.outputs[0].data).toEqual(["NaN", "Infinity", 1, 5.960464477539063e-8]);
  });

  it("a number outside a float32 input's range is a 400 naming the input and the value, never a silent Infinity", async () => {
    const v1 = await fetch(`${base}/v1/deployments/echo32/predict`, {
      method: "POST",
      headers: { authorization: `Bearer ${s.token}` },
      body: '{"inputs":{"x":[1,1e39]}}',
    });
    expect(v1.status).toBe(400);
    expect((await v1.json()).error).toMatchObject({
      message: 'Input "x" element 1 is 1e+39, outside the float range (±3.4028234663852886e+38); send "Infinity" or "-Infinity" for an infinite value.',
      input: "x",
    });
    const r = await infer("echo32", { inputs: [{ name: "x", shape: [2], datatype: "FP32", data: [1, -1e39] }] });
    expect(r).toMatchObject({ status: 400, body: { error: expect.stringMatching(/Input "x" element 1 is -1e\+39, outside the float range/) } });
    const h = await infer("echo16", { inputs: [{ name: "x", shape: [1], datatype: "FP16", data: [70000] }] });
    expect(h.body.error).toMatch(/element 0 is 70000, outside the float16 range \(±65504\)/);
    // float64 holds 1e39: no refusal there.
    expect((await infer("echo64", { inputs: [{ name: "x", shape: [1], datatype: "FP64", data: [1e39] }] })).body.outputs[0].data).toEqual([1e39]);
  });
});

describe("gzip request bodies", () => {
  const json = { inputs: { features: [[40, 50, 0.3]] } };
  it("accepts Content-Encoding: gzip on both protocols", async () => {
    const v1 = await fetch(`${base}/v1/deployments/risk-v2/predict`, {
      method: "POST",
      headers: { authorization: `Bearer ${s.token}`, "content-encoding": "gzip" },
      body: new Uint8Array(gzipSync(JSON.stringify(json))),
    });
    expect(v1.status).toBe(200);
    const plain = await (
      await fetch(`${base}/v1/deployments/risk-v2/predict`, { method: "POST", headers: { authorization: `Bearer ${s.token}` }, body: JSON.stringify(json) })
    ).json();
    expect((await v1.json()).outputs).toEqual(plain.outputs);
    const x = new Float32Array([40, 50, 0.3]);
    const req = binaryBody({ inputs: [{ name: "features", shape: [1, 3], datatype: "FP32", parameters: { binary_data_size: 12 } }] }, bytesOf(x));
    // The header length counts the decompressed JSON, as the binary section is found after decompressing.
    const r = await call("POST", "/v2/models/risk-v2/infer", {
      token: s.token,
      body: gzipSync(req.body),
      headers: { ...req.headers, "content-encoding": "gzip" },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.outputs[0].data).toEqual(plain.outputs.probability.flat());
  });

  it("applies the body limit to the decompressed size, and refuses corrupt gzip and other encodings", async () => {
    // 17 MiB of zeros gzip to ~17 KB: small on the wire, over the 16 MiB limit once decompressed.
    const bomb = gzipSync(Buffer.alloc(17 * 1024 * 1024, 0x20));
    expect(bomb.length).toBeLessThan(100_000);
    const v1 = await fetch(`${base}/v1/deployments/risk-v2/predict`, {
      method: "POST",
      headers: { authorization: `Bearer ${s.token}`, "content-encoding": "gzip" },
      body: new Uint8Array(bomb),
    });
    expect(v1.status).toBe(413);
    expect((await v1.json()).error.message).toMatch(/decompresses to more than the limit of 16,777,216 bytes/);
    const v2 = await call("POST", "/v2/models/risk-v2/infer", { token: s.token, body: bomb, headers: { "content-encoding": "gzip" } });
    expect(v2).toMatchObject({ status: 413, body: { error: expect.stringMatching(/decompresses to more than the limit/) } });
    const corrupt = await call("POST", "/v2/models/risk-v2/infer", {
      token: s.token,
      body: Buffer.from("not gzip at all"),
      headers: { "content-encoding": "gzip" },
    });
    expect(corrupt).toMatchObject({ status: 400, body: { error: expect.stringMatching(/gzip body could not be decompressed/) } });
    const br = await call("POST", "/v2/models/risk-v2/infer", { token: s.token, body: "{}", headers: { "content-encoding": "br" } });
    expect(br).toMatchObject({ status: 415, body: { error: expect.stringMatching(/Content-Encoding "br" is not accepted/) } });
    expect((await infer("risk-v2", { inputs: [{ name: "features", shape: [1, 3], datatype: "FP32", data: [1, 2, 3] }] })).status).toBe(200);
  });
});

import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "~/bin/lib/embedded-pg";
import { getDb } from "~/db/client";
import { predictionFeedback } from "~/db/schema";
import { createWorkspace } from "~/db/seed/factories";
import { logisticRegressionOnnx } from "~/db/seed/onnx-builder";
import { uploadModelVersion } from "~/server/registry/models.service";
import * as deployments from "~/server/serving/deployments.service";
import { createToken } from "~/server/tokens/tokens.service";

/*
 * What the inference server shows and parses before credentials, and how it answers
 * malformed bodies — replayed against real inference processes: one with a metrics token
 * and a loopback metrics listener, one with neither.
 */
const root = path.resolve(import.meta.dirname, "../..");
const METRICS_TOKEN = "exposure-metrics-token-0123456789";
type Server = { child: ChildProcess; base: string; metricsPort?: number; out: string };
const servers: Server[] = [];

async function start(env: Record<string, string>, metricsPort?: number): Promise<Server> {
  const port = await freePort();
  const s: Server = { child: null!, base: `http://127.0.0.1:${port}`, metricsPort, out: "" };
  s.child = spawn(process.execPath, ["--import", "tsx", "--import", "./bin/hooks/register.js", "workers/inference/index.ts"], {
    cwd: root,
    env: {
      ...process.env,
      INFERENCE_PORT: String(port),
      INFERENCE_THREADS: "1",
      NODE_ENV: "production",
      INFERENCE_METRICS_TOKEN: "",
      INFERENCE_METRICS_PORT: "",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  servers.push(s);
  s.child.stderr!.on("data", (d: Buffer) => (s.out += d.toString()));
  await new Promise<void>((resolve, reject) => {
    s.child.stdout!.on("data", (d: Buffer) => {
      s.out += d.toString();
      if (s.out.includes("ready:")) resolve();
    });
    s.child.on("exit", (c) => reject(new Error(`inference exited (${c}):\n${s.out}`)));
  });
  return s;
}

let guarded: Server; // INFERENCE_METRICS_TOKEN and INFERENCE_METRICS_PORT set
let bare: Server; // neither
beforeAll(async () => {
  const metricsPort = await freePort();
  [guarded, bare] = await Promise.all([start({ INFERENCE_METRICS_TOKEN: METRICS_TOKEN, INFERENCE_METRICS_PORT: String(metricsPort) }, metricsPort), start({})]);
}, 60_000);
afterAll(() => {
  for (const s of servers) s.child.kill("SIGKILL");
});

/** Polls until `read` gives a value: no deadline of its own (the test's timeout bounds it), so a busy machine is slow, not failing. */
async function until<T>(_what: string, read: () => Promise<T | null | false>): Promise<T> {
  for (;;) {
    const v = await read();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
}

const FEATURES = ["age", "income_k", "debt_ratio"];
async function deployed(name: string) {
  const ws = await createWorkspace();
  await uploadModelVersion(
    ws.owner.wsActor,
    { name: "risk", filename: "risk.onnx" },
    Readable.from([Buffer.from(logisticRegressionOnnx({ weights: [0.01, -0.01, 2], bias: -1, featureNames: FEATURES }))]),
  );
  await deployments.createDeployment(ws.owner.wsActor, { name, environment: "prod", model: "risk", alias: "exposure", version: 1 });
  const { key } = await deployments.createKey(ws.owner.wsActor, { name, keyName: "app" });
  const { token: viewer } = await createToken(ws.owner.wsActor, { workspaceId: ws.workspace.id, name: "v", role: "viewer" });
  const call = (s: Server, route: string, body: string, auth: string | null = key) =>
    fetch(`${s.base}/v1/deployments/${name}/${route}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
      body,
    });
  const ok = JSON.stringify({ instances: [{ age: 40, income_k: 50, debt_ratio: 0.3 }] });
  for (const s of [guarded, bare]) await until(`${name} on ${s.base}`, async () => (await call(s, "predict", ok)).status === 200);
  return { ...ws, key, viewer, call, ok };
}

type Answer = { error: { message: string } };
const ownAddress = () =>
  Object.values(os.networkInterfaces())
    .flat()
    .find((a) => a && !a.internal && a.family === "IPv4")?.address;

describe("inference server exposure", () => {
  it("serves /metrics only with the metrics token, or on the loopback listener; without a token it is not served on the public port", async () => {
    const d = await deployed("exposure-metrics");
    const get = (url: string, token?: string) => fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
    // The finding, replayed: GET /metrics with no credentials.
    const anonymous = await get(`${guarded.base}/metrics`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).toMatch(/^Bearer/);
    const anonymousText = await anonymous.text();
    expect(anonymousText).toMatch(/Send the metrics token/);
    expect(anonymousText).not.toContain("exposure-metrics");
    expect((await get(`${guarded.base}/metrics`, d.key)).status).toBe(401); // a deployment key is not the scrape token
    expect((await get(`${guarded.base}/metrics`, `${METRICS_TOKEN}x`)).status).toBe(401);
    const scraped = await get(`${guarded.base}/metrics`, METRICS_TOKEN);
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toMatch(/steward_predict_requests_total\{deployment="exposure-metrics",version="1",role="primary",status="ok"\} \d+/);
    const local = await get(`http://127.0.0.1:${guarded.metricsPort}/metrics`);
    expect(local.status).toBe(200);
    expect(await local.text()).toContain('deployment="exposure-metrics"');
    expect((await get(`http://127.0.0.1:${guarded.metricsPort}/v1/noop`)).status).toBe(404);
    // The loopback listener is bound to 127.0.0.1 only: this host's own address does not reach it.
    const own = ownAddress();
    if (own) {
      const refused = await new Promise<string>((resolve) => {
        const sock = net.connect({ host: own, port: guarded.metricsPort! });
        sock.once("connect", () => (sock.destroy(), resolve("connected")));
        sock.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      });
      expect(refused).toBe("ECONNREFUSED");
    } else console.log("[exposure] no non-loopback IPv4 address on this machine: the bind check is skipped");

    const unset = await get(`${bare.base}/metrics`);
    expect(unset.status).toBe(404);
    const unsetText = await unset.text();
    expect(unsetText).toMatch(/INFERENCE_METRICS_TOKEN/);
    expect(unsetText).not.toContain("exposure-metrics");
    expect((await get(`${bare.base}/metrics`, METRICS_TOKEN)).status).toBe(404);
  });

  it("answers an anonymous caller on every route with nothing about any tenant", async () => {
    await deployed("exposure-walk");
    const routes: [string, string, number][] = [
      ["GET", "/healthz", 200],
      ["GET", "/readyz", 200],
      ["GET", "/metrics", 401],
      ["POST", "/v1/noop", 401],
      ["POST", "/v1/deployments/exposure-walk/predict", 401],
      ["POST", "/v1/deployments/exposure-walk/feedback", 401],
      ["GET", "/v1/deployments/exposure-walk/predict", 405],
      ["GET", "/anything-else", 404],
    ];
    for (const [method, route, status] of routes) {
      const r = await fetch(`${guarded.base}${route}`, { method, ...(method === "POST" ? { body: "{}" } : {}) });
      expect(r.status, `${method} ${route}`).toBe(status);
      expect(await r.text(), `${method} ${route}`).not.toMatch(/exposure-walk|steward_predict|workspace/i);
    }
  });

  it("refuses /v1/noop without credentials before reading the body; a deployment key or a predicting token may call it", async () => {
    const d = await deployed("exposure-noop");
    // The finding, replayed: ~16 MB of JSON to /v1/noop with no credentials.
    const big = JSON.stringify({ instances: [{ x: "a".repeat(16 * 1024 * 1024 - 64) }] });
    const noop = (auth?: string, body = big) =>
      fetch(`${guarded.base}/v1/noop`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
        body,
      });
    const anonymous = await noop();
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as Answer).error.message).toMatch(/Send a deployment key or an API token/);
    expect((await noop("stwd_unknown", "{}")).status).toBe(401);
    expect((await noop(d.viewer, "{}")).status).toBe(401);
    const keyed = await noop(d.key, d.ok);
    expect(keyed.status).toBe(200);
    expect(await keyed.json()).toEqual({ ok: true });
  });

  it("answers every malformed feedback and predict body with a 400 naming what is wrong, stores nothing, and stays up", async () => {
    const d = await deployed("exposure-input");
    const deep = (n: number, leaf = "1") => `${"[".repeat(n)}${leaf}${"]".repeat(n)}`;
    const feedback: [string, RegExp][] = [
      ["null", /The body must be a JSON object, not null/],
      ["[null]", /The body must be a JSON object, not a list/],
      ['{"feedback":[null]}', /feedback\[0\] must be an object .* not null/],
      ['{"feedback":null}', /"feedback" must be a list, not null/],
      ['{"requestId":"r-1","label":null}', /the body\.label is null: send the ground truth/],
      ['{"requestId":null,"label":1}', /the body\.requestId must be the request id a prediction returned .* not null/],
      ['{"requestId":"r\\u0000","label":1}', /requestId must be the request id/],
      [`{"requestId":"r-1","label":${deep(100_000)}}`, /nests lists or objects more than 32 levels deep/],
      [`{"feedback":[{"requestId":"r-1","label":${deep(40)}}]}`, /more than 32 levels deep/],
      ['{"requestId":"r-1","label":"ok\\u0000"}', /the body\.label holds a NUL character \(\\u0000\), which cannot be stored/],
      ['{"feedback":[{"requestId":"r-1","label":{"k\\u0000":1}}]}', /feedback\[0\]\.label \(a key\) holds a NUL character/],
      ['{"requestId":"r-1","label":["\\ud800"]}', /the body\.label\[0\] holds an unpaired UTF-16 surrogate/],
      ['{"requestId":"r-1","label":1,"extra":2}', /unknown field "extra"/],
    ];
    for (const [body, message] of feedback) {
      const r = await d.call(guarded, "feedback", body);
      const answer = (await r.json()) as Answer;
      expect(r.status, body.slice(0, 80)).toBe(400);
      expect(answer.error.message, body.slice(0, 80)).toMatch(message);
    }
    const predict: [string, RegExp][] = [
      [`{"inputs":{"features":${deep(100_000, "")}}}`, /^Input "features" is nested 100,000 lists deep; a tensor has at most 32 dimensions \(this one 2\)\.$/],
      [
        `{"instances":[{"age":${deep(50_000)},"income_k":1,"debt_ratio":1}]}`,
        /element 0 is a list; expected a number or one of "NaN", "Infinity", "-Infinity" \(float\)/,
      ],
      [
        `{"instances":[{"age":1,"income_k":{"a":${deep(50_000)}},"debt_ratio":1}]}`,
        /element 1 is an object; expected a number or one of "NaN", "Infinity", "-Infinity" \(float\)/,
      ],
      [`{"inputs":{"features":${deep(30, "1")}}}`, /rank 30 .*expected rank 2/],
      ["null", /The body must be a JSON object/],
    ];
    for (const [body, message] of predict) {
      const r = await d.call(guarded, "predict", body);
      const answer = (await r.json()) as Answer;
      expect(r.status, body.slice(0, 80)).toBe(400);
      expect(answer.error.message, body.slice(0, 80)).toMatch(message);
    }
    expect(guarded.out).not.toMatch(/Internal error|\[inference\] [0-9a-f-]{36}:/);
    const ok = await d.call(guarded, "predict", d.ok);
    expect(ok.status).toBe(200);
    const { requestId } = (await ok.json()) as { requestId: string };
    const good = await d.call(guarded, "feedback", JSON.stringify({ feedback: [{ requestId, label: { cls: "yes", score: [1, 2] } }] }));
    expect(good.status).toBe(202);
    // Nothing from the refused bodies reached the table; the good one did.
    const stored = await getDb().select().from(predictionFeedback).where(eq(predictionFeedback.workspaceId, d.workspace.id));
    expect(stored.map((r) => [r.requestId, r.label])).toEqual([[requestId, { cls: "yes", score: [1, 2] }]]);
  });
});

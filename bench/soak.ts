/* ---------------------------------------------------------------------------
 * bench/soak: hours of mixed traffic, shortened — does any process grow?
 *   npm run bench:soak [-- --minutes 10]
 * Starts web, worker and inference (production build) on one Postgres and runs, all at once:
 *   - 4 clients predicting back to back through the inference process;
 *   - an upload of a new model version every 5 s over REST (multipart);
 *   - review traffic: a page's worth of reads every second (models, deployment, audit trail);
 *   - 3 dashboards open over socket.io (the live room of the workspace), receiving ticks.
 * Every 10 s it samples the RSS of each process (/proc/<pid>/status). At the end it prints,
 * per process, the first and last sample, the peak and the trend (least-squares slope over
 * the second half, after warm-up, in MiB per 10 minutes), and every error by kind.
 * Uses DATABASE_URL (local only) or a throwaway embedded PostgreSQL; builds the web app if needed.
 * ------------------------------------------------------------------------- */
import { readFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { parseArgs } from "node:util";
import { encode } from "next-auth/jwt";
import { io as ioClient, type Socket } from "socket.io-client";
import { buildIsStale, buildWebApp } from "../bin/lib/build";
import { benchEnv } from "./lib/env";
import { startProcess, stopProcess, type Proc as ProcessOf } from "./lib/processes";

const { values } = parseArgs({ options: { minutes: { type: "string", default: "10" } } });
const MINUTES = Number(values.minutes);
const root = path.resolve(import.meta.dirname, "..");
const bench = await benchEnv("soak");
if (buildIsStale(root)) {
  console.log("bench/soak: building the web app first…");
  if ((await buildWebApp(root, "ignore")) !== 0) throw new Error("next build failed");
}

const { closeDb } = await import("../db/client");
const { createWorkspace } = await import("../db/seed/factories");
const { FEATURES, generateCredit, trainLogistic } = await import("../db/seed/credit-data");
const { logisticRegressionOnnx } = await import("../db/seed/onnx-builder");
const { uploadModelVersion } = await import("../server/registry/models.service");
const { createDeployment, createKey } = await import("../server/serving/deployments.service");
const { startSession } = await import("../server/auth/sessions");
const { createToken } = await import("../server/tokens/tokens.service");
const { closeEnqueuer } = await import("../server/jobs/enqueue");

console.log(`bench/soak: ${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"} · Node ${process.version} · ${MINUTES} min of mixed traffic`);

// ---- the workspace -----------------------------------------------------------
const { workspace, owner } = await createWorkspace();
const rows = generateCredit(500, 3);
const trained = trainLogistic(rows, FEATURES, 20, 0.1);
const onnx = (bias: number) => Buffer.from(logisticRegressionOnnx({ ...trained, bias: trained.bias + bias, featureNames: [...FEATURES] }));
await uploadModelVersion(owner.wsActor, { name: "credit", filename: "credit.onnx" }, Readable.from([onnx(0)]));
await createDeployment(owner.wsActor, { name: "credit-prod", environment: "prod", model: "credit", alias: "soak", version: 1 });
const { key } = await createKey(owner.wsActor, { name: "credit-prod", keyName: "soak" });
const { token } = await createToken(owner.wsActor, { workspaceId: workspace.id, name: "soak", role: "owner" });
const body = JSON.stringify({ instances: [Object.fromEntries(FEATURES.map((k) => [k, rows[0]![k]]))] });

// ---- processes ---------------------------------------------------------------
type Proc = ProcessOf & { rss: { t: number; mib: number }[] };
const start = async (kind: "web" | "worker" | "inference"): Promise<Proc> => ({ ...(await startProcess(kind)), rss: [] });
const procs = { web: await start("web"), worker: await start("worker"), inference: await start("inference") };

// ---- traffic -------------------------------------------------------------------
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const errors = new Map<string, number>();
const counts = { predictions: 0, uploads: 0, reads: 0, ticks: 0 };
const fail = (what: string) => errors.set(what, (errors.get(what) ?? 0) + 1);
function request(port: number, method: string, p: string, headers: Record<string, string | number>, data?: Buffer | string) {
  return new Promise<number>((resolve) => {
    const req = http.request({ host: "127.0.0.1", port, path: p, method, agent, headers }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", () => resolve(0));
    req.end(data);
  });
}
const deadline = Date.now() + MINUTES * 60_000;
const running = () => Date.now() < deadline;

async function predictor() {
  while (running()) {
    const s = await request(
      procs.inference.port,
      "POST",
      "/v1/deployments/credit-prod/predict",
      { authorization: `Bearer ${key}`, "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      body,
    );
    if (s === 200) counts.predictions++;
    else fail(`predict ${s}`);
  }
}
async function uploader() {
  let n = 0;
  while (running()) {
    const boundary = `soak${n}`;
    const file = onnx(++n / 1000);
    const multipart = Buffer.concat([
      Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="credit.onnx"\r\ncontent-type: application/octet-stream\r\n\r\n`),
      file,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const s = await request(
      procs.web.port,
      "POST",
      `/api/v1/workspaces/${workspace.slug}/models/credit/versions`,
      { authorization: `Bearer ${token}`, "content-type": `multipart/form-data; boundary=${boundary}`, "content-length": multipart.length },
      multipart,
    );
    if (s === 201 || s === 200) counts.uploads++;
    else fail(`upload ${s}`);
    await new Promise((r) => setTimeout(r, 5_000));
  }
}
async function reader() {
  const pages = [
    `/api/v1/workspaces/${workspace.slug}/models/credit`,
    `/api/v1/workspaces/${workspace.slug}/deployments/credit-prod`,
    `/api/v1/workspaces/${workspace.slug}/models`,
  ];
  while (running()) {
    for (const p of pages) {
      const s = await request(procs.web.port, "GET", p, { authorization: `Bearer ${token}` });
      if (s === 200) counts.reads++;
      else fail(`read ${s}`);
    }
    await new Promise((r) => setTimeout(r, 1_000));
  }
}
const cookie = `next-auth.session-token=${await encode({ token: { sub: owner.id, email: owner.email, sv: 0, sid: await startSession(owner.id) }, secret: process.env.AUTH_SECRET! })}`;
const dashboards: Socket[] = [];
for (let i = 0; i < 3; i++) {
  const socket = ioClient(`http://127.0.0.1:${procs.web.port}`, {
    path: "/socket.io",
    transports: ["websocket"],
    extraHeaders: { cookie },
    reconnection: true,
  });
  await new Promise<void>((resolve, reject) => (socket.once("ready", () => resolve()), socket.once("connect_error", reject)));
  if (!(await socket.emitWithAck("monitoring:watch", { workspaceId: workspace.id }))) fail("dashboard watch refused");
  socket.on("monitoring.live", () => counts.ticks++);
  socket.on("disconnect", () => fail("dashboard disconnected"));
  dashboards.push(socket);
}

// ---- sampling ------------------------------------------------------------------
const t0 = Date.now();
function sample() {
  for (const p of Object.values(procs)) {
    try {
      const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p.child.pid}/status`, "utf8"))?.[1]);
      p.rss.push({ t: (Date.now() - t0) / 60_000, mib: kb / 1024 });
    } catch {
      fail(`${p.kind} gone`);
    }
  }
}
sample();
const sampler = setInterval(() => {
  sample();
  const line = Object.values(procs)
    .map((p) => `${p.kind} ${p.rss.at(-1)?.mib.toFixed(0)} MiB`)
    .join(" · ");
  process.stdout.write(
    `\r  ${((Date.now() - t0) / 60_000).toFixed(1)}/${MINUTES} min · ${line} · ${counts.predictions.toLocaleString("en")} predictions · ${[...errors.values()].reduce((a, b) => a + b, 0)} errors   `,
  );
}, 10_000);
await Promise.all([predictor(), predictor(), predictor(), predictor(), uploader(), reader()]);
clearInterval(sampler);
sample();
process.stdout.write("\n");

// ---- report ----------------------------------------------------------------------
/** Least-squares slope of RSS over time (MiB per minute) for the samples after warm-up (the second half). */
function slope(s: { t: number; mib: number }[]) {
  const xs = s.slice(Math.floor(s.length / 2));
  if (xs.length < 3) return NaN;
  const mx = xs.reduce((a, p) => a + p.t, 0) / xs.length;
  const my = xs.reduce((a, p) => a + p.mib, 0) / xs.length;
  const num = xs.reduce((a, p) => a + (p.t - mx) * (p.mib - my), 0);
  const den = xs.reduce((a, p) => a + (p.t - mx) ** 2, 0);
  return num / den;
}
console.log(
  `\ntraffic: ${counts.predictions.toLocaleString("en")} predictions, ${counts.uploads} uploads, ${counts.reads} page reads, ${counts.ticks} live ticks on 3 dashboards`,
);
console.log("process      first    last     peak     trend (after warm-up)");
for (const p of Object.values(procs)) {
  const mibs = p.rss.map((r) => r.mib);
  console.log(
    `${p.kind.padEnd(10)} ${mibs[0]!.toFixed(0).padStart(5)} MiB ${mibs.at(-1)!.toFixed(0).padStart(5)} MiB ${Math.max(...mibs)
      .toFixed(0)
      .padStart(5)} MiB   ${(slope(p.rss) * 10).toFixed(1)} MiB per 10 min`,
  );
}
console.log(errors.size ? `errors: ${[...errors].map(([k, n]) => `${k} × ${n}`).join(", ")}` : "errors: 0");

for (const s of dashboards) s.off("disconnect").disconnect();
await Promise.all(Object.values(procs).map(stopProcess));
agent.destroy();
await closeEnqueuer();
await closeDb();
await bench.done();
process.exit(errors.size ? 1 : 0);

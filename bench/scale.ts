/* ---------------------------------------------------------------------------
 * bench/scale: several replicas of every process on one machine, one Postgres, loopback.
 *   npm run bench:scale [-- --seconds 4]
 * 1. inference throughput through 1 vs 2 replicas (the load generator plays the Service);
 * 2. socket.io events published once, delivered to every browser on both web replicas;
 * 3. pipeline runs through 2 workers: every job's effect happens exactly once;
 * 4. rolling restart of each kind under load (surge first, like maxSurge 1 /
 *    maxUnavailable 0): failed requests, lost prediction logs, runs done exactly once.
 * Uses DATABASE_URL (local only) or a throwaway embedded PostgreSQL; builds the web app if needed.
 * ------------------------------------------------------------------------- */
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { parseArgs } from "node:util";
import { encode } from "next-auth/jwt";
import { io as ioClient, type Socket } from "socket.io-client";
import { buildIsStale, buildWebApp } from "../bin/lib/build";
import { benchEnv } from "./lib/env";
import { startProcess, stopProcess, type Proc } from "./lib/processes";

const { values } = parseArgs({ options: { seconds: { type: "string", default: "4" } } });
const SECONDS = Number(values.seconds);
const root = path.resolve(import.meta.dirname, "..");
const bench = await benchEnv("scale");
if (buildIsStale(root)) {
  console.log("bench/scale: building the web app first…");
  if ((await buildWebApp(root, "ignore")) !== 0) throw new Error("next build failed");
}

const { getDb, closeDb } = await import("../db/client");
const { and, inArray, sql } = await import("drizzle-orm");
const { pipelineRuns } = await import("../db/schema");
const { createWorkspace } = await import("../db/seed/factories");
const { FEATURES, generateCredit, trainLogistic } = await import("../db/seed/credit-data");
const { logisticRegressionOnnx } = await import("../db/seed/onnx-builder");
const { uploadModelVersion } = await import("../server/registry/models.service");
const { createDeployment, createKey } = await import("../server/serving/deployments.service");
const { savePipeline } = await import("../server/pipelines/definitions.service");
const { startManualRun } = await import("../server/pipelines/runs.service");
const { startSession } = await import("../server/auth/sessions");
const { createToken } = await import("../server/tokens/tokens.service");
const { postgresEmitter } = await import("../server/realtime/pg-emitter");
const { percentile } = await import("../server/pipelines/metrics");
const { closeEnqueuer } = await import("../server/jobs/enqueue");

const f = (n: number, d = 0) => n.toLocaleString("en", { maximumFractionDigits: d, minimumFractionDigits: d });
const summary: string[] = [];
console.log(`bench/scale: ${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"} · Node ${process.version} · ${SECONDS} s per load phase`);

// ---- the workspace ---------------------------------------------------------
const { workspace, owner } = await createWorkspace();
const rows = generateCredit(500, 3);
const m = trainLogistic(rows, FEATURES, 20, 0.1);
await uploadModelVersion(
  owner.wsActor,
  { name: "credit", filename: "credit.onnx" },
  Readable.from([Buffer.from(logisticRegressionOnnx({ ...m, featureNames: [...FEATURES] }))]),
);
const deployment = await createDeployment(owner.wsActor, { name: "credit-prod", environment: "prod", model: "credit", alias: "bench", version: 1 });
const { key } = await createKey(owner.wsActor, { name: "credit-prod", keyName: "bench" });
const { token } = await createToken(owner.wsActor, { workspaceId: workspace.id, name: "bench", role: "owner" });
// Command steps run sandboxed (no worker files): each execution reports itself over TCP
// to this process, so the workers get the network for steps that declare it.
const effectLines: string[] = [];
const effects = net.createServer((sock) => {
  let buf = "";
  sock.on("data", (d: Buffer) => (buf += d.toString()));
  sock.on("end", () => effectLines.push(...buf.split("\n").filter(Boolean)));
});
await new Promise<void>((resolve) => effects.listen(0, "127.0.0.1", resolve));
const effectsPort = (effects.address() as net.AddressInfo).port;
await savePipeline(owner.wsActor, {
  name: "effect",
  yaml: `steps:\n  touch:\n    type: command\n    network: true\n    run: bash -c 'echo "$STEWARD_RUN_ID" > /dev/tcp/127.0.0.1/${effectsPort}'\n`,
});
const body = JSON.stringify({ instances: [Object.fromEntries(FEATURES.map((k) => [k, rows[0]![k]]))] });

// ---- processes ---------------------------------------------------------------
const start = (kind: "web" | "worker" | "inference") => startProcess(kind, { PIPELINE_CONCURRENCY: "2", COMMAND_STEPS_NETWORK: "allow" });
const stop = stopProcess;

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
function post(port: number, p: string, auth: string, data: string) {
  return new Promise<number>((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        path: p,
        method: "POST",
        agent,
        headers: { authorization: `Bearer ${auth}`, "content-type": "application/json", "content-length": Buffer.byteLength(data) },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}
function get(port: number, p: string, auth: string) {
  return new Promise<number>((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: p, method: "GET", agent, headers: { authorization: `Bearer ${auth}` } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

/** Load over the current endpoints (a mutable list: the "Service"), until stopped. */
function load(endpoints: Proc[], conc: number, call: (p: Proc) => Promise<number>) {
  let running = true;
  let i = 0;
  const stats = { ok: 0, failed: [] as string[], lat: [] as number[] };
  const workers = Array.from({ length: conc }, async () => {
    while (running) {
      const p = endpoints[i++ % endpoints.length]!;
      const t = performance.now();
      try {
        const status = await call(p);
        if (status >= 200 && status < 300) stats.ok++;
        else stats.failed.push(`${p.kind}:${p.port} → ${status}`);
      } catch (err) {
        stats.failed.push(`${p.kind}:${p.port} → ${(err as Error).message}`);
      }
      stats.lat.push(performance.now() - t);
    }
  });
  return { stats, done: async () => ((running = false), await Promise.all(workers), stats) };
}
const until = async (what: () => boolean) => {
  while (!what()) await new Promise((r) => setTimeout(r, 20));
};
const forSeconds = (s: number) => new Promise((r) => setTimeout(r, s * 1000));
const predictCall = (p: Proc) => post(p.port, "/v1/deployments/credit-prod/predict", key, body);

const procs: Proc[] = [];
try {
  // 1. Inference: 1 vs 2 replicas.
  const inf = [await start("inference"), await start("inference")];
  procs.push(...inf);
  const rate = async (n: number) => {
    const l = load(inf.slice(0, n), 32, predictCall);
    await forSeconds(SECONDS);
    const s = await l.done();
    if (s.failed.length) throw new Error(`predict failed: ${s.failed.slice(0, 3).join("; ")}`);
    return {
      rps: s.ok / SECONDS,
      p99: percentile(
        [...s.lat].sort((a, b) => a - b),
        0.99,
      ),
    };
  };
  await rate(2);
  const one = await rate(1);
  const two = await rate(2);
  console.log(
    `\n1. predict through inference replicas, 32 clients: 1 replica ${f(one.rps)} req/s (p99 ${f(one.p99, 1)} ms) · 2 replicas ${f(two.rps)} req/s (p99 ${f(two.p99, 1)} ms) · ×${(two.rps / one.rps).toFixed(2)}`,
  );
  summary.push(`predict, 1 vs 2 inference replicas (32 clients)|${f(one.rps)} vs ${f(two.rps)} req/s (×${(two.rps / one.rps).toFixed(2)})`);

  // 2. Events across web replicas.
  const webs = [await start("web"), await start("web")];
  procs.push(...webs);
  // A session token is only good with its recorded session (server/auth/sessions.ts).
  const cookie = `next-auth.session-token=${await encode({ token: { sub: owner.id, email: owner.email, sv: 0, sid: await startSession(owner.id) }, secret: process.env.AUTH_SECRET! })}`;
  type Client = { socket: Socket; got: Map<number, number> };
  const clients: Client[] = [];
  /** A browser tab on one web replica (the ingress picks the replica; here we do). */
  const connect = async (port: number, c: Client) => {
    const socket = ioClient(`http://127.0.0.1:${port}`, { path: "/socket.io", transports: ["websocket"], extraHeaders: { cookie }, reconnection: false });
    socket.on("audit.appended", (p: { seq: number }) => c.got.set(p.seq, performance.now()));
    await new Promise<void>((resolve, reject) => (socket.once("ready", () => resolve()), socket.once("connect_error", reject)));
    c.socket = socket;
  };
  for (let i = 0; i < 20; i++) {
    const c = { got: new Map<number, number>() } as Client;
    await connect(webs[i % 2]!.port, c);
    clients.push(c);
  }
  const EVENTS = 200;
  const sentAt = new Map<number, number>();
  for (let seq = 1; seq <= EVENTS; seq++) {
    sentAt.set(seq, performance.now());
    postgresEmitter.to(`workspace:${workspace.id}`).emit("audit.appended", { workspaceId: workspace.id, seq });
  }
  const deadline = Date.now() + 15_000;
  await until(() => clients.every((c) => c.got.size >= EVENTS) || Date.now() > deadline);
  const delivered = clients.reduce((a, c) => a + c.got.size, 0);
  const lags = clients.flatMap((c) => [...c.got].map(([seq, t]) => t - sentAt.get(seq)!)).sort((a, b) => a - b);
  console.log(
    `2. ${EVENTS} events published once (from outside any web process) → ${clients.length} browsers on 2 web replicas: ${f(delivered)} of ${f(EVENTS * clients.length)} delivered; every client got every event: ${clients.every((c) => c.got.size === EVENTS) ? "yes" : "NO"}; publish→receive p50 ${f(percentile(lags, 0.5), 1)} ms, p99 ${f(percentile(lags, 0.99), 1)} ms`,
  );
  summary.push(`events to 20 browsers on 2 web replicas|${f(delivered)} / ${f(EVENTS * clients.length)} delivered, p99 ${f(percentile(lags, 0.99), 1)} ms`);

  // 3. Jobs through 2 workers, exactly once.
  const workers = [await start("worker"), await start("worker")];
  procs.push(...workers);
  const RUNS = 24;
  const runIds: string[] = [];
  const t3 = performance.now();
  for (let i = 0; i < RUNS; i++) runIds.push((await startManualRun(owner.wsActor, { pipeline: "effect" })).id);
  const countRuns = async (ids: string[], statuses: string[]) =>
    (
      await getDb()
        .select({ id: pipelineRuns.id })
        .from(pipelineRuns)
        .where(and(inArray(pipelineRuns.id, ids), inArray(pipelineRuns.status, statuses as never[])))
    ).length;
  const DONE = ["passed", "warned", "failed", "cancelled"];
  const terminal = () => countRuns(runIds, DONE);
  for (;;) {
    if ((await terminal()) === RUNS) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const lines = [...effectLines];
  console.log(
    `3. ${RUNS} pipeline runs through 2 workers in ${f((performance.now() - t3) / 1000, 1)} s: ${lines.length} effects (${new Set(lines).size} distinct) — exactly once: ${lines.length === RUNS && new Set(lines).size === RUNS ? "yes" : "NO"}`,
  );
  summary.push(`pipeline runs through 2 workers|${lines.length} effects for ${RUNS} runs (${lines.length === RUNS ? "exactly once" : "NOT once"})`);

  // 4. Rolling restarts under load.
  console.log("4. rolling restart of each kind under load (surge a new replica, take an old one out, SIGTERM it):");
  // Inference.
  const infEndpoints = [...inf];
  const l4 = load(infEndpoints, 16, predictCall);
  for (let i = 0; i < 2; i++) {
    const fresh = await start("inference");
    procs.push(fresh);
    infEndpoints.push(fresh);
    await forSeconds(0.5);
    const old = infEndpoints.shift()!;
    await forSeconds(0.2);
    await stop(old);
  }
  await forSeconds(0.5);
  const s4 = await l4.done();
  const before = Date.now();
  for (const p of infEndpoints) await stop(p);
  const [{ n: logged }] = (await getDb().execute<{ n: number }>(
    sql`select count(*)::int as n from prediction_logs where deployment_id = ${deployment.id}`,
  )) as unknown as [{ n: number }];
  const loggedByServers = procs.filter((p) => p.kind === "inference").reduce((a, p) => a + Number(/stopped \((\d+) prediction/.exec(p.out)?.[1] ?? 0), 0);
  const dropped = procs.filter((p) => p.kind === "inference").reduce((a, p) => a + Number(/logged, (\d+) dropped/.exec(p.out)?.[1] ?? 0), 0);
  console.log(
    `   inference: ${f(s4.ok)} predictions during the restart, ${s4.failed.length} failed; prediction_logs rows ${f(logged)} = rows the replicas reported writing ${f(loggedByServers)}, ${dropped} dropped (stopped in ${Date.now() - before} ms)`,
  );
  summary.push(
    `rolling restart, inference (16 clients)|${f(s4.ok)} answered, ${s4.failed.length} failed, ${logged === loggedByServers ? "no" : "SOME"} prediction logs lost, ${dropped} dropped`,
  );

  // Web.
  const webEndpoints = [...webs];
  const l5 = load(webEndpoints, 8, (p) => get(p.port, `/api/v1/workspaces/${workspace.slug}/models`, token));
  for (let i = 0; i < 2; i++) {
    const fresh = await start("web");
    procs.push(fresh);
    webEndpoints.push(fresh);
    await forSeconds(0.5);
    const old = webEndpoints.shift()!;
    await forSeconds(0.2);
    await stop(old);
  }
  await forSeconds(0.5);
  const s5 = await l5.done();
  // The tabs whose replica went away reconnect through the "ingress" to a live one, and hear the next event.
  let moved = 0;
  for (const [i, c] of clients.entries()) {
    if (c.socket.connected) continue;
    c.socket.close();
    await connect(webEndpoints[i % webEndpoints.length]!.port, c);
    moved++;
  }
  postgresEmitter.to(`workspace:${workspace.id}`).emit("audit.appended", { workspaceId: workspace.id, seq: EVENTS + 1 });
  const deadline5 = Date.now() + 10_000;
  await until(() => clients.every((c) => c.got.has(EVENTS + 1)) || Date.now() > deadline5);
  const heard = clients.filter((c) => c.got.has(EVENTS + 1)).length;
  console.log(
    `   web: ${f(s5.ok)} REST requests during the restart, ${s5.failed.length} failed${s5.failed.length ? ` (${s5.failed.slice(0, 2).join("; ")})` : ""}; ${moved} browsers reconnected to the new replicas; ${heard} of ${clients.length} heard the next event`,
  );
  summary.push(
    `rolling restart, web (8 clients, REST; 20 browsers)|${f(s5.ok)} answered, ${s5.failed.length} failed; ${moved} browsers moved, ${heard}/${clients.length} heard the next event`,
  );

  // Worker.
  effectLines.length = 0;
  const runIds2: string[] = [];
  for (let i = 0; i < RUNS; i++) runIds2.push((await startManualRun(owner.wsActor, { pipeline: "effect" })).id);
  const wEndpoints = [...workers];
  for (let i = 0; i < 2; i++) {
    const fresh = await start("worker");
    procs.push(fresh);
    wEndpoints.push(fresh);
    await stop(wEndpoints.shift()!);
  }
  const terminal2 = () => countRuns(runIds2, DONE);
  const passed2 = () => countRuns(runIds2, ["passed"]);
  for (;;) {
    if ((await terminal2()) === RUNS) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const lines2 = [...effectLines];
  console.log(`   worker: ${RUNS} runs queued across the restart, ${await passed2()} passed; ${lines2.length} effects (${new Set(lines2).size} distinct)`);
  summary.push(`rolling restart, worker (${RUNS} runs)|${await passed2()} passed, ${lines2.length} effects`);
  for (const c of clients) c.socket.close();
} finally {
  for (const p of procs) await stop(p);
  agent.destroy();
  effects.close();
  await closeEnqueuer().catch(() => undefined);
  await closeDb().catch(() => undefined);
  await bench.done();
}

console.log("\nMarkdown (docs/PERFORMANCE.md):\n| measured | figure |\n|---|---|");
for (const s of summary) console.log(`| ${s.split("|").join(" | ")} |`);

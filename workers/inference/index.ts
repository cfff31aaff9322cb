/* ---------------------------------------------------------------------------
 * The inference process: serves active deployments over HTTP.
 *   POST /v1/deployments/<name>/predict   { inputs: {…} } or { instances: […] }
 *   POST /v1/deployments/<name>/feedback  { requestId, label } — ground truth, later
 *   GET  /metrics (Prometheus) · /healthz · /readyz
 * onnxruntime runs on worker threads (pool.ts); this thread parses, validates, routes
 * (primary / canary / shadow), batches, answers and logs.
 * ------------------------------------------------------------------------- */
import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import os from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import client from "prom-client";
import { closeDb, getDb, getSql } from "~/db/client";
import { predictionFeedback } from "~/db/schema";
import { env } from "~/env";
import { can } from "~/server/authz/permissions";
import { autoRollbackCanary, deploymentForKey, DEPLOYMENTS_CHANNEL } from "~/server/serving/deployments.service";
import { CREDENTIALS_CHANNEL } from "~/server/shared/credentials";
import { InputError, parsePredictRequest, toJson, type TensorData } from "~/server/shared/tensors";
import { actorForToken } from "~/server/tokens/tokens.service";
import { LiveRegistry, type LiveDeployment, type LiveVersion } from "./live";
import { LiveStats } from "./live-stats";
import { InferencePool, ModelRunError } from "./pool";
import { PredictionLog, redact } from "./prediction-log";

const PORT = env.INFERENCE_PORT;
const MAX_BODY = env.INFERENCE_MAX_BODY_BYTES;
const replica = `${os.hostname()}:${process.pid}`;

// ---- metrics ---------------------------------------------------------------
const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry, prefix: "steward_inference_" });
const requests = new client.Counter({ name: "steward_predict_requests_total", help: "Predict requests by deployment, version, role and outcome.", labelNames: ["deployment", "version", "role", "status"], registers: [registry] });
const latency = new client.Histogram({ name: "steward_predict_latency_seconds", help: "Predict latency (request in to answer out) by deployment and version.", labelNames: ["deployment", "version", "role"], buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [registry] });
const batchRows = new client.Histogram({ name: "steward_predict_batch_rows", help: "Rows per onnxruntime run (dynamic batching).", labelNames: ["deployment"], buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256], registers: [registry] });
new client.Gauge({ name: "steward_prediction_log_dropped_total", help: "Prediction log records dropped because the buffer was full.", registers: [registry], collect(this: client.Gauge) { this.set(log.dropped); } });
new client.Gauge({ name: "steward_prediction_log_buffered", help: "Prediction log records waiting to be written.", registers: [registry], collect(this: client.Gauge) { this.set(log.size); } });
new client.Gauge({ name: "steward_inference_in_flight", help: "Runs in flight on the inference threads.", registers: [registry], collect(this: client.Gauge) { this.set(pool.inFlight); } });
const loop = monitorEventLoopDelay({ resolution: 5 });
loop.enable();
new client.Gauge({
  name: "steward_inference_event_loop_lag_p99_seconds",
  help: "p99 event-loop delay of the HTTP thread since the previous scrape.",
  registers: [registry],
  collect(this: client.Gauge) {
    this.set(loop.count ? loop.percentile(99) / 1e9 : 0);
    loop.reset();
  },
});

// ---- state -----------------------------------------------------------------
const pool = new InferencePool(env.INFERENCE_THREADS ?? Math.max(1, os.cpus().length));
const stats = new LiveStats(replica, () => pool.inFlight);
const live = new LiveRegistry(pool, (d, rows) => {
  batchRows.observe({ deployment: d.name }, rows);
  stats.batch(d, rows);
});
const log = new PredictionLog(env.PREDICTION_LOG_BUFFER);
let ready = false;
let stopping = false;

type Window = { t: number; ok: boolean; ms: number }[];
const windows = new Map<string, { primary: Window; canary: Window; canaryVersionId: string }>();

function record(d: LiveDeployment, role: "primary" | "canary", ok: boolean, ms: number) {
  if (!d.canary) return;
  let w = windows.get(d.id);
  if (!w || w.canaryVersionId !== d.canary.v.id) windows.set(d.id, (w = { primary: [], canary: [], canaryVersionId: d.canary.v.id }));
  w[role].push({ t: Date.now(), ok, ms });
}

/** Automatic canary analysis: error rate and p95 latency of canary vs primary over the window. */
async function analyseCanaries() {
  for (const d of live.all()) {
    const w = windows.get(d.id);
    const cfg = d.settings.canaryAnalysis;
    if (!d.canary || !w || !cfg.enabled || w.canaryVersionId !== d.canary.v.id) continue;
    const since = Date.now() - cfg.windowMinutes * 60_000;
    w.primary = w.primary.filter((x) => x.t >= since);
    w.canary = w.canary.filter((x) => x.t >= since);
    if (w.canary.length < cfg.minRequests || w.primary.length < cfg.minRequests) continue;
    const err = (x: Window) => x.filter((r) => !r.ok).length / x.length;
    const p95 = (x: Window) => {
      const s = x.map((r) => r.ms).sort((a, b) => a - b);
      return s[Math.floor(0.95 * (s.length - 1))]!;
    };
    const errDelta = err(w.canary) - err(w.primary);
    const ratio = p95(w.canary) / Math.max(0.05, p95(w.primary));
    let reason: string | null = null;
    if (errDelta > cfg.maxErrorRateDelta) reason = `error rate ${(err(w.canary) * 100).toFixed(1)}% vs ${(err(w.primary) * 100).toFixed(1)}% on the primary (allowed +${(cfg.maxErrorRateDelta * 100).toFixed(1)} points) over ${w.canary.length} requests.`;
    else if (ratio > cfg.maxLatencyRatio) reason = `p95 latency ${p95(w.canary).toFixed(1)} ms vs ${p95(w.primary).toFixed(1)} ms on the primary (×${ratio.toFixed(1)}, allowed ×${cfg.maxLatencyRatio}) over ${w.canary.length} requests.`;
    if (reason) {
      windows.delete(d.id);
      console.log(`[inference] canary of ${d.name} rolled back: ${reason}`);
      await autoRollbackCanary(d.id, d.canary.v.id, reason).catch((e: unknown) => console.error("[inference] auto-rollback failed:", e));
    }
  }
}

// ---- HTTP helpers ----------------------------------------------------------
function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", ...headers });
  res.end(text);
}
const fail = (res: ServerResponse, status: number, message: string, extra: Record<string, unknown> = {}) => send(res, status, { error: { message, ...extra } });

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function readJson(req: IncomingMessage): Promise<unknown> {
  const declared = Number(req.headers["content-length"] ?? 0);
  const tooBig = () => new HttpError(413, `The body is larger than the limit of ${MAX_BODY.toLocaleString("en")} bytes; send smaller batches.`);
  if (declared > MAX_BODY) return Promise.reject(tooBig());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        req.removeAllListeners("data");
        req.resume();
        return reject(tooBig());
      }
      chunks.push(c);
    });
    req.on("error", reject);
    req.on("end", () => {
      try {
        resolve(JSON.parse((chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString("utf8")));
      } catch {
        reject(new HttpError(400, "The body is not valid JSON."));
      }
    });
  });
}

/*
 * Credentials are looked up once and cached, so a request does not wait on the database
 * to be authorised. The cache is emptied when CREDENTIALS_CHANNEL fires (a key or token
 * revoked, a role changed, a member removed) and entries live at most CREDENTIAL_TTL_MS
 * in case a notification is missed while the connection is re-established.
 */
const CREDENTIAL_TTL_MS = 30_000;
type Credential = { kind: "key"; deploymentId: string } | { kind: "token"; workspaceId: string; workspaceSlug: string; role: Parameters<typeof can>[0] };
const credentials = new Map<string, { at: number; value: Promise<Credential | null> }>();
function lookup(token: string): Promise<Credential | null> {
  const hit = credentials.get(token);
  if (hit && Date.now() - hit.at < CREDENTIAL_TTL_MS) return hit.value;
  const value = token.startsWith("stwd_")
    ? deploymentForKey(token).then((k) => (k ? ({ kind: "key", deploymentId: k.deploymentId } as const) : null))
    : actorForToken(token).then(
        (a) => ({ kind: "token", workspaceId: a.workspaceId, workspaceSlug: a.workspaceSlug, role: a.role }) as const,
        () => null,
      );
  // Unknown credentials are not remembered: a key created a moment ago must work at once.
  void value.then((v) => (v ? undefined : credentials.delete(token)), () => credentials.delete(token));
  if (credentials.size > 10_000) credentials.clear();
  credentials.set(token, { at: Date.now(), value });
  return value;
}

/** Who may call this deployment: a key for it, a workspace token with predict rights, or the web app on a user's behalf. */
async function authorise(req: IncomingMessage, name: string): Promise<LiveDeployment> {
  const internal = req.headers["x-steward-internal"];
  if (typeof internal === "string") {
    const [workspaceId, userId, ts, mac] = internal.split(".");
    const expected = createHmac("sha256", env.AUTH_SECRET).update(`${workspaceId}.${userId}.${ts}`).digest("hex");
    if (!mac || mac.length !== expected.length || !timingSafeEqual(Buffer.from(mac), Buffer.from(expected)) || Math.abs(Date.now() - Number(ts)) > 60_000) throw new HttpError(401, "The internal signature is invalid or expired.");
    const d = live.find(workspaceId!, name);
    if (!d) throw new HttpError(404, `There is no deployment "${name}".`);
    return d;
  }
  const auth = req.headers.authorization ?? "";
  const token = /^Bearer\s+(\S+)$/i.exec(auth)?.[1];
  if (!token) throw new HttpError(401, "Send a deployment key or an API token: Authorization: Bearer <key>.");
  const actor = await lookup(token);
  if (token.startsWith("stwd_")) {
    if (actor?.kind !== "key") throw new HttpError(401, "The deployment key is unknown or revoked.");
    const d = live.byIdGet(actor.deploymentId);
    if (!d || d.name !== name) throw new HttpError(403, `This key is for another deployment, not "${name}".`);
    return d;
  }
  if (actor?.kind !== "token") throw new HttpError(401, "The API token is unknown, revoked or expired.");
  const d = live.find(actor.workspaceId, name);
  if (!d) throw new HttpError(404, `There is no deployment "${name}" in workspace ${actor.workspaceSlug}.`);
  if (!can(actor.role, "deployment:predict")) throw new HttpError(403, `The token's role (${actor.role}) may not call deployments.`);
  return d;
}

function outputsJson(outputs: Record<string, TensorData>) {
  return Object.fromEntries(Object.entries(outputs).map(([k, t]) => [k, toJson(t)]));
}

async function runVersion(d: LiveDeployment, v: LiveVersion, feeds: Record<string, TensorData>, rows: number) {
  const release = live.acquire(v.key);
  try {
    if (v.batcher) return await v.batcher.submit(feeds, rows);
    const r = await pool.run(v.key, feeds);
    batchRows.observe({ deployment: d.name }, rows);
    stats.batch(d, rows);
    return { ...r, batch: rows };
  } finally {
    release();
  }
}

const sampleInputs = (d: LiveDeployment, body: unknown, rows: number) => (rows <= 100 || Math.random() < d.settings.inputSampleRate ? redact(body as Record<string, unknown>, d.settings.sensitiveInputs, env.AUTH_SECRET) : { sampled: false, rows });

async function predict(req: IncomingMessage, res: ServerResponse, name: string) {
  stats.begin();
  try {
    await servePredict(req, res, name);
  } finally {
    stats.end();
  }
}

async function servePredict(req: IncomingMessage, res: ServerResponse, name: string) {
  const started = performance.now();
  const requestId = (typeof req.headers["x-request-id"] === "string" && /^[\w.-]{1,100}$/.test(req.headers["x-request-id"]) ? req.headers["x-request-id"] : null) ?? randomUUID();
  const d = await authorise(req, name);
  if (d.status !== "active") throw new HttpError(503, `Deployment "${name}" is stopped.`);
  const body = await readJson(req);
  const role: "primary" | "canary" = d.canary && Math.random() * 100 < d.canary.percent ? "canary" : "primary";
  const v = role === "canary" ? d.canary!.v : d.primary;
  let parsed;
  try {
    parsed = parsePredictRequest(v.signature, body);
  } catch (err) {
    if (err instanceof InputError) {
      requests.inc({ deployment: d.name, version: String(v.version), role, status: "invalid" });
      return fail(res, 400, err.message, { input: err.input ?? null, requestId });
    }
    throw err;
  }
  const at = new Date();
  try {
    const r = await runVersion(d, v, parsed.feeds, parsed.rows);
    const ms = performance.now() - started;
    const outputs = outputsJson(r.outputs);
    send(res, 200, { requestId, deployment: d.name, model: d.model, version: v.version, role, outputs }, { "x-request-id": requestId });
    requests.inc({ deployment: d.name, version: String(v.version), role, status: "ok" });
    latency.observe({ deployment: d.name, version: String(v.version), role }, ms / 1000);
    stats.request(d, v.version, role, true, ms);
    record(d, role, true, ms);
    log.push({ at, requestId, workspaceId: d.workspaceId, deploymentId: d.id, modelVersionId: v.id, role, status: "ok", latencyMs: ms, rows: parsed.rows, inputs: sampleInputs(d, body, parsed.rows), outputs });
  } catch (err) {
    const ms = performance.now() - started;
    requests.inc({ deployment: d.name, version: String(v.version), role, status: "error" });
    stats.request(d, v.version, role, false, ms);
    record(d, role, false, ms);
    const message = err instanceof Error ? err.message : String(err);
    log.push({ at, requestId, workspaceId: d.workspaceId, deploymentId: d.id, modelVersionId: v.id, role, status: "error", latencyMs: ms, rows: parsed.rows, inputs: sampleInputs(d, body, parsed.rows), outputs: null, error: message.slice(0, 1000) });
    if (err instanceof ModelRunError) return fail(res, 500, `The model failed while running this request (request ${requestId}).`, { requestId, detail: message.slice(0, 300) });
    throw err;
  }
  // Shadow: a copy of the traffic, logged and compared, never returned.
  if (d.shadow) {
    const sv = d.shadow;
    void (async () => {
      const t0 = performance.now();
      try {
        const sp = parsePredictRequest(sv.signature, body);
        const r = await runVersion(d, sv, sp.feeds, sp.rows);
        const ms = performance.now() - t0;
        requests.inc({ deployment: d.name, version: String(sv.version), role: "shadow", status: "ok" });
        latency.observe({ deployment: d.name, version: String(sv.version), role: "shadow" }, ms / 1000);
        stats.request(d, sv.version, "shadow", true, ms);
        log.push({ at, requestId, workspaceId: d.workspaceId, deploymentId: d.id, modelVersionId: sv.id, role: "shadow", status: "ok", latencyMs: ms, rows: sp.rows, inputs: null, outputs: outputsJson(r.outputs) });
      } catch (err) {
        requests.inc({ deployment: d.name, version: String(sv.version), role: "shadow", status: "error" });
        stats.request(d, sv.version, "shadow", false, performance.now() - t0);
        log.push({ at, requestId, workspaceId: d.workspaceId, deploymentId: d.id, modelVersionId: sv.id, role: "shadow", status: "error", latencyMs: performance.now() - t0, rows: parsed.rows, inputs: null, outputs: null, error: (err as Error).message.slice(0, 1000) });
      }
    })();
  }
}

async function feedback(req: IncomingMessage, res: ServerResponse, name: string) {
  const d = await authorise(req, name);
  const body = (await readJson(req)) as { requestId?: unknown; label?: unknown; feedback?: unknown };
  const items = Array.isArray(body.feedback) ? (body.feedback as { requestId?: unknown; label?: unknown }[]) : [body];
  if (!items.length || items.length > 10_000) throw new HttpError(400, 'Send { "requestId": "…", "label": … } or { "feedback": [ … ] } (at most 10,000).');
  items.forEach((f, i) => {
    if (typeof f.requestId !== "string" || !f.requestId) throw new HttpError(400, `feedback[${i}].requestId must be the request id a prediction returned.`);
    if (f.label === undefined) throw new HttpError(400, `feedback[${i}].label is required: the ground truth for that prediction.`);
  });
  await getDb()
    .insert(predictionFeedback)
    .values(items.map((f) => ({ requestId: f.requestId as string, workspaceId: d.workspaceId, deploymentId: d.id, label: f.label as object })))
    .onConflictDoUpdate({ target: [predictionFeedback.deploymentId, predictionFeedback.requestId], set: { label: predictionFeedback.label, at: new Date() } });
  send(res, 202, { accepted: items.length });
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://x");
  const m = /^\/v1\/deployments\/([a-z][a-z0-9-]{0,62})\/(predict|feedback)$/.exec(url.pathname);
  void (async () => {
    try {
      if (req.method === "GET" && url.pathname === "/healthz") return send(res, 200, { ok: true, replica });
      if (req.method === "GET" && url.pathname === "/readyz") return send(res, ready && !stopping ? 200 : 503, { ready: ready && !stopping, deployments: live.all().length, sessions: live.sessionCount, threads: pool.size });
      if (req.method === "GET" && url.pathname === "/metrics") {
        res.writeHead(200, { "content-type": registry.contentType });
        return res.end(await registry.metrics());
      }
      if (req.method === "POST" && url.pathname === "/v1/noop") {
        await readJson(req);
        return send(res, 200, { ok: true });
      }
      if (!m) return fail(res, 404, "Not found. POST /v1/deployments/<name>/predict or /feedback.");
      if (req.method !== "POST") return fail(res, 405, "Use POST.");
      if (!ready) return fail(res, 503, "The inference server is still loading its deployments.");
      if (m[2] === "predict") await predict(req, res, m[1]!);
      else await feedback(req, res, m[1]!);
    } catch (err) {
      if (res.headersSent) return;
      if (err instanceof HttpError) return fail(res, err.status, err.message);
      const id = randomUUID();
      console.error(`[inference] ${id}:`, err);
      fail(res, 500, `Internal error (reference ${id}).`);
    }
  })();
});

// ---- start -----------------------------------------------------------------
await live.loadAll();
const listener = await getSql().listen(DEPLOYMENTS_CHANNEL, (id) => void live.reload(id));
const credentialListener = await getSql().listen(CREDENTIALS_CHANNEL, () => credentials.clear(), () => credentials.clear());
// A missed notification (a reconnect) is caught up by a periodic check of revisions.
const resync = setInterval(() => void live.loadAll().catch(() => undefined), 30_000);
const analysis = setInterval(() => void analyseCanaries(), 5_000);
const partitions = setInterval(() => void getSql()`select steward_ensure_prediction_partitions(7)`.catch(() => undefined), 3600_000);
stats.start();
ready = true;
server.listen(PORT, () => console.log(`[inference] ${replica} ready: http://localhost:${PORT} · ${live.all().length} deployment(s) · ${pool.size} thread(s)`));

async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`[inference] ${signal}: draining…`);
  clearInterval(resync);
  clearInterval(analysis);
  clearInterval(partitions);
  // Stop accepting, finish in-flight requests, then write what the log buffer holds.
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await log.close();
  await stats.stop();
  await listener.unlisten().catch(() => undefined);
  await credentialListener.unlisten().catch(() => undefined);
  await pool.close();
  await closeDb().catch(() => undefined);
  console.log(`[inference] stopped (${log.written} prediction(s) logged, ${log.dropped} dropped)`);
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("disconnect", () => void shutdown("supervisor gone"));

/* ---------------------------------------------------------------------------
 * The inference process: serves active deployments over HTTP.
 *   POST /v1/deployments/<name>/predict   { inputs: {…} } or { instances: […] }
 *   POST /v1/deployments/<name>/feedback  { requestId, label } — ground truth, later
 *   POST /v1/noop                         the same body read and parsed, nothing run (benchmark baseline; credentials required)
 *   The Open Inference Protocol (KServe v2 / Triton REST, v2.ts): GET /v2, /v2/health/live|ready,
 *   /v2/models/<name>[/versions/<v>][/ready], POST /v2/models/<name>[/versions/<v>]/infer (JSON
 *   or the binary tensor data extension). Both protocols decode into one request and call serve().
 *   Bodies may be gzip (Content-Encoding: gzip); the size limit applies to the decompressed bytes.
 *   GET  /metrics (Prometheus: every tenant's deployment names, so never anonymous: with
 *        INFERENCE_METRICS_TOKEN as a bearer token, or on 127.0.0.1:INFERENCE_METRICS_PORT)
 *   GET  /healthz · /readyz
 * onnxruntime runs on worker threads (pool.ts); this thread parses, validates, routes
 * (primary / canary / shadow), batches, answers and logs.
 * ------------------------------------------------------------------------- */
import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createGunzip } from "node:zlib";
import os from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import client from "prom-client";
import { sql } from "drizzle-orm";
import { closeDb, getDb, getSql } from "~/db/client";
import { listenForever } from "~/db/listen";
import { predictionFeedback } from "~/db/schema";
import { env } from "~/env";
import { can } from "~/server/shared/permissions";
import { AppError, isDatabaseUnavailable } from "~/server/errors";
import { DATABASE_RETRY_AFTER_SECONDS } from "~/server/shared/unavailable";
import { autoRollbackCanary, deploymentForKey } from "~/server/serving/deployments.service";
import { replicaHeartbeat, reportFailure, reportServing, settleRollouts } from "~/server/serving/rollouts.service";
import { postgresEmitter } from "~/server/realtime/pg-emitter";
import { setRealtimeSink } from "~/server/realtime/publish";
import { CHANNELS } from "~/server/platform/channels";
import { INTERNAL_HEADER, verifyInternalCall } from "~/server/platform/keys";
import { jsonDepth, MAX_JSON_DEPTH } from "~/server/platform/json-body";
import type { OnnxSignature } from "~/db/schema/registry";
import { InputError, parsePredictRequest, toJson, type ParsedRequest, type TensorData } from "~/server/shared/tensors";
import { actorForToken } from "~/server/tokens/tokens.service";
import { FeedbackError, parseFeedbackRequest } from "./feedback";
import { LiveRegistry, type LiveDeployment, type LiveVersion } from "./live";
import { LiveStats } from "./live-stats";
import { InferencePool, ModelRunError } from "./pool";
import { PredictionLog, redact } from "./prediction-log";
import { decodeV2, encodeV2Response, modelMetadata, parseV2Request, V2Error } from "./v2";

const PORT = env.INFERENCE_PORT;
const MAX_BODY = env.INFERENCE_MAX_BODY_BYTES;
const replica = `${os.hostname()}:${process.pid}`;

// ---- metrics ---------------------------------------------------------------
const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry, prefix: "steward_inference_" });
const requests = new client.Counter({
  name: "steward_predict_requests_total",
  help: "Predict requests by deployment, version, role and outcome.",
  labelNames: ["deployment", "version", "role", "status"],
  registers: [registry],
});
const latency = new client.Histogram({
  name: "steward_predict_latency_seconds",
  help: "Predict latency (request in to answer out) by deployment and version.",
  labelNames: ["deployment", "version", "role"],
  buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [registry],
});
const batchRows = new client.Histogram({
  name: "steward_predict_batch_rows",
  help: "Rows per onnxruntime run (dynamic batching).",
  labelNames: ["deployment"],
  buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
  registers: [registry],
});
/** A gauge read when /metrics is scraped. */
const gauge = (name: string, help: string, read: () => number) =>
  new client.Gauge({
    name,
    help,
    registers: [registry],
    collect(this: client.Gauge) {
      this.set(read());
    },
  });
gauge("steward_prediction_log_dropped_total", "Prediction log records dropped because the buffer was full.", () => log.dropped);
gauge("steward_prediction_log_written_total", "Prediction log records written to the database.", () => log.written);
gauge("steward_prediction_log_buffered", "Prediction log records waiting to be written.", () => log.size);
gauge("steward_inference_in_flight", "Runs in flight on the inference threads.", () => pool.inFlight);
const loop = monitorEventLoopDelay({ resolution: 5 });
loop.enable();
gauge("steward_inference_event_loop_lag_p99_seconds", "p99 event-loop delay of the HTTP thread since the previous scrape.", () => {
  const p99 = loop.count ? loop.percentile(99) / 1e9 : 0;
  loop.reset();
  return p99;
});

// ---- state -----------------------------------------------------------------
const pool = new InferencePool(env.INFERENCE_THREADS ?? Math.max(1, os.cpus().length));
const stats = new LiveStats(
  replica,
  () => pool.inFlight,
  () => ({ written: log.written, dropped: log.dropped, buffered: log.size }),
);
const startedAt = new Date();
// Settling a rollout here tells the browsers (deployment.changed) through the socket.io Postgres channel.
setRealtimeSink(postgresEmitter);
// Rollouts are facts: after every reload this replica says what it serves (or why it could not), then settles.
const live = new LiveRegistry(
  pool,
  (d, rows) => {
    batchRows.observe({ deployment: d.name }, rows);
    stats.batch(d, rows);
  },
  {
    serving: async (d) => {
      await reportServing(replica, d);
      await settleRollouts({ deploymentId: d.id });
    },
    failed: async (d, reason, serving) => {
      console.error(`[inference] revision ${d.revision} of deployment ${d.id} could not be loaded: ${reason}`);
      await reportFailure(replica, d, reason, serving);
      await settleRollouts({ deploymentId: d.id });
    },
  },
  env.INFERENCE_MEMORY_LIMIT_BYTES ?? null,
);
const beat = (ready: boolean, stopped = false) =>
  replicaHeartbeat({ replica, hostname: os.hostname(), pid: process.pid, startedAt, ready, stopped }).catch((e: unknown) =>
    console.error("[inference] heartbeat failed:", (e as Error).message),
  );
const log = new PredictionLog(env.PREDICTION_LOG_BUFFER);
let ready = false;
let stopping = false;
let listener: Awaited<ReturnType<typeof listenForever>> | null = null;

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
    if (errDelta > cfg.maxErrorRateDelta)
      reason = `error rate ${(err(w.canary) * 100).toFixed(1)}% vs ${(err(w.primary) * 100).toFixed(1)}% on the primary (allowed +${(cfg.maxErrorRateDelta * 100).toFixed(1)} points) over ${w.canary.length} requests.`;
    else if (ratio > cfg.maxLatencyRatio)
      reason = `p95 latency ${p95(w.canary).toFixed(1)} ms vs ${p95(w.primary).toFixed(1)} ms on the primary (×${ratio.toFixed(1)}, allowed ×${cfg.maxLatencyRatio}) over ${w.canary.length} requests.`;
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
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** A credential or a write that needs the database while it is away: retry, never 401 or 500. */
const unavailable = (what: string) =>
  new HttpError(503, `${what} cannot be checked: the database is unavailable at the moment; retry in ${DATABASE_RETRY_AFTER_SECONDS} s.`, {
    "retry-after": String(DATABASE_RETRY_AFTER_SECONDS),
  });

const tooBig = () => new HttpError(413, `The body is larger than the limit of ${MAX_BODY.toLocaleString("en")} bytes; send smaller batches.`);

/**
 * The body's bytes, decompressed when it is gzip (Content-Encoding: gzip). The limit is on
 * what is decompressed, counted as it streams: a small bomb stops at the limit, not in memory.
 */
function readBody(req: IncomingMessage): Promise<Buffer> {
  const encoding = (req.headers["content-encoding"] ?? "identity").trim().toLowerCase();
  if (encoding !== "identity" && encoding !== "gzip")
    return Promise.reject(new HttpError(415, `Content-Encoding "${encoding.slice(0, 40)}" is not accepted; send gzip or an uncompressed body.`));
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > MAX_BODY) return Promise.reject(tooBig());
  return new Promise((resolve, reject) => {
    const gunzip = encoding === "gzip" ? createGunzip() : null;
    const source = gunzip ? req.pipe(gunzip) : req;
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const stop = (err: Error) => {
      if (done) return;
      done = true;
      source.removeAllListeners("data");
      if (gunzip) {
        req.unpipe(gunzip);
        gunzip.destroy();
      }
      req.resume();
      reject(err);
    };
    source.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY)
        return stop(
          gunzip
            ? new HttpError(413, `The body decompresses to more than the limit of ${MAX_BODY.toLocaleString("en")} bytes; send smaller batches.`)
            : tooBig(),
        );
      chunks.push(c);
    });
    req.on("error", stop);
    gunzip?.on("error", (e) => stop(new HttpError(400, `The gzip body could not be decompressed: ${e.message}.`)));
    source.on("end", () => {
      if (done) return;
      done = true;
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    });
  });
}

/** The body as JSON; `maxDepth` also refuses deeper nesting, checked on the bytes before parsing. */
async function readJson(req: IncomingMessage, maxDepth?: number): Promise<unknown> {
  const bytes = await readBody(req);
  // Free-form JSON (a label) would reach JSON.stringify and Postgres's jsonb parser,
  // which spend stack on every level. Predict bodies skip this scan (it would add half
  // a parse on the hot path): parsePredictRequest bounds their depth (MAX_RANK).
  if (maxDepth !== undefined && jsonDepth(bytes, maxDepth) > maxDepth)
    throw new HttpError(400, `The body nests lists or objects more than ${maxDepth} levels deep; no label needs that many.`);
  try {
    return JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new HttpError(400, "The body is not valid JSON.");
  }
}

/*
 * Credentials are looked up once and cached, so requests do not wait on the database to be
 * authorised. CHANNELS.credentials (a key or token revoked, a role changed, a member
 * removed) makes every cached credential be checked again before its next use, as does an
 * entry older than CREDENTIAL_FRESH_MS in case a notification was missed (one check shared
 * by concurrent requests, bounded by a timeout); a revocation therefore bites as soon as the
 * database answers. While it cannot answer, a credential confirmed within
 * CREDENTIAL_GRACE_MS (INFERENCE_CREDENTIAL_GRACE_SECONDS, 10 minutes) keeps working, and
 * one that cannot be checked gets 503 with Retry-After: the database being away is never a
 * reason to answer 401.
 */
const CREDENTIAL_FRESH_MS = env.INFERENCE_CREDENTIAL_TTL_SECONDS * 1000;
const CREDENTIAL_GRACE_MS = env.INFERENCE_CREDENTIAL_GRACE_SECONDS * 1000;
type Credential = { kind: "key"; deploymentId: string } | { kind: "token"; workspaceId: string; workspaceSlug: string; role: Parameters<typeof can>[0] };
type Cached = { value: Credential; confirmedAt: number; retryAt: number };
const credentials = new Map<string, Cached>();
const checking = new Map<string, Promise<Credential | null>>();
/** Bumped when credentials changed: a check that started before must not cache its answer. */
let credentialEpoch = 0;
/** Entries confirmed before this (a change notified, or a reconnection of the listener after which notifications may have been missed) are checked again. */
let recheckBefore = 0;
const credentialStats = { checks: 0, graceHits: 0, unavailable: 0 };
class CheckTimeout extends Error {}

/*
 * Not forgotten outright: an entry that must be re-checked still carries its grace, so a
 * revocation elsewhere in the instance followed by a slow or absent database does not turn
 * every caller away; the revoked credential itself is refused the moment a check answers.
 */
function recheckCredentials() {
  recheckBefore = Date.now();
  credentialEpoch++;
}

/** Asks the database: the credential, null if it is unknown or revoked; throws if the database cannot answer. */
function check(token: string): Promise<Credential | null> {
  const running = checking.get(token);
  if (running) return running;
  const epoch = credentialEpoch;
  credentialStats.checks++;
  const value: Promise<Credential | null> = token.startsWith("stwd_")
    ? deploymentForKey(token).then((k) => (k ? ({ kind: "key", deploymentId: k.deploymentId } as const) : null))
    : actorForToken(token).then(
        (a) => ({ kind: "token", workspaceId: a.workspaceId, workspaceSlug: a.workspaceSlug, role: a.role }) as const,
        // The service's refusal (unknown, revoked, expired, creator demoted): not valid. Anything else is not an answer.
        (err: unknown) => {
          if (err instanceof AppError) return null;
          throw err;
        },
      );
  const settled = value.then((v) => {
    if (epoch !== credentialEpoch) return v;
    // Unknown credentials are not remembered: a key created a moment ago must work at once.
    if (v) {
      if (credentials.size > 10_000) credentials.clear();
      credentials.set(token, { value: v, confirmedAt: Date.now(), retryAt: 0 });
    } else credentials.delete(token);
    return v;
  });
  const done = () => checking.delete(token);
  void settled.then(done, done);
  checking.set(token, settled);
  return settled;
}

function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new CheckTimeout(`no answer from the database within ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

async function lookup(token: string): Promise<Credential | null> {
  const now = Date.now();
  const hit = credentials.get(token);
  if (hit && now - hit.confirmedAt < CREDENTIAL_FRESH_MS && hit.confirmedAt > recheckBefore) return hit.value;
  const graced = hit && now - hit.confirmedAt < CREDENTIAL_GRACE_MS ? hit : null;
  // The database just failed to answer for this credential: do not ask again on every request.
  if (graced && now < graced.retryAt) {
    credentialStats.graceHits++;
    return graced.value;
  }
  try {
    // A known credential waits briefly (then its grace applies), an unknown one a little longer.
    return await within(check(token), graced ? 1000 : 3000);
  } catch (err) {
    if (!(err instanceof CheckTimeout) && !isDatabaseUnavailable(err)) throw err;
    if (graced) {
      graced.retryAt = Date.now() + 1000;
      credentialStats.graceHits++;
      return graced.value;
    }
    credentialStats.unavailable++;
    throw unavailable(token.startsWith("stwd_") ? "The deployment key" : "The API token");
  }
}

/** Who may call this deployment: a key for it, a workspace token with predict rights, or the web app on a user's behalf. */
async function authorise(req: IncomingMessage, name: string): Promise<LiveDeployment> {
  const internal = req.headers[INTERNAL_HEADER];
  if (typeof internal === "string") {
    // Keyed by the internal-call ring: every key id in it verifies, so a rotation overlaps.
    const call = verifyInternalCall(internal, name);
    if (!call) throw new HttpError(401, "The internal signature is invalid or expired.");
    const d = live.find(call.workspaceId, name);
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

/** The benchmark's no-op baseline: any credential that may call some deployment (a key or a predicting token). */
async function authoriseAny(req: IncomingMessage) {
  const token = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "")?.[1];
  if (!token) throw new HttpError(401, "Send a deployment key or an API token: Authorization: Bearer <key>.");
  const actor = await lookup(token);
  if (actor?.kind === "key") return;
  if (actor?.kind === "token" && can(actor.role, "deployment:predict")) return;
  throw new HttpError(401, "The deployment key or API token is unknown, revoked or may not call deployments.");
}

/** The scrape token, compared in constant time (both sides hashed to one length first). */
function metricsAuthorised(req: IncomingMessage, expected: string) {
  const given = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "")?.[1] ?? "";
  const h = (x: string) => createHash("sha256").update(x).digest();
  return timingSafeEqual(h(given), h(expected));
}

async function sendMetrics(res: ServerResponse) {
  res.writeHead(200, { "content-type": registry.contentType, "cache-control": "no-store" });
  res.end(await registry.metrics());
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

/**
 * What a protocol does around serve(): reads the body into its own request, decodes it for a
 * version's signature (primary, canary and shadow may take different inputs), writes the
 * answer and the refusals in its own format, and says what the prediction log records.
 */
type Protocol<R> = {
  read(req: IncomingMessage): Promise<R>;
  decode(sig: OnnxSignature, request: R): ParsedRequest;
  /** Inputs as the prediction log records them: Steward's JSON ({ inputs } or { instances }), whatever the wire held. */
  logged(request: R, parsed: ParsedRequest): Record<string, unknown>;
  answer(
    res: ServerResponse,
    a: {
      request: R;
      requestId: string;
      d: LiveDeployment;
      v: LiveVersion;
      role: "primary" | "canary";
      outputs: Record<string, TensorData>;
      json: Record<string, unknown>;
    },
  ): void;
  invalid(res: ServerResponse, err: InputError, requestId: string): void;
  runFailed(res: ServerResponse, message: string, requestId: string): void;
};

const steward: Protocol<unknown> = {
  read: (req) => readJson(req),
  decode: (sig, body) => parsePredictRequest(sig, body),
  logged: (body) => body as Record<string, unknown>,
  answer: (res, { requestId, d, v, role, json }) =>
    send(res, 200, { requestId, deployment: d.name, model: d.model, version: v.version, role, outputs: json }, { "x-request-id": requestId }),
  invalid: (res, err, requestId) => fail(res, 400, err.message, { input: err.input ?? null, requestId }),
  runFailed: (res, message, requestId) =>
    fail(res, 500, `The model failed while running this request (request ${requestId}).`, { requestId, detail: message.slice(0, 300) }),
};

const sendV2 = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => send(res, status, body, headers);
const v2: Protocol<ReturnType<typeof parseV2Request>> = {
  read: async (req) => {
    const h = req.headers["inference-header-content-length"];
    try {
      return parseV2Request(await readBody(req), Array.isArray(h) ? h[0] : h);
    } catch (err) {
      if (err instanceof V2Error) throw new HttpError(err.status, err.message);
      throw err;
    }
  },
  decode: (sig, request) => decodeV2(sig, request),
  // Logged like a { inputs } predict body, so monitoring reads one format whatever the protocol.
  logged: (_request, parsed) => ({ inputs: Object.fromEntries(Object.entries(parsed.feeds).map(([k, t]) => [k, toJson(t)])) }),
  answer: (res, { request, requestId, d, v, role, outputs }) => {
    const { body, headerLength } = encodeV2Response({
      modelName: d.name,
      modelVersion: v.version,
      id: request.id,
      parameters: { request_id: requestId, role, model: d.model },
      sig: v.signature,
      outputs,
      req: request,
    });
    res.writeHead(200, {
      "content-type": headerLength === null ? "application/json" : "application/octet-stream",
      "cache-control": "no-store",
      "content-length": String(body.length),
      "x-request-id": requestId,
      ...(headerLength === null ? {} : { "inference-header-content-length": String(headerLength) }),
    });
    res.end(body);
  },
  invalid: (res, err, requestId) => sendV2(res, 400, { error: err.message }, { "x-request-id": requestId }),
  runFailed: (res, message, requestId) =>
    sendV2(res, 500, { error: `The model failed while running this request (request ${requestId}): ${message.slice(0, 300)}` }, { "x-request-id": requestId }),
};

/** Which version answers: the canary's share at random, or the one a v2 path names (primary or canary). */
function choose(d: LiveDeployment, version: number | null): "primary" | "canary" {
  if (version === null) return d.canary && Math.random() * 100 < d.canary.percent ? "canary" : "primary";
  if (d.primary.version === version) return "primary";
  if (d.canary?.v.version === version) return "canary";
  throw new HttpError(
    404,
    `Deployment "${d.name}" serves version ${d.primary.version}${d.canary ? ` (canary: version ${d.canary.v.version})` : ""}, not version ${version}.`,
  );
}

/**
 * One prediction, whatever the protocol: credentials, the deployment's state, the body,
 * canary/primary choice, validation against that version, the run, the answer, metrics,
 * the canary window, the prediction log, then the shadow copy.
 */
async function serve<R>(req: IncomingMessage, res: ServerResponse, name: string, protocol: Protocol<R>, version: number | null = null) {
  stats.begin();
  try {
    await serveOnce(req, res, name, protocol, version);
  } finally {
    stats.end();
  }
}

async function serveOnce<R>(req: IncomingMessage, res: ServerResponse, name: string, protocol: Protocol<R>, version: number | null) {
  const started = performance.now();
  const requestId =
    (typeof req.headers["x-request-id"] === "string" && /^[\w.-]{1,100}$/.test(req.headers["x-request-id"]) ? req.headers["x-request-id"] : null) ??
    randomUUID();
  const d = await authorise(req, name);
  if (d.status !== "active") throw new HttpError(503, `Deployment "${name}" is stopped.`);
  const role = choose(d, version);
  const request = await protocol.read(req);
  const v = role === "canary" ? d.canary!.v : d.primary;
  let parsed;
  try {
    parsed = protocol.decode(v.signature, request);
  } catch (err) {
    if (err instanceof InputError) {
      requests.inc({ deployment: d.name, version: String(v.version), role, status: "invalid" });
      return protocol.invalid(res, err, requestId);
    }
    throw err;
  }
  const at = new Date();
  // Logged inputs are taken before the run: the feeds' buffers move to the inference thread.
  const inputs =
    parsed.rows <= 100 || Math.random() < d.settings.inputSampleRate
      ? redact(protocol.logged(request, parsed), d.settings.sensitiveInputs, env.AUTH_SECRET)
      : { sampled: false, rows: parsed.rows };
  try {
    const r = await runVersion(d, v, parsed.feeds, parsed.rows);
    const ms = performance.now() - started;
    const outputs = outputsJson(r.outputs);
    protocol.answer(res, { request, requestId, d, v, role, outputs: r.outputs, json: outputs });
    requests.inc({ deployment: d.name, version: String(v.version), role, status: "ok" });
    latency.observe({ deployment: d.name, version: String(v.version), role }, ms / 1000);
    stats.request(d, v.version, role, true, ms);
    record(d, role, true, ms);
    log.push({
      at,
      requestId,
      workspaceId: d.workspaceId,
      deploymentId: d.id,
      modelVersionId: v.id,
      role,
      status: "ok",
      latencyMs: ms,
      rows: parsed.rows,
      inputs,
      outputs,
    });
  } catch (err) {
    const ms = performance.now() - started;
    requests.inc({ deployment: d.name, version: String(v.version), role, status: "error" });
    stats.request(d, v.version, role, false, ms);
    record(d, role, false, ms);
    const message = err instanceof Error ? err.message : String(err);
    log.push({
      at,
      requestId,
      workspaceId: d.workspaceId,
      deploymentId: d.id,
      modelVersionId: v.id,
      role,
      status: "error",
      latencyMs: ms,
      rows: parsed.rows,
      inputs,
      outputs: null,
      error: message.slice(0, 1000),
    });
    if (err instanceof ModelRunError) return protocol.runFailed(res, message, requestId);
    throw err;
  }
  // Shadow: a copy of the traffic, logged and compared, never returned.
  if (d.shadow) {
    const sv = d.shadow;
    void (async () => {
      const t0 = performance.now();
      try {
        const sp = protocol.decode(sv.signature, request);
        const r = await runVersion(d, sv, sp.feeds, sp.rows);
        const ms = performance.now() - t0;
        requests.inc({ deployment: d.name, version: String(sv.version), role: "shadow", status: "ok" });
        latency.observe({ deployment: d.name, version: String(sv.version), role: "shadow" }, ms / 1000);
        stats.request(d, sv.version, "shadow", true, ms);
        log.push({
          at,
          requestId,
          workspaceId: d.workspaceId,
          deploymentId: d.id,
          modelVersionId: sv.id,
          role: "shadow",
          status: "ok",
          latencyMs: ms,
          rows: sp.rows,
          inputs: null,
          outputs: outputsJson(r.outputs),
        });
      } catch (err) {
        requests.inc({ deployment: d.name, version: String(sv.version), role: "shadow", status: "error" });
        stats.request(d, sv.version, "shadow", false, performance.now() - t0);
        log.push({
          at,
          requestId,
          workspaceId: d.workspaceId,
          deploymentId: d.id,
          modelVersionId: sv.id,
          role: "shadow",
          status: "error",
          latencyMs: performance.now() - t0,
          rows: parsed.rows,
          inputs: null,
          outputs: null,
          error: (err as Error).message.slice(0, 1000),
        });
      }
    })();
  }
}

/** GET /v2/models/<name>[/versions/<v>][/ready]: what the deployment takes and returns, or whether it answers. */
async function v2Model(req: IncomingMessage, res: ServerResponse, name: string, version: number | null, readyProbe: boolean) {
  const d = await authorise(req, name);
  const role = choose(d, version);
  const v = role === "canary" ? d.canary!.v : d.primary;
  if (readyProbe) {
    const ok = ready && !stopping && d.status === "active";
    return sendV2(res, ok ? 200 : 503, { name: d.name, ready: ok });
  }
  sendV2(res, 200, modelMetadata(d.name, [d.primary.version, ...(d.canary ? [d.canary.v.version] : [])], v.signature));
}

async function feedback(req: IncomingMessage, res: ServerResponse, name: string) {
  const d = await authorise(req, name);
  let items;
  try {
    items = parseFeedbackRequest(await readJson(req, MAX_JSON_DEPTH));
  } catch (err) {
    if (err instanceof FeedbackError) throw new HttpError(400, err.message);
    throw err;
  }
  // A later label for the same request replaces the earlier one (a correction) and is counted;
  // within one batch the last label for a request wins.
  const latest = new Map<string, unknown>();
  let inBatch = 0;
  for (const f of items) {
    if (latest.has(f.requestId)) inBatch++;
    latest.set(f.requestId, f.label);
  }
  const now = new Date();
  const rows = await getDb()
    .insert(predictionFeedback)
    .values([...latest].map(([requestId, label]) => ({ requestId, workspaceId: d.workspaceId, deploymentId: d.id, label: label as object, at: now })))
    .onConflictDoUpdate({
      target: [predictionFeedback.deploymentId, predictionFeedback.requestId],
      set: { label: sql`excluded.label`, at: now, corrections: sql`${predictionFeedback.corrections} + 1` },
    })
    .returning({ corrections: predictionFeedback.corrections, at: predictionFeedback.at });
  const corrected = rows.filter((r) => r.corrections > 0 && r.at.getTime() === now.getTime()).length + inBatch;
  send(res, 202, { accepted: items.length, corrected });
}

const V2_MODEL = /^\/v2\/models\/([a-z][a-z0-9-]{0,62})(?:\/versions\/(\d{1,9}))?(?:\/(ready|infer))?$/;

/** The Open Inference Protocol's REST paths; errors are { "error": "…" } (the caller's catch). */
async function routeV2(req: IncomingMessage, res: ServerResponse, path: string) {
  const up = ready && !stopping;
  if (req.method === "GET" && path === "/v2/health/live") return sendV2(res, 200, { live: true });
  if (req.method === "GET" && path === "/v2/health/ready") return sendV2(res, up ? 200 : 503, { ready: up });
  if (req.method === "GET" && path === "/v2") return sendV2(res, 200, { name: "steward", version: "1", extensions: ["binary_tensor_data"] });
  const m = V2_MODEL.exec(path);
  if (!m)
    throw new HttpError(
      404,
      "Not found. The Open Inference Protocol here: GET /v2, /v2/health/live, /v2/health/ready, /v2/models/<deployment>[/versions/<v>][/ready]; POST /v2/models/<deployment>[/versions/<v>]/infer.",
    );
  const version = m[2] === undefined ? null : Number(m[2]);
  if (m[3] === "infer") {
    if (req.method !== "POST") throw new HttpError(405, "Use POST for /infer.");
    if (!ready) throw new HttpError(503, "The inference server is still loading its deployments.");
    return await serve(req, res, m[1]!, v2, version);
  }
  if (req.method !== "GET") throw new HttpError(405, "Use GET for model metadata and readiness.");
  return await v2Model(req, res, m[1]!, version, m[3] === "ready");
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://x");
  const m = /^\/v1\/deployments\/([a-z][a-z0-9-]{0,62})\/(predict|feedback)$/.exec(url.pathname);
  const isV2 = url.pathname === "/v2" || url.pathname.startsWith("/v2/");
  void (async () => {
    try {
      if (req.method === "GET" && url.pathname === "/healthz") return send(res, 200, { ok: true, replica });
      // Ready while the database is away: deployments are served from memory (database: false says so).
      if (req.method === "GET" && url.pathname === "/readyz")
        return send(res, ready && !stopping ? 200 : 503, {
          ready: ready && !stopping,
          deployments: live.all().length,
          sessions: live.sessionCount,
          threads: pool.size,
          database: listener?.connected ?? false,
          predictionLog: { written: log.written, dropped: log.dropped, buffered: log.size },
          credentials: { cached: credentials.size, ...credentialStats },
        });
      if (req.method === "GET" && url.pathname === "/metrics") {
        // The metrics name every tenant's deployments and versions: never anonymous here.
        if (!env.INFERENCE_METRICS_TOKEN)
          return fail(res, 404, "Not found. Metrics are served with INFERENCE_METRICS_TOKEN set (as a bearer token), or on 127.0.0.1:INFERENCE_METRICS_PORT.");
        if (!metricsAuthorised(req, env.INFERENCE_METRICS_TOKEN))
          return send(
            res,
            401,
            { error: { message: "Send the metrics token: Authorization: Bearer <INFERENCE_METRICS_TOKEN>." } },
            { "www-authenticate": 'Bearer realm="metrics"' },
          );
        return await sendMetrics(res);
      }
      if (req.method === "POST" && url.pathname === "/v1/noop") {
        // Authorised before the body is read: an anonymous caller cannot make us parse 16 MiB.
        await authoriseAny(req);
        await readJson(req);
        return send(res, 200, { ok: true });
      }
      if (isV2) return await routeV2(req, res, url.pathname);
      if (!m) return fail(res, 404, "Not found. POST /v1/deployments/<name>/predict or /feedback, or the Open Inference Protocol under /v2.");
      if (req.method !== "POST") return fail(res, 405, "Use POST.");
      if (!ready) return fail(res, 503, "The inference server is still loading its deployments.");
      if (m[2] === "predict") await serve(req, res, m[1]!, steward);
      else await feedback(req, res, m[1]!);
    } catch (err) {
      if (res.headersSent) return;
      // The Open Inference Protocol's error body is { "error": "<message>" }; Steward's own is { error: { message } }.
      const error = (message: string) => (isV2 ? { error: message } : { error: { message } });
      if (err instanceof HttpError) return send(res, err.status, error(err.message), err.headers);
      if (isDatabaseUnavailable(err)) {
        const e = unavailable("The request");
        return send(
          res,
          e.status,
          error(`The database is unavailable at the moment; nothing was stored. Retry in ${DATABASE_RETRY_AFTER_SECONDS} s.`),
          e.headers,
        );
      }
      const id = randomUUID();
      console.error(`[inference] ${id}:`, err);
      send(res, 500, error(`Internal error (reference ${id}).`));
    }
  })();
});

// ---- start -----------------------------------------------------------------
await live.loadAll();
// One connection for both channels, re-established for as long as the database is away.
// Notifications sent meanwhile are lost: a reconnection re-checks cached credentials before
// their next use and reloads every deployment whose revision moved.
listener = await listenForever(
  env.DATABASE_URL,
  { [CHANNELS.deployments]: (id) => void live.reload(id), [CHANNELS.credentials]: recheckCredentials },
  {
    name: "inference-listen",
    onReconnect: () => {
      recheckCredentials();
      void live.loadAll().catch((e: unknown) => console.error("[inference] resync after reconnecting failed:", (e as Error).message));
    },
  },
);
// A missed notification is also caught up by a periodic check of revisions.
const resync = setInterval(() => void live.loadAll().catch(() => undefined), 30_000);
const analysis = setInterval(() => void analyseCanaries(), 5_000);
const partitions = setInterval(() => void getSql()`select steward_ensure_prediction_partitions(7)`.catch(() => undefined), 3600_000);
stats.start();
ready = true;
await beat(true);
const heartbeat = setInterval(() => void beat(!stopping), 5_000);
// Metrics without a token only on loopback: reachable from this host (or pod) alone.
const metricsServer = env.INFERENCE_METRICS_PORT
  ? createServer((req, res) => {
      if (req.method === "GET" && new URL(req.url ?? "/", "http://x").pathname === "/metrics") return void sendMetrics(res).catch(() => res.destroy());
      fail(res, 404, "Not found. This listener serves GET /metrics only.");
    })
  : null;
if (metricsServer) await new Promise<void>((resolve, reject) => metricsServer.once("error", reject).listen(env.INFERENCE_METRICS_PORT, "127.0.0.1", resolve));
server.listen(PORT, () =>
  console.log(
    `[inference] ${replica} ready: http://localhost:${PORT} · ${live.all().length} deployment(s) · ${pool.size} thread(s)${metricsServer ? ` · metrics on http://127.0.0.1:${env.INFERENCE_METRICS_PORT}/metrics` : ""}`,
  ),
);

async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`[inference] ${signal}: draining…`);
  clearInterval(resync);
  clearInterval(analysis);
  clearInterval(partitions);
  clearInterval(heartbeat);
  await beat(false, true);
  // Stop accepting, finish in-flight requests, then write what the log buffer holds.
  await new Promise<void>((resolve) => server.close(() => resolve()));
  metricsServer?.close();
  await log.close();
  await stats.stop();
  await listener?.close();
  await pool.close();
  await closeDb().catch(() => undefined);
  console.log(`[inference] stopped (${log.written} prediction(s) logged, ${log.dropped} dropped)`);
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("disconnect", () => void shutdown("supervisor gone"));

/* ---------------------------------------------------------------------------
 * npm run simulate -- --deployment credit-prod --rps 50 --drift-after 5m
 * npm run simulate -- --url https://steward.example.com --token stw_… --deployment credit-prod
 *
 * Realistic traffic for a deployment of the demo's credit model, so dashboards and drift
 * move: records drawn from the same generator as the demo's data, drift injected into
 * chosen features after a while, and ground truth posted later by request id.
 *
 * Two ways to find the deployment:
 *  - with --token (an API token), any instance: --url is Steward's address and the REST API
 *    says which workspace, deployment and served version; predictions go to --inference-url,
 *    by default --url (behind the Kubernetes ingress /v1/deployments reaches inference on
 *    the same host), or the inference port of the `npm start` running at --url. They are
 *    signed with --key, or the token itself (a role that may predict: ml_engineer and above).
 *  - without, the local instance: .steward/runtime.json (written by npm start) or
 *    DATABASE_URL; --url (or --inference-url) is where predictions go. Uses --key, or creates
 *    a deployment key "simulator" as the workspace's owner (audited like any key).
 * ------------------------------------------------------------------------- */
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { can, type Role } from "~/server/shared/permissions";
import { featureNames } from "~/server/shared/tabular";
import { generateCredit } from "~/db/seed/credit-data";

const USAGE = `npm run simulate -- [--deployment credit-prod] [--workspace acme] [--rps 20] [--drift-after 5m] [--drift-features income_k,debt_ratio]
                      [--label-delay 30s] [--label-share 0.8] [--duration 0 (until Ctrl-C)]
                      [--url http://host:port --token stw_… [--inference-url http://host:port]] [--key stwd_…]

  --url, --token       drive any instance through its API: Steward's address and an API token (Settings › API tokens)
  --inference-url      where /v1/deployments/<name>/predict answers (default: --url, or the inference port of a local npm start)
  --key                a deployment key to sign predictions with (default: the token; locally, a new key)
  without --token      the local npm start (.steward/runtime.json) or DATABASE_URL; --url is then where predictions go`;

/** A refusal the user can act on: printed without a stack, with the exit code. */
function die(message: string, code = 2): never {
  console.error(`simulate: ${message}`);
  process.exit(code);
}

function options() {
  try {
    return parseArgs({
      options: {
        deployment: { type: "string", default: "credit-prod" },
        workspace: { type: "string" },
        rps: { type: "string", default: "20" },
        "drift-after": { type: "string", default: "5m" },
        "drift-features": { type: "string", default: "income_k,debt_ratio" },
        "label-delay": { type: "string", default: "30s" },
        "label-share": { type: "string", default: "0.8" },
        duration: { type: "string", default: "0" },
        url: { type: "string" },
        "inference-url": { type: "string" },
        token: { type: "string" },
        key: { type: "string" },
        help: { type: "boolean", default: false },
      },
    }).values;
  } catch (err) {
    return die(`${(err as Error).message}\n\n${USAGE}`, 1);
  }
}
const values = options();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const duration = (s: string, flag: string) => {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
  if (!m) die(`${flag}: "${s}" is not a duration (for example 30s, 5m, 1h).`, 1);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? "s") as "s"];
};
/** An http(s) address without its trailing slash, or a clear refusal naming the flag. */
const address = (raw: string | undefined, flag: string) => {
  if (raw === undefined) return undefined;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    die(`${flag}: "${raw}" is not a URL; give Steward's address, e.g. http://127.0.0.1:3000.`, 1);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") die(`${flag}: "${raw}" must start with http:// or https://.`, 1);
  return raw.replace(/\/+$/, "");
};
const rps = Number(values.rps);
if (!(rps > 0 && rps <= 5000)) die("--rps must be between 0 and 5000.", 1);
const driftAfter = duration(values["drift-after"], "--drift-after");
const labelDelay = duration(values["label-delay"], "--label-delay");
const labelShare = Number(values["label-share"]);
if (!(labelShare >= 0 && labelShare <= 1)) die("--label-share must be between 0 and 1.", 1);
const stopAfter = values.duration === "0" ? Infinity : duration(values.duration, "--duration");
const driftFeatures = values["drift-features"]
  .split(",")
  .map((s) => s.trim())
  .filter(Boolean);
const url = address(values.url, "--url");
const inferenceUrl = address(values["inference-url"], "--inference-url");
if (values.token !== undefined && !url) die("--token needs --url: the address of the Steward it belongs to.", 1);

const runtimeFile = path.join(process.env.STEWARD_DATA_DIR ?? ".steward", "runtime.json");
const runtime = fs.existsSync(runtimeFile)
  ? (JSON.parse(fs.readFileSync(runtimeFile, "utf8")) as { web?: string; inference?: string; databaseUrl?: string })
  : {};
const DEFAULT_COLUMNS = ["age", "income_k", "debt_ratio", "history_years", "late_payments"];

type Target = { base: string; name: string; columns: string[]; key: string };

/** Any instance, through its REST API: the token's workspace, the deployment, the columns its primary version takes. */
async function remoteTarget(apiUrl: string, token: string): Promise<Target> {
  const api = async <T>(p: string): Promise<T> => {
    let res: Response;
    try {
      res = await fetch(`${apiUrl}/api/v1${p}`, { headers: { authorization: `Bearer ${token}` } });
    } catch (err) {
      const cause = (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message;
      return die(`Cannot reach Steward at ${apiUrl}: ${cause}.`, 5);
    }
    const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
    if (res.ok && body) return body as T;
    const message = body?.error?.message ?? `HTTP ${res.status} (is ${apiUrl} Steward's address?)`;
    return die(`${apiUrl}: ${message}`, res.status === 404 ? 3 : res.status === 401 || res.status === 403 ? 2 : 5);
  };
  const me = await api<{ workspace: string | null; role: Role; email: string }>("/me");
  if (!me.workspace) die("The token names no workspace.");
  if (values.workspace && values.workspace !== me.workspace) {
    die(`The token works in workspace "${me.workspace}", not "${values.workspace}": an API token works in its own workspace only.`);
  }
  if (!values.key && !can(me.role, "deployment:predict")) {
    die(`The token's role (${me.role}) may not predict: pass --key with a deployment key, or use a token of an ML engineer or above.`);
  }
  const ws = `/workspaces/${encodeURIComponent(me.workspace)}`;
  const d = await api<{ name: string; model: string; primary: number; status: string }>(`${ws}/deployments/${encodeURIComponent(values.deployment)}`);
  if (d.status === "stopped") die(`${d.name} is stopped: start it first (steward deployments start ${d.name}).`, 3);
  // A deployment made a moment ago serves once its rollout is live: wait for it, as `steward deployments wait` does.
  const deadline = Date.now() + 60_000;
  for (let said = false; ; said = true) {
    const r = await api<{ status: string; message: string }>(`${ws}/deployments/${encodeURIComponent(d.name)}/rollouts/latest`);
    if (r.status !== "pending") break;
    if (Date.now() > deadline) die(`${d.name}: its rollout is still pending after 60 s (${r.message}).`, 7);
    if (!said) console.log(`Waiting for ${d.name}'s rollout: ${r.message}`);
    await new Promise((res) => setTimeout(res, 500));
  }
  const v = await api<{ signature: Parameters<typeof featureNames>[0] }>(`${ws}/models/${encodeURIComponent(d.model)}/versions/${d.primary}`);
  const sameAsLocal = runtime.web && runtime.inference && runtime.web.replace(/\/+$/, "") === apiUrl;
  const base = inferenceUrl ?? (sameAsLocal ? runtime.inference!.replace(/\/+$/, "") : apiUrl);
  console.log(`Driving ${d.name} (${d.model} v${d.primary}) in workspace ${me.workspace} of ${apiUrl} as ${me.email}.`);
  return { base, name: d.name, columns: featureNames(v.signature) ?? DEFAULT_COLUMNS, key: values.key ?? token };
}

/** The local instance, from its database: the deployment by name, a new deployment key unless --key. */
async function localTarget(): Promise<Target> {
  const base = inferenceUrl ?? url ?? runtime.inference?.replace(/\/+$/, "");
  if (!base) {
    die(
      "No running Steward found: start it with `npm start` (it writes .steward/runtime.json), set DATABASE_URL and pass --url <inference address>, or drive any instance with --url <steward address> --token <API token>.",
    );
  }
  process.env.DATABASE_URL ??= runtime.databaseUrl;
  if (!process.env.DATABASE_URL) die("No database: set DATABASE_URL, or drive the instance through its API with --url and --token.");
  process.env.AUTH_SECRET ??= "simulator-does-not-sign-anything-000000000";

  const { and, asc, eq } = await import("drizzle-orm");
  const { getDb, closeDb } = await import("../db/client");
  const { deployments, memberships, modelVersions, users, workspaces } = await import("../db/schema");
  const { createKey } = await import("../server/serving/deployments.service");

  const found = await getDb()
    .select({ d: deployments, slug: workspaces.slug })
    .from(deployments)
    .innerJoin(workspaces, eq(workspaces.id, deployments.workspaceId))
    .where(and(eq(deployments.name, values.deployment), values.workspace ? eq(workspaces.slug, values.workspace) : undefined));
  if (!found.length) die(`There is no deployment "${values.deployment}"${values.workspace ? ` in workspace ${values.workspace}` : ""}.`, 3);
  if (found.length > 1) die(`Deployments named "${values.deployment}" are in ${found.map((f) => f.slug).join(", ")}: choose one with --workspace.`, 3);
  const d = found[0]!.d;
  // Send what the served version takes (its feature_names), nothing more.
  const [served] = await getDb().select({ signature: modelVersions.signature }).from(modelVersions).where(eq(modelVersions.id, d.primaryVersionId));
  const columns = (served && featureNames(served.signature)) ?? DEFAULT_COLUMNS;
  let key = values.key;
  if (!key) {
    const [owner] = await getDb()
      .select({ id: users.id, email: users.email, name: users.name, role: memberships.role })
      .from(memberships)
      .innerJoin(users, eq(users.id, memberships.userId))
      .where(and(eq(memberships.workspaceId, d.workspaceId), eq(memberships.role, "owner")))
      .orderBy(asc(memberships.createdAt))
      .limit(1);
    if (!owner) die("The deployment's workspace has no owner to create a key as; pass --key.");
    key = (
      await createKey(
        { type: "user", userId: owner.id, email: owner.email, workspaceId: d.workspaceId, role: owner.role },
        { name: d.name, keyName: `simulator ${new Date().toISOString().slice(0, 16)}` },
      )
    ).key;
    console.log(`Created a deployment key for ${d.name} as ${owner.name} (audited); pass --key to reuse one.`);
  }
  await closeDb();
  return { base, name: d.name, columns, key };
}

const target = values.token !== undefined ? await remoteTarget(url!, values.token) : await localTarget();
const { base, columns, key } = target;
const d = { name: target.name };

// ---- traffic -------------------------------------------------------------------
const pool = generateCredit(5000, Date.now() % 100_000);
const started = Date.now();
const stats = { sent: 0, ok: 0, failed: 0, labels: 0, lat: [] as number[], lastError: "" };
const pending: { requestId: string; label: number; due: number }[] = [];
let i = 0;
let inFlight = 0;

function record() {
  const r = { ...pool[i++ % pool.length]! };
  const drifted = Date.now() - started >= driftAfter;
  if (drifted) {
    for (const f of driftFeatures) {
      if (f === "income_k") r.income_k = Math.round(r.income_k * 1.6 * 10) / 10;
      else if (f === "debt_ratio") r.debt_ratio = Math.min(0.99, Math.round((r.debt_ratio + 0.2) * 1000) / 1000);
      else if (f === "age") r.age = Math.min(90, r.age + 12);
      else if (f === "late_payments") r.late_payments += 2;
      else if (f === "history_years") r.history_years = Math.max(0, r.history_years - 5);
    }
  }
  return { r, drifted };
}

async function send() {
  const { r, drifted } = record();
  const label = r.default;
  const features = Object.fromEntries(columns.map((c) => [c, r[c as keyof typeof r]]));
  stats.sent++;
  inFlight++;
  const t = performance.now();
  try {
    const res = await fetch(`${base}/v1/deployments/${d.name}/predict`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ instances: [features] }),
    });
    const body = (await res.json()) as { requestId?: string; error?: { message: string } };
    if (res.ok && body.requestId) {
      stats.ok++;
      stats.lat.push(performance.now() - t);
      if (stats.lat.length > 2000) stats.lat.splice(0, 1000);
      // Ground truth for most requests, later; after the drift the world changed too: some outcomes flip.
      if (Math.random() < labelShare)
        pending.push({ requestId: body.requestId, label: drifted && Math.random() < 0.25 ? 1 - label : label, due: Date.now() + labelDelay });
    } else {
      stats.failed++;
      stats.lastError = body.error?.message ?? `HTTP ${res.status}`;
    }
  } catch (err) {
    stats.failed++;
    stats.lastError = (err as Error).message;
  } finally {
    inFlight--;
  }
}

/** Posts the labels that are due. Calls run one after another, so stopping can await the one under way. */
let posting: Promise<void> = Promise.resolve();
function postLabels(): Promise<void> {
  posting = posting.then(() => postDueLabels());
  return posting;
}
async function postDueLabels(retryAll = false) {
  const now = Date.now();
  const due = pending.filter((p) => p.due <= now);
  if (!due.length) return;
  pending.splice(0, pending.length, ...pending.filter((p) => p.due > now));
  for (let k = 0; k < due.length; k += 1000) {
    const batch = due.slice(k, k + 1000);
    const res = await fetch(`${base}/v1/deployments/${d.name}/feedback`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ feedback: batch.map((p) => ({ requestId: p.requestId, label: p.label })) }),
    }).catch((err: Error) => err);
    if (res instanceof Response && res.ok) {
      stats.labels += batch.length;
      continue;
    }
    // Not accepted: say why, and keep the labels for the next round (a refusal for the request itself is not retried).
    const why =
      res instanceof Response
        ? (((await res.json().catch(() => null)) as { error?: { message?: string } } | null)?.error?.message ?? `HTTP ${res.status}`)
        : res.message;
    stats.lastError = `labels: ${why}`;
    // At the end every refusal is retried: a label can arrive before its prediction's log is written.
    if (retryAll || !(res instanceof Response) || res.status >= 500 || res.status === 429) pending.push(...batch);
  }
}

const tty = process.stdout.isTTY;
function progress(final = false) {
  const sorted = [...stats.lat].sort((a, b) => a - b);
  const p50 = sorted.length ? sorted[Math.floor(sorted.length / 2)]!.toFixed(1) : "—";
  const elapsed = (Date.now() - started) / 1000;
  const drift =
    Date.now() - started >= driftAfter
      ? `drift ON (${driftFeatures.join(", ")})`
      : `drift in ${Math.max(0, Math.ceil((driftAfter - (Date.now() - started)) / 1000))} s`;
  const line = `${d.name} · ${elapsed.toFixed(0)} s · ${stats.sent} sent, ${stats.ok} ok, ${stats.failed} failed · p50 ${p50} ms · ${drift} · ${stats.labels} labels posted${stats.lastError ? ` · last error: ${stats.lastError}` : ""}`;
  if (tty && !final) process.stdout.write(`\r\x1b[2K${line}`);
  else console.log(line);
}

/** One prediction before the traffic: a wrong address or credential is one clear error, not a stream of failures. */
async function probe() {
  const row = pool[0]!;
  const features = Object.fromEntries(columns.map((c) => [c, row[c as keyof typeof row]]));
  let res: Response;
  try {
    res = await fetch(`${base}/v1/deployments/${d.name}/predict`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ instances: [features] }),
    });
  } catch (err) {
    const cause = (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message;
    die(`Cannot reach the inference process at ${base}: ${cause}. Pass --inference-url with its address.`, 5);
  }
  if (res.ok) return;
  const text = await res.text();
  let message: string | undefined;
  try {
    message = (JSON.parse(text) as { error?: { message?: string } }).error?.message;
  } catch {
    message = undefined;
  }
  if (!message || /no API route/.test(message)) {
    die(
      `${base}/v1/deployments/${d.name}/predict answered HTTP ${res.status}, not as Steward's inference process does. With npm start, inference has its own port (printed at start): pass --inference-url.`,
      5,
    );
  }
  die(`${base}: ${message}`, res.status === 401 || res.status === 403 ? 2 : res.status === 404 ? 3 : 5);
}
await probe();

console.log(
  `Sending ${rps} predictions/s to ${base}/v1/deployments/${d.name}/predict; drift after ${values["drift-after"]}; labels ${values["label-delay"]} later. Ctrl-C to stop.`,
);
let due = 0;
const tick = setInterval(() => {
  const target = Math.floor((rps * (Date.now() - started)) / 1000);
  while (due < target && inFlight < 256) {
    due++;
    void send();
  }
  if (Date.now() - started >= stopAfter) void stop();
}, 10);
const labels = setInterval(() => void postLabels(), 1000);
const shown = setInterval(() => progress(), tty ? 500 : 10_000);
let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  clearInterval(tick);
  clearInterval(shown);
  while (inFlight > 0) await new Promise((r) => setTimeout(r, 20));
  clearInterval(labels);
  // Every label still owed goes now; one that is refused gets more tries, half a second apart
  // (its prediction's log may not be written yet on a busy instance).
  for (let attempt = 0; attempt < 10 && pending.length; attempt++) {
    if (attempt) await new Promise((r) => setTimeout(r, 500));
    for (const p of pending) p.due = 0;
    posting = posting.then(() => postDueLabels(attempt < 9));
    await posting;
  }
  if (tty) process.stdout.write("\n");
  progress(true);
  process.exit(stats.failed && !stats.ok ? 1 : 0);
}
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());

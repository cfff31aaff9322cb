/* ---------------------------------------------------------------------------
 * npm run simulate -- --deployment credit-prod --rps 50 --drift-after 5m
 *
 * Realistic traffic for a deployment of the demo's credit model, so dashboards and drift
 * move: records drawn from the same generator as the demo's data, drift injected into
 * chosen features after a while, and ground truth posted later by request id.
 * Finds the running instance from .steward/runtime.json (written by npm start), or
 * --url and DATABASE_URL. Uses --key, or creates a deployment key "simulator" as the
 * workspace's owner (audited like any key).
 * ------------------------------------------------------------------------- */
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({
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
    key: { type: "string" },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log(`npm run simulate -- [--deployment credit-prod] [--workspace acme] [--rps 20] [--drift-after 5m] [--drift-features income_k,debt_ratio]
                      [--label-delay 30s] [--label-share 0.8] [--duration 0 (until Ctrl-C)] [--url http://127.0.0.1:PORT] [--key stwd_…]`);
  process.exit(0);
}
const duration = (s: string) => {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
  if (!m) throw new Error(`"${s}" is not a duration (for example 30s, 5m, 1h).`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? "s") as "s"];
};
const rps = Number(values.rps);
if (!(rps > 0 && rps <= 5000)) throw new Error("--rps must be between 0 and 5000.");
const driftAfter = duration(values["drift-after"]);
const labelDelay = duration(values["label-delay"]);
const labelShare = Number(values["label-share"]);
const stopAfter = values.duration === "0" ? Infinity : duration(values.duration);
const driftFeatures = values["drift-features"].split(",").map((s) => s.trim()).filter(Boolean);

const runtimeFile = path.join(process.env.STEWARD_DATA_DIR ?? ".steward", "runtime.json");
const runtime = fs.existsSync(runtimeFile) ? (JSON.parse(fs.readFileSync(runtimeFile, "utf8")) as { inference?: string; databaseUrl?: string }) : {};
const base = (values.url ?? runtime.inference ?? "").replace(/\/$/, "");
if (!base) {
  console.error("No running Steward found: start it with `npm start` (it writes .steward/runtime.json), or pass --url and set DATABASE_URL.");
  process.exit(2);
}
process.env.DATABASE_URL ??= runtime.databaseUrl;
process.env.AUTH_SECRET ??= "simulator-does-not-sign-anything-000000000";

const { and, asc, eq } = await import("drizzle-orm");
const { getDb, closeDb } = await import("../db/client");
const { deployments, memberships, modelVersions, users, workspaces } = await import("../db/schema");
const { featureNames } = await import("../server/shared/tabular");
const { generateCredit } = await import("../db/seed/credit-data");
const { createKey } = await import("../server/serving/deployments.service");

const found = await getDb()
  .select({ d: deployments, slug: workspaces.slug })
  .from(deployments)
  .innerJoin(workspaces, eq(workspaces.id, deployments.workspaceId))
  .where(and(eq(deployments.name, values.deployment), values.workspace ? eq(workspaces.slug, values.workspace) : undefined));
if (!found.length) {
  console.error(`There is no deployment "${values.deployment}"${values.workspace ? ` in workspace ${values.workspace}` : ""}.`);
  process.exit(3);
}
if (found.length > 1) {
  console.error(`Deployments named "${values.deployment}" are in ${found.map((f) => f.slug).join(", ")}: choose one with --workspace.`);
  process.exit(3);
}
const d = found[0]!.d;
// Send what the served version takes (its feature_names), nothing more.
const [served] = await getDb().select({ signature: modelVersions.signature }).from(modelVersions).where(eq(modelVersions.id, d.primaryVersionId));
const columns = (served && featureNames(served.signature)) ?? ["age", "income_k", "debt_ratio", "history_years", "late_payments"];
let key = values.key;
if (!key) {
  const [owner] = await getDb()
    .select({ id: users.id, email: users.email, name: users.name, role: memberships.role })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(eq(memberships.workspaceId, d.workspaceId), eq(memberships.role, "owner")))
    .orderBy(asc(memberships.createdAt))
    .limit(1);
  if (!owner) throw new Error("The deployment's workspace has no owner to create a key as; pass --key.");
  key = (await createKey({ type: "user", userId: owner.id, email: owner.email, workspaceId: d.workspaceId, role: owner.role }, { name: d.name, keyName: `simulator ${new Date().toISOString().slice(0, 16)}` })).key;
  console.log(`Created a deployment key for ${d.name} as ${owner.name} (audited); pass --key to reuse one.`);
}
await closeDb();

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
    const res = await fetch(`${base}/v1/deployments/${d.name}/predict`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify({ instances: [features] }) });
    const body = (await res.json()) as { requestId?: string; error?: { message: string } };
    if (res.ok && body.requestId) {
      stats.ok++;
      stats.lat.push(performance.now() - t);
      if (stats.lat.length > 2000) stats.lat.splice(0, 1000);
      // Ground truth for most requests, later; after the drift the world changed too: some outcomes flip.
      if (Math.random() < labelShare) pending.push({ requestId: body.requestId, label: drifted && Math.random() < 0.25 ? 1 - label : label, due: Date.now() + labelDelay });
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

async function postLabels() {
  const now = Date.now();
  const due = pending.filter((p) => p.due <= now);
  if (!due.length) return;
  pending.splice(0, pending.length, ...pending.filter((p) => p.due > now));
  for (let k = 0; k < due.length; k += 1000) {
    const batch = due.slice(k, k + 1000);
    const res = await fetch(`${base}/v1/deployments/${d.name}/feedback`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify({ feedback: batch.map((p) => ({ requestId: p.requestId, label: p.label })) }) }).catch(() => null);
    if (res?.ok) stats.labels += batch.length;
  }
}

const tty = process.stdout.isTTY;
function progress(final = false) {
  const sorted = [...stats.lat].sort((a, b) => a - b);
  const p50 = sorted.length ? sorted[Math.floor(sorted.length / 2)]!.toFixed(1) : "—";
  const elapsed = (Date.now() - started) / 1000;
  const drift = Date.now() - started >= driftAfter ? `drift ON (${driftFeatures.join(", ")})` : `drift in ${Math.max(0, Math.ceil((driftAfter - (Date.now() - started)) / 1000))} s`;
  const line = `${d.name} · ${elapsed.toFixed(0)} s · ${stats.sent} sent, ${stats.ok} ok, ${stats.failed} failed · p50 ${p50} ms · ${drift} · ${stats.labels} labels posted${stats.lastError ? ` · last error: ${stats.lastError}` : ""}`;
  if (tty && !final) process.stdout.write(`\r\x1b[2K${line}`);
  else console.log(line);
}

console.log(`Sending ${rps} predictions/s to ${base}/v1/deployments/${d.name}/predict; drift after ${values["drift-after"]}; labels ${values["label-delay"]} later. Ctrl-C to stop.`);
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
  for (const p of pending) p.due = 0;
  await postLabels();
  if (tty) process.stdout.write("\n");
  progress(true);
  process.exit(stats.failed && !stats.ok ? 1 : 0);
}
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());

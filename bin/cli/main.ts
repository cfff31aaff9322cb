/* ---------------------------------------------------------------------------
 * steward CLI: a client of the REST API (/api/v1), for terminals and CI jobs.
 * Exit codes: 0 ok · 1 usage or local error · 2 not signed in or not allowed ·
 *             3 not found · 4 invalid input (the server said which) · 5 server or network ·
 *             6 a required check failed (runs wait) · 7 timed out waiting
 * Imports nothing from the server: it runs wherever `npm link` puts it.
 * ------------------------------------------------------------------------- */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { Command } from "commander";
import cliProgress from "cli-progress";

export const EXIT = { ok: 0, usage: 1, auth: 2, notFound: 3, invalid: 4, server: 5, checksFailed: 6, timeout: 7 } as const;

type Config = { url: string; token: string; workspace: string };
const configPath = () => process.env.STEWARD_CONFIG ?? path.join(os.homedir(), ".config", "steward", "config.json");

class CliError extends Error {
  constructor(
    message: string,
    readonly exit: number,
  ) {
    super(message);
  }
}

function loadConfig(): Config {
  const url = process.env.STEWARD_URL;
  const token = process.env.STEWARD_TOKEN;
  const workspace = process.env.STEWARD_WORKSPACE;
  if (url && token && workspace) return { url, token, workspace };
  try {
    return { ...(JSON.parse(fs.readFileSync(configPath(), "utf8")) as Config), ...(url ? { url } : {}), ...(token ? { token } : {}) };
  } catch {
    throw new CliError("Not logged in. Run: steward login --url <steward url> --token <api token>", EXIT.auth);
  }
}

function saveConfig(c: Config) {
  fs.mkdirSync(path.dirname(configPath()), { recursive: true });
  fs.writeFileSync(configPath(), JSON.stringify(c, null, 2), { mode: 0o600 });
}

function exitFor(status: number) {
  if (status === 401 || status === 403) return EXIT.auth;
  if (status === 404) return EXIT.notFound;
  if (status >= 400 && status < 500) return EXIT.invalid;
  return EXIT.server;
}

async function api(cfg: Pick<Config, "url" | "token">, method: string, p: string, init: { json?: unknown; body?: ReadableStream<Uint8Array>; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...init.headers };
  if (cfg.token) headers.authorization = `Bearer ${cfg.token}`;
  let body: BodyInit | undefined;
  if (init.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(init.json);
  } else if (init.body) body = init.body;
  let res: Response;
  try {
    res = await fetch(`${cfg.url.replace(/\/$/, "")}/api/v1${p}`, { method, headers, body, ...(init.body ? { duplex: "half" } : {}) });
  } catch (err) {
    throw new CliError(`Cannot reach Steward at ${cfg.url}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`, EXIT.server);
  }
  const text = await res.text();
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    data = { error: { message: text.slice(0, 200) || res.statusText } };
  }
  if (!res.ok) {
    const e = (data as { error?: { message?: string } }).error;
    throw new CliError(e?.message ?? `HTTP ${res.status}`, exitFor(res.status));
  }
  return data as Record<string, unknown>;
}

/** A multipart body streamed from disk, with its exact length and a progress callback. */
function multipart(file: string, metadata: unknown, onBytes: (n: number) => void) {
  const boundary = `----steward${Math.random().toString(16).slice(2)}`;
  const name = path.basename(file).replace(/["\r\n]/g, "_");
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n${JSON.stringify(metadata)}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const size = fs.statSync(file).size;
  async function* parts() {
    yield head;
    for await (const chunk of fs.createReadStream(file, { highWaterMark: 256 * 1024 })) {
      onBytes((chunk as Buffer).length);
      yield chunk as Buffer;
    }
    yield tail;
  }
  return {
    body: Readable.toWeb(Readable.from(parts())) as ReadableStream<Uint8Array>,
    headers: { "content-type": `multipart/form-data; boundary=${boundary}`, "content-length": String(head.length + size + tail.length) },
    size,
  };
}

async function push(kind: "datasets" | "models", file: string, name: string, metadata: unknown, json: boolean) {
  const cfg = loadConfig();
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new CliError(`No such file: ${file}`, EXIT.usage);
  const showBar = !json && process.stderr.isTTY;
  const bar = showBar
    ? new cliProgress.SingleBar({ format: ` uploading {bar} {percentage}% | {value}/{total} bytes`, stream: process.stderr }, cliProgress.Presets.shades_classic)
    : null;
  let sent = 0;
  const mp = multipart(file, metadata, (n) => {
    sent += n;
    bar?.update(sent);
  });
  bar?.start(mp.size, 0);
  if (!showBar && !json) process.stderr.write(`uploading ${path.basename(file)} (${mp.size} bytes)…\n`);
  try {
    return await api(cfg, "POST", `/workspaces/${encodeURIComponent(cfg.workspace)}/${kind}/${encodeURIComponent(name)}/versions`, { body: mp.body, headers: mp.headers });
  } finally {
    bar?.stop();
  }
}

function keyValues(list: string[], numeric: boolean, flag: string) {
  const out: Record<string, string | number | boolean> = {};
  for (const item of list) {
    const eq = item.indexOf("=");
    if (eq < 1) throw new CliError(`${flag} ${item}: expected name=value`, EXIT.usage);
    const k = item.slice(0, eq);
    const v = item.slice(eq + 1);
    const n = Number(v);
    if (numeric && (v === "" || !Number.isFinite(n))) throw new CliError(`${flag} ${item}: the value must be a number`, EXIT.usage);
    out[k] = v === "true" ? true : v === "false" ? false : v !== "" && Number.isFinite(n) ? n : v;
  }
  return out;
}

const collect = (v: string, prev: string[]) => [...prev, v];
const print = (json: boolean, data: unknown, human: () => string) => process.stdout.write(json ? `${JSON.stringify(data, null, 2)}\n` : `${human()}\n`);

const program = new Command()
  .name("steward")
  .description("Register models and datasets in Steward from a terminal or a CI job.")
  .option("--json", "print machine-readable JSON", false)
  .showHelpAfterError()
  .exitOverride();

program
  .command("login")
  .description("Store a Steward URL and an API token (or exchange e-mail and password for one)")
  .requiredOption("--url <url>", "Steward's address, e.g. http://localhost:3000")
  .option("--token <token>", "an API token from Settings › API tokens")
  .option("--email <email>", "sign in with e-mail and password instead")
  .option("--password <password>", "password (or STEWARD_PASSWORD)")
  .option("--workspace <slug>", "the workspace, with --email")
  .action(async (o: { url: string; token?: string; email?: string; password?: string; workspace?: string }) => {
    const json = program.opts<{ json: boolean }>().json;
    let token = o.token;
    if (!token) {
      const password = o.password ?? process.env.STEWARD_PASSWORD;
      if (!o.email || !password || !o.workspace) throw new CliError("Give --token, or --email, --password and --workspace.", EXIT.usage);
      const created = await api({ url: o.url, token: "" }, "POST", "/auth/token", { json: { email: o.email, password, workspace: o.workspace, name: `steward CLI on ${os.hostname()}` } });
      token = created.token as string;
    }
    const me = await api({ url: o.url, token }, "GET", "/me");
    saveConfig({ url: o.url, token, workspace: me.workspace as string });
    print(json, { url: o.url, workspace: me.workspace, role: me.role, email: me.email }, () => `Logged in to ${o.url} as ${String(me.email)} in workspace ${String(me.workspace)} (${String(me.role)}).`);
  });

const datasets = program.command("datasets").description("Dataset versions");
datasets
  .command("push <file>")
  .description("Upload a CSV or Parquet file as a new dataset version")
  .requiredOption("--name <name>", "dataset name")
  .option("--description <text>", "description (markdown)")
  .action(async (file: string, o: { name: string; description?: string }) => {
    const json = program.opts<{ json: boolean }>().json;
    const r = await push("datasets", file, o.name, o.description ? { description: o.description } : {}, json);
    print(json, r, () => (r.created ? `Registered ${o.name}@${String(r.version)}: ${String(r.rows)} rows, sha256 ${String(r.sha256).slice(0, 12)}.` : `Unchanged: ${o.name}@${String(r.version)} has the same bytes.`));
  });
datasets
  .command("list")
  .description("List datasets")
  .action(async () => {
    const json = program.opts<{ json: boolean }>().json;
    const cfg = loadConfig();
    const rows = (await api(cfg, "GET", `/workspaces/${encodeURIComponent(cfg.workspace)}/datasets`)) as unknown as { name: string; versions: number; latestVersion: number | null }[];
    print(json, rows, () => (rows.length ? rows.map((d) => `${d.name.padEnd(32)} v${d.latestVersion ?? "-"}  (${d.versions} versions)`).join("\n") : "No datasets yet."));
  });

const models = program.command("models").description("Model versions");
models
  .command("push <file>")
  .description("Upload an ONNX file as the next version of a model")
  .requiredOption("--name <name>", "model name")
  .option("--metric <name=value>", "a metric (repeatable)", collect, [])
  .option("--param <name=value>", "a parameter (repeatable)", collect, [])
  .option("--tag <tag>", "a tag (repeatable)", collect, [])
  .option("--dataset <name@version>", "a training dataset version (repeatable)", collect, [])
  .option("--eval-dataset <name@version>", "an evaluation dataset version (repeatable)", collect, [])
  .option("--commit <sha>", "the git commit it was built from")
  .option("--parent <version>", "parent version: a number, or name@version")
  .option("--description <text>", "description (markdown)")
  .action(async (file: string, o: { name: string; metric: string[]; param: string[]; tag: string[]; dataset: string[]; evalDataset: string[]; commit?: string; parent?: string; description?: string }) => {
    const json = program.opts<{ json: boolean }>().json;
    const metadata = {
      ...(o.description ? { description: o.description } : {}),
      ...(o.metric.length ? { metrics: keyValues(o.metric, true, "--metric") } : {}),
      ...(o.param.length ? { params: keyValues(o.param, false, "--param") } : {}),
      ...(o.tag.length ? { tags: o.tag } : {}),
      ...(o.commit ? { gitCommit: o.commit } : {}),
      ...(o.parent ? { parent: /^\d+$/.test(o.parent) ? Number(o.parent) : o.parent } : {}),
      ...(o.dataset.length + o.evalDataset.length
        ? { datasets: [...o.dataset.map((ref) => ({ ref, role: "train" })), ...o.evalDataset.map((ref) => ({ ref, role: "eval" }))] }
        : {}),
    };
    const r = await push("models", file, o.name, metadata, json);
    print(json, r, () =>
      r.created
        ? `Registered ${o.name}@${String(r.version)} (sha256 ${String(r.sha256).slice(0, 12)}, ${r.loadable ? "loads in onnxruntime" : "does NOT load in onnxruntime"}).`
        : `Unchanged: ${o.name}@${String(r.version)} has the same bytes.`,
    );
  });
models
  .command("list")
  .description("List models")
  .action(async () => {
    const json = program.opts<{ json: boolean }>().json;
    const cfg = loadConfig();
    const rows = (await api(cfg, "GET", `/workspaces/${encodeURIComponent(cfg.workspace)}/models`)) as unknown as { name: string; versions: number; latestVersion: number | null; aliases: { alias: string; version: number }[] }[];
    print(json, rows, () =>
      rows.length
        ? rows.map((m) => `${m.name.padEnd(32)} v${m.latestVersion ?? "-"}  ${m.aliases.map((a) => `${a.alias}→v${a.version}`).join(" ")}`).join("\n")
        : "No models yet.",
    );
  });
models
  .command("get <ref>")
  .description("Show a model (name) or one version (name@version)")
  .action(async (ref: string) => {
    const json = program.opts<{ json: boolean }>().json;
    const cfg = loadConfig();
    const at = ref.lastIndexOf("@");
    const ws = `/workspaces/${encodeURIComponent(cfg.workspace)}`;
    if (at > 0) {
      const v = await api(cfg, "GET", `${ws}/models/${encodeURIComponent(ref.slice(0, at))}/versions/${encodeURIComponent(ref.slice(at + 1))}`);
      const sig = v.signature as { inputs: { name: string; elemType: string; shape: unknown[] | null }[]; outputs: { name: string; elemType: string; shape: unknown[] | null }[]; runtime: { loadable: boolean } };
      const io = (l: typeof sig.inputs) => l.map((i) => `  ${i.name}: ${i.elemType}[${(i.shape ?? []).join(", ")}]`).join("\n");
      print(json, v, () =>
        [
          `${ref}  sha256 ${String(v.sha256)}`,
          `metrics: ${JSON.stringify(v.metrics)}`,
          `aliases: ${(v.aliases as string[]).join(", ") || "-"}`,
          `inputs:\n${io(sig.inputs)}`,
          `outputs:\n${io(sig.outputs)}`,
          `onnxruntime: ${sig.runtime.loadable ? "loads" : "does not load"}`,
        ].join("\n"),
      );
    } else {
      const m = await api(cfg, "GET", `${ws}/models/${encodeURIComponent(ref)}`);
      const versions = m.versions as { version: number; metrics: Record<string, number> }[];
      print(json, m, () => `${ref}\n${versions.map((v) => `  v${v.version}  ${JSON.stringify(v.metrics)}`).join("\n")}`);
    }
  });


const reviewsCmd = program.command("reviews").description("Review requests: propose a version for a protected alias (staging, production), follow its approval");
reviewsCmd
  .command("open <ref> <alias>")
  .description("Open a review request for model@version → alias (signatures are given in the review room)")
  .requiredOption("-m, --summary <text>", "what changed and why it should be promoted (markdown)")
  .option("--assign <userId...>", "reviewers to assign (user ids)")
  .action(async (ref: string, alias: string, o: { summary: string; assign?: string[] }) => {
    const json = program.opts<{ json: boolean }>().json;
    const cfg = loadConfig();
    const at = ref.lastIndexOf("@");
    if (at < 1 || !/^\d+$/.test(ref.slice(at + 1))) throw new CliError(`Expected model@version, for example credit-risk@3 (got "${ref}").`, EXIT.usage);
    const r = await api(cfg, "POST", `/workspaces/${encodeURIComponent(cfg.workspace)}/reviews`, { json: { model: ref.slice(0, at), version: Number(ref.slice(at + 1)), alias, summary: o.summary, assignees: o.assign } });
    print(json, r, () => `Opened review #${String(r.number)}: ${ref} → ${alias}\n${cfg.url.replace(/\/$/, "")}/w/${cfg.workspace}/reviews/${String(r.number)}`);
  });
reviewsCmd
  .command("show <number>")
  .description("Show a review request: status, what the policy still needs, signatures")
  .action(async (n: string) => {
    const json = program.opts<{ json: boolean }>().json;
    const cfg = loadConfig();
    const r = (await api(cfg, "GET", `/workspaces/${encodeURIComponent(cfg.workspace)}/reviews/${encodeURIComponent(n)}`)) as unknown as {
      number: number;
      status: string;
      alias: string;
      model: { name: string };
      version: { version: number };
      state: { checklist: { ok: boolean; text: string }[] } | null;
      signatures: { signerName: string; role: string; decision: string; meaning: string; signedAt: string; stale: boolean }[];
    };
    print(json, r, () =>
      [
        `#${r.number} ${r.model.name}@${r.version.version} → ${r.alias}: ${r.status}`,
        ...(r.state?.checklist ?? []).map((c) => `  ${c.ok ? "✓" : "·"} ${c.text}`),
        ...r.signatures.map((x) => `  ${x.decision === "approve" ? (x.stale ? "stale" : "approved") : "rejected"} by ${x.signerName} (${x.role}) at ${x.signedAt}: "${x.meaning}"`),
      ].join("\n"),
    );
    if (r.status === "rejected") process.exitCode = 6;
  });


type RunView = {
  id: string;
  number: number;
  status: string;
  pipeline: { name: string; version: number };
  model: { name: string; version: number } | null;
  steps: { key: string; status: string; reason: string | null; required: boolean }[];
  checks: { name: string; status: string; value: number | null; threshold: string | null; message: string; required: boolean }[];
};
const TERMINAL_RUN = ["passed", "warned", "failed", "cancelled"];
const mark = (s: string) => (s === "pass" || s === "passed" ? "✓" : s === "warn" || s === "warned" ? "!" : s === "fail" || s === "failed" ? "✗" : "·");

const runsCmd = program.command("runs").description("Pipeline runs: wait for a version's validation, start and list runs");
runsCmd
  .command("wait <ref>")
  .description("Wait for the validation run of model@version; print its checks; exit 6 if a required check failed")
  .option("--timeout <seconds>", "give up after this long (exit 7)", "1800")
  .option("--interval <seconds>", "how often to ask", "1")
  .action(async (ref: string, o: { timeout: string; interval: string }) => {
    const json = program.opts<{ json: boolean }>().json;
    const cfg = loadConfig();
    const at = ref.lastIndexOf("@");
    if (at < 1 || !/^\d+$/.test(ref.slice(at + 1))) throw new CliError(`Expected model@version, for example credit-risk@3 (got "${ref}").`, EXIT.usage);
    const path_ = `/workspaces/${encodeURIComponent(cfg.workspace)}/models/${encodeURIComponent(ref.slice(0, at))}/versions/${ref.slice(at + 1)}/validation`;
    const deadline = Date.now() + Number(o.timeout) * 1000;
    const interactive = !json && process.stderr.isTTY;
    const bar = interactive ? new cliProgress.SingleBar({ format: "{bar} {value}/{total} steps · {status} {running}", hideCursor: true, stream: process.stderr }, cliProgress.Presets.shades_classic) : null;
    const reported = new Set<string>();
    let run: RunView | null = null;
    for (;;) {
      run = ((await api(cfg, "GET", path_)) as { run: RunView | null }).run;
      if (run) {
        const done = run.steps.filter((s) => !["pending", "queued", "running"].includes(s.status));
        const running = run.steps.filter((s) => s.status === "running").map((s) => s.key);
        if (bar) {
          if (!bar.getTotal()) bar.start(run.steps.length, 0, { status: run.status, running: "" });
          bar.update(done.length, { status: run.status, running: running.length ? `(${running.join(", ")})` : "" });
        } else if (!json) {
          for (const s of done) {
            if (reported.has(s.key)) continue;
            reported.add(s.key);
            console.error(`${mark(s.status)} ${s.key}: ${s.status}${s.reason ? ` — ${s.reason}` : ""}`);
          }
        }
        if (TERMINAL_RUN.includes(run.status)) break;
      } else if (!json && !reported.has("(none)")) {
        reported.add("(none)");
        console.error(`No validation run for ${ref} yet; waiting…`);
      }
      if (Date.now() > deadline) {
        bar?.stop();
        throw new CliError(`Timed out after ${o.timeout} s waiting for the validation of ${ref}${run ? ` (run #${run.number} is ${run.status})` : ""}.`, EXIT.timeout);
      }
      await new Promise((r) => setTimeout(r, Number(o.interval) * 1000));
    }
    bar?.stop();
    const failed = run.checks.filter((c) => c.required && c.status === "fail");
    print(json, run, () =>
      [
        `Run #${run.number} of ${run.pipeline.name} on ${ref}: ${run.status}`,
        ...run.checks.map((c) => `  ${mark(c.status)} ${c.name.padEnd(40)} ${c.value === null ? "—" : String(Number(c.value.toPrecision(4)))}${c.threshold ? `  (${c.threshold})` : ""}${c.required ? "" : "  [informative]"}`),
        ...run.steps.filter((s) => s.status === "failed" && s.reason).map((s) => `  ✗ ${s.key}: ${s.reason}`),
      ].join("\n"),
    );
    // exitCode, not exit(): let the report reach a pipe before the process ends.
    if (run.status === "failed" || run.status === "cancelled" || failed.length) process.exitCode = EXIT.checksFailed;
  });
runsCmd
  .command("start <pipeline> [ref]")
  .description("Start a pipeline, on model@version (or model, for the version behind production)")
  .action(async (pipeline: string, ref: string | undefined) => {
    const json = program.opts<{ json: boolean }>().json;
    const cfg = loadConfig();
    const at = ref ? ref.lastIndexOf("@") : -1;
    const body = ref ? (at > 0 ? { model: ref.slice(0, at), version: Number(ref.slice(at + 1)) } : { model: ref }) : {};
    const r = await api(cfg, "POST", `/workspaces/${encodeURIComponent(cfg.workspace)}/pipelines/${encodeURIComponent(pipeline)}/runs`, { json: body });
    print(json, r, () => `Started run #${String(r.number)} (${String(r.id)}).`);
  });
runsCmd
  .command("list")
  .description("Recent runs")
  .option("--pipeline <name>")
  .action(async (o: { pipeline?: string }) => {
    const json = program.opts<{ json: boolean }>().json;
    const cfg = loadConfig();
    const q = o.pipeline ? `?pipeline=${encodeURIComponent(o.pipeline)}` : "";
    const rows = (await api(cfg, "GET", `/workspaces/${encodeURIComponent(cfg.workspace)}/runs${q}`)) as unknown as { number: number; pipeline: string; status: string; model: string | null; version: number | null; steps: { done: number; total: number } }[];
    print(json, rows, () => rows.map((r) => `#${r.number}  ${r.status.padEnd(9)} ${r.pipeline.padEnd(16)} ${r.model ? `${r.model}@${r.version}` : "-"}  ${r.steps.done}/${r.steps.total}`).join("\n") || "No runs yet.");
  });

const auditCmd = program.command("audit").description("The audit trail: export it, verify an export offline");
auditCmd
  .command("export")
  .description("Download the workspace's audit trail (NDJSON with signed checkpoints, or CSV)")
  .option("--format <format>", "ndjson or csv", "ndjson")
  .option("-o, --output <file>", "where to write it (default: standard output)")
  .option("--action <action>", "only this action")
  .option("--actor <actor>", "only this actor (e-mail or id)")
  .option("--from <time>", "from this time (ISO 8601)")
  .option("--to <time>", "to this time (ISO 8601)")
  .action(async (o: { format: string; output?: string; action?: string; actor?: string; from?: string; to?: string }) => {
    const cfg = loadConfig();
    const q = new URLSearchParams({ format: o.format, ...(o.action ? { action: o.action } : {}), ...(o.actor ? { actor: o.actor } : {}), ...(o.from ? { from: o.from } : {}), ...(o.to ? { to: o.to } : {}) });
    let res: Response;
    try {
      res = await fetch(`${cfg.url.replace(/\/$/, "")}/api/v1/workspaces/${encodeURIComponent(cfg.workspace)}/audit/export?${q}`, { headers: { authorization: `Bearer ${cfg.token}` } });
    } catch (err) {
      throw new CliError(`Cannot reach Steward at ${cfg.url}: ${(err as Error).message}`, EXIT.server);
    }
    if (!res.ok || !res.body) {
      const e = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
      throw new CliError(e.error?.message ?? `HTTP ${res.status}`, exitFor(res.status));
    }
    const out = o.output ? fs.createWriteStream(o.output) : process.stdout;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) out.write(chunk);
    if (o.output) await new Promise<void>((r) => (out as fs.WriteStream).end(r));
  });
auditCmd
  .command("verify <export>")
  .description("Verify an NDJSON export offline: every hash, the chain's links and the signed checkpoints")
  .option("--public-key <file>", "the server's Ed25519 public key (PEM); default: the key in the export, which proves less")
  .action(async (file: string, o: { publicKey?: string }) => {
    const json = program.opts<{ json: boolean }>().json;
    const { loadPublicKey, parseExport, verifyExport } = await import("../../server/audit/verify");
    let parsed;
    try {
      parsed = parseExport(fs.readFileSync(file, "utf8"));
    } catch (err) {
      throw new CliError(`${file}: ${(err as Error).message}`, EXIT.invalid);
    }
    const pem = o.publicKey ? fs.readFileSync(o.publicKey, "utf8") : (parsed.header.publicKey as string | null);
    if (!pem) throw new CliError("No public key: pass --public-key (GET /api/v1/audit/public-key).", EXIT.usage);
    const report = verifyExport(parsed.events, parsed.checkpoints, loadPublicKey(pem));
    print(json, report, () =>
      report.intact
        ? `Intact: ${report.events} events (#${report.firstSeq ?? "-"}…#${report.lastSeq ?? "-"}${report.complete ? ", complete from #1" : ", a filtered selection"}), ${report.checkpointsVerified} signed checkpoint(s) verified.${o.publicKey ? "" : "\nNote: verified with the key inside the export; pass --public-key to verify against the server's published key."}`
        : `BROKEN at event #${report.problem!.seq}: ${report.problem!.reason}.`,
    );
    if (!report.intact) process.exit(EXIT.invalid);
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CliError) {
    process.stderr.write(`steward: ${err.message}\n`);
    process.exit(err.exit);
  }
  const code = (err as { code?: string; exitCode?: number }).code;
  if (code === "commander.helpDisplayed" || code === "commander.help" || code === "commander.version") process.exit(0);
  if (code?.startsWith("commander.")) process.exit(EXIT.usage);
  process.stderr.write(`steward: ${(err as Error).message}\n`);
  process.exit(EXIT.usage);
}

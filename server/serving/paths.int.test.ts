import { spawn } from "node:child_process";
import fs from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import type { Command } from "commander";
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getDb } from "~/db/client";
import { deployments, modelVersions, reviewRequests } from "~/db/schema";
import { createWorkspace } from "~/db/seed/factories";
import { logisticRegressionOnnx } from "~/db/seed/onnx-builder";
import { handleRest } from "~/server/web/rest/rest";
import { REST_ROUTES } from "~/server/web/rest/routes";
import { seedAlias, uploadModelVersion } from "~/server/registry/models.service";
import { openReview } from "~/server/reviews/requests.service";
import { createKey } from "~/server/serving/deployments.service";
import { createToken } from "~/server/tokens/tokens.service";
import { appRouter } from "~/server/web/trpc/root";
import { callerFor, markUnloadable } from "~/test/helpers";
import { rest } from "~/test/rest-client";

/*
 * Traffic follows approvals, on every path. The list of paths is generated from the three
 * registries — the tRPC router, the REST route table and the CLI's commands — and every
 * write there must be classified: either it changes what a deployment serves (and is
 * driven below through the servability check, as each version state), or it is listed
 * with the reason it cannot. A new procedure, route or command that is neither fails here.
 */

// ---------------------------------------------------------------------------
// 1. Every write path, classified
// ---------------------------------------------------------------------------

/** Paths that change what a deployment serves, and the action(s) that drive them below. */
const TRAFFIC = {
  trpc: {
    "deployments.create": "create",
    "deployments.setTraffic": "canary, shadow",
    "deployments.promoteCanary": "promote",
    "deployments.rollback": "rollback",
    "deployments.setFollow": "pin, follow",
    "deployments.setStatus": "stop/start: serves the same versions (no version gains reach)",
    "models.setAlias": "alias moves roll out to followers: protected aliases refused (registry tests), unprotected ones through moveAliasTx's check",
    "models.removeAlias": "refused for protected aliases and for aliases a deployment follows",
    "reviews.sign": "an approval moves the alias it approved (the approved path)",
    "reviews.clearChanges": "may complete an approval (the approved path)",
    "reviews.startSsoSignature": "as reviews.sign, once the identity provider's callback proves the fresh login (recordSignature: the approved path)",
  },
  rest: {
    "POST /workspaces/{workspace}/deployments": "create",
    "PUT /workspaces/{workspace}/deployments/{name}/traffic": "canary, shadow",
    "POST /workspaces/{workspace}/deployments/{name}/promote": "promote",
    "POST /workspaces/{workspace}/deployments/{name}/rollback": "rollback",
    "PUT /workspaces/{workspace}/deployments/{name}/follow": "pin, follow",
    "PUT /workspaces/{workspace}/deployments/{name}/status": "stop/start",
    "PUT /workspaces/{workspace}/models/{name}/aliases/{alias}": "alias moves (as models.setAlias)",
    "DELETE /workspaces/{workspace}/models/{name}/aliases/{alias}": "as models.removeAlias",
    "POST /workspaces/{workspace}/reviews/{number}/signatures": "as reviews.sign: an approval moves the alias it approved (the approved path)",
    "DELETE /workspaces/{workspace}/reviews/{number}/changes": "as reviews.clearChanges: may complete an approval (the approved path)",
    "POST /workspaces/{workspace}/reviews/{number}/signatures/sso": "as reviews.startSsoSignature: the callback signs (the approved path)",
  },
  cli: {
    "deployments create": "create",
    "deployments canary": "canary",
    "deployments shadow": "shadow",
    "deployments promote": "promote",
    "deployments rollback": "rollback",
    "deployments pin": "pin",
    "deployments follow": "follow",
    "deployments stop": "stop",
    "deployments start": "start",
    "reviews approve": "as reviews.sign: an approval moves the alias it approved (the approved path)",
  },
} as const;

/**
 * Writes that cannot change what serves, by namespace, with the reason. A namespace is
 * listed only when nothing in it calls deployments.service's changes or moveAliasTx.
 */
const NOT_TRAFFIC: Record<"trpc" | "rest" | "cli", [RegExp, string][]> = {
  trpc: [
    [/^(auth|accounts?|users|invitations|workspaces|members|tokens|notifications|system|instance)\./, "identity and settings: no deployment or alias"],
    [/^audit\./, "reads, verifies or signs the audit chain"],
    [/^(datasets)\./, "registers datasets"],
    [/^models\.(upload|update.*|inventory.*|recordRevalidation)$/, "registers versions or edits metadata"],
    [/^(pipelines|runs)\./, "pipelines register versions and open reviews; they never move an alias or change a deployment"],
    [
      /^reviews\.(open|updateCard|withdraw|requestChanges|comment.*|editComment|resolveThread|reopenThread|rebase|typing|presence|assign.*)$/,
      "review discussion and bookkeeping: only an approval moves an alias",
    ],
    [/^(policies|reviews)\.(save|savePolicy|decide.*|withdraw.*|propose.*)/, "approval policies: they decide future approvals, not traffic"],
    [/^deployments\.(updateSettings|createKey|revokeKey|tryPredict)$/, "batching/logging settings, keys, and a test prediction: the same versions serve"],
    [
      /^(monitoring|alerts|incidents|webhooks)\./,
      "monitoring, alert rules and webhooks: canary analysis is the inference server's, through autoRollbackCanary (removes reach only)",
    ],
    [/^(governance|inventory|reports|compliance)\./, "compliance reporting and the model inventory"],
  ],
  rest: [
    [/^POST \/auth\//, "sign-in for the CLI"],
    [/^POST \/workspaces\/\{workspace\}\/(datasets|models)\/\{name\}\/versions$/, "registers a version"],
    [
      /^(POST|PATCH) \/workspaces\/\{workspace\}\/uploads($|\/\{id\}($|\/complete$))/,
      "a resumable upload: staged bytes, then registers a version as the push does",
    ],
    [
      /^(POST|PUT|DELETE) \/workspaces\/\{workspace\}\/reviews($|\/\{number\}\/(rebase|comments|threads|card|withdraw))|^POST \/workspaces\/\{workspace\}\/reviews\/\{number\}\/changes$/,
      "opens, re-bases, withdraws or discusses reviews, or asks for changes: only a signature or a cleared change request completes an approval",
    ],
    [/^(PUT|POST|DELETE) \/workspaces\/\{workspace\}\/deployments\/\{name\}\/(settings|keys)/, "batching/logging settings and keys: the same versions serve"],
    [/^(PUT|POST|DELETE) \/workspaces\/\{workspace\}\/(members|invitations)/, "members and invitations"],
    [/^POST \/workspaces\/\{workspace\}\/audit\/(verify|checkpoints)$/, "verifies or signs the audit chain"],
    [/^(POST|PUT|DELETE) \/workspaces\/\{workspace\}\/(pipelines|runs)/, "pipelines and runs"],
    [/^(POST|PUT|DELETE) \/workspaces\/\{workspace\}\/(policies|policy-changes)/, "approval policies"],
    [
      /^(POST|PUT|DELETE) \/workspaces\/\{workspace\}\/(inventory|models\/\{name\}\/(inventory|revalidations)|frameworks|settings)/,
      "inventory and compliance settings",
    ],
    [/^(POST|PUT|DELETE) \/workspaces\/\{workspace\}\/(webhooks|alerts|incidents|monitoring)/, "monitoring"],
  ],
  cli: [
    [/^login$/, "stores credentials"],
    [/^completion$/, "prints a shell completion script"],
    [/^(datasets|models) push$/, "registers a version"],
    [/^(datasets|models) pull$/, "downloads a version's file (audited, changes nothing else)"],
    [/^reviews (open|rebase|comment|withdraw|request-changes)$/, "review bookkeeping: only an approval moves an alias"],
    [/^reviews reject$/, "a rejection closes the request: nothing moves"],
    [/^deployments keys (create|revoke)$/, "deployment keys: the same versions serve"],
    [/^(alerts|incidents) /, "alert rules and incidents: canary analysis is the inference server's (removes reach only)"],
    [/^runs start$/, "starts a pipeline run"],
    [/^audit (export|verify)$/, "the audit trail"],
    [/^admin (backup|restore)$/, "a whole instance copied out, or loaded into an empty database (restore refuses one that holds data)"],
  ],
};

type Proc = { _def: { type: string; procedure?: boolean; record?: Record<string, unknown> } };
function trpcMutations(record: Record<string, unknown>, prefix = ""): string[] {
  return Object.entries(record).flatMap(([key, value]) => {
    const p = prefix ? `${prefix}.${key}` : key;
    const def = (value as Proc)._def as Proc["_def"] | undefined;
    if (def?.procedure) return def.type === "mutation" ? [p] : [];
    return trpcMutations(def?.record ?? (value as Record<string, unknown>), p);
  });
}
function cliCommands(cmd: Command, prefix = ""): string[] {
  return cmd.commands.flatMap((c) => {
    const name = prefix ? `${prefix} ${c.name()}` : c.name();
    return c.commands.length ? cliCommands(c, name) : [name];
  });
}
/** Commands that only read (list, get, show, wait) are not writes. */
const READ_ONLY_CLI = /( (list|get|show|wait|versions)|^whoami)$/;

describe("every path that can change traffic is classified", () => {
  const unclassified = (kind: "trpc" | "rest" | "cli", all: string[]) =>
    all.filter((p) => !(p in TRAFFIC[kind]) && !NOT_TRAFFIC[kind].some(([re]) => re.test(p)));

  it("tRPC: every mutation of the router", () => {
    const all = trpcMutations(appRouter._def.record);
    expect(all.length).toBeGreaterThan(30);
    expect(unclassified("trpc", all)).toEqual([]);
    for (const p of Object.keys(TRAFFIC.trpc)) expect(all, `${p} is classified as a traffic path but is not in the router`).toContain(p);
  });

  it("REST: every write route of the table", () => {
    const all = REST_ROUTES.filter((r) => r.method !== "GET").map((r) => `${r.method} ${r.path}`);
    expect(unclassified("rest", all)).toEqual([]);
    for (const p of Object.keys(TRAFFIC.rest)) expect(all, `${p} is classified as a traffic path but is not a route`).toContain(p);
  });

  it("CLI: every command of the registry", async () => {
    const { program } = await import("~/bin/cli/main");
    const all = cliCommands(program).filter((c) => !READ_ONLY_CLI.test(c));
    expect(unclassified("cli", all)).toEqual([]);
    for (const p of Object.keys(TRAFFIC.cli)) expect(all, `${p} is classified as a traffic path but is not a command`).toContain(p);
  });
});

// ---------------------------------------------------------------------------
// 2. Each path × each action × each version state
// ---------------------------------------------------------------------------

/** v1 holds production; v2 approved (review closed approved); v3 under review; v4 never approved; v5 unloadable. */
const STATES = { held: 1, approved: 2, under_review: 3, never_approved: 4, unloadable: 5 } as const;
type State = keyof typeof STATES;

let ws: Awaited<ReturnType<typeof createWorkspace>>;
let opsToken: string;
let mlToken: string;
let deploymentKey: string;
let server: Server;
let url: string;
const cliDir = fs.mkdtempSync(path.join(os.tmpdir(), "steward-paths-cli-"));

beforeAll(async () => {
  ws = await createWorkspace({ members: [{ role: "ops" }, { role: "ml_engineer" }, { role: "reviewer" }] });
  const owner = ws.owner.wsActor;
  const up = (w: number[]) =>
    uploadModelVersion(
      owner,
      { name: "credit", filename: "credit.onnx" },
      Readable.from([Buffer.from(logisticRegressionOnnx({ weights: w, bias: 0, featureNames: ["a", "b"] }))]),
    );
  for (const w of [
    [1, 2],
    [2, 3],
    [3, 4],
    [4, 5],
  ])
    await up(w);
  // onnxruntime-refused models are no longer registered; versions registered before that still exist, so the state is made by hand.
  const v5 = await up([5, 6]);
  await markUnloadable(v5.versionId);
  expect(v5).toMatchObject({ version: 5 });
  await seedAlias(owner, { workspaceId: ws.workspace.id, name: "credit", alias: "production", version: 1 });
  // v2: a review for production that was approved (the signing path is tested in reviews).
  const [v2] = await getDb().select().from(reviewRequests).where(eq(reviewRequests.workspaceId, ws.workspace.id));
  expect(v2).toBeUndefined();
  const mv = await getDb()
    .select({ id: modelVersions.id, version: modelVersions.version, modelId: modelVersions.modelId })
    .from(modelVersions)
    .where(eq(modelVersions.workspaceId, ws.workspace.id));
  const id = (n: number) => mv.find((x) => x.version === n)!.id;
  await getDb()
    .insert(reviewRequests)
    .values({
      workspaceId: ws.workspace.id,
      number: 100,
      modelId: mv[0]!.modelId,
      modelVersionId: id(2),
      alias: "production",
      summary: "approved earlier",
      status: "approved",
      requestedBy: ws.owner.id,
      closedAt: new Date(),
      closedBy: ws.members[2]!.id,
      policyVersion: 0,
    });
  await openReview(owner, { model: "credit", version: 3, alias: "production", summary: "v3 please" });
  opsToken = (await createToken(ws.members[0]!.wsActor, { workspaceId: ws.workspace.id, name: "ops", role: "ops" })).token;
  mlToken = (await createToken(ws.members[1]!.wsActor, { workspaceId: ws.workspace.id, name: "ml", role: "ml_engineer" })).token;
  await callerFor(ws.owner).deployments.create({ workspaceId: ws.workspace.id, name: "keyed", environment: "prod", model: "credit" });
  deploymentKey = (await createKey(owner, { name: "keyed", keyName: "app" })).key;

  server = createServer((req, res) => {
    const body = req.method === "GET" ? undefined : (Readable.toWeb(req) as ReadableStream<Uint8Array>);
    const request = new Request(`http://localhost${req.url}`, {
      method: req.method,
      headers: req.headers as Record<string, string>,
      body,
      ...(body ? { duplex: "half" } : {}),
    });
    void handleRest(request, REST_ROUTES, new URL(request.url).pathname, async () => null).then(async (r) => {
      res.writeHead(r.status, Object.fromEntries(r.headers));
      res.end(Buffer.from(await r.arrayBuffer()));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 60_000);
afterAll(() => server?.close());

let seq = 0;
const nextName = (p: string) => `${p}-${++seq}`;

/** Prepares a fresh deployment for an action: following production (v1), or pinned to v2 where the action needs it. */
async function prepare(action: Action, x: number) {
  const name = nextName(action);
  const api = callerFor(ws.owner).deployments;
  const w = { workspaceId: ws.workspace.id };
  if (action === "create") return name;
  if (action === "rollback" || action === "follow") await api.create({ ...w, name, environment: "prod", model: "credit", follow: false, version: 2 });
  else await api.create({ ...w, name, environment: "prod", model: "credit" });
  if (action === "promote") {
    // A canary that got there earlier (under a looser policy): Promote must still check it.
    const [v] = await getDb()
      .select({ id: modelVersions.id })
      .from(modelVersions)
      .where(and(eq(modelVersions.workspaceId, ws.workspace.id), eq(modelVersions.version, x)));
    await getDb()
      .update(deployments)
      .set({ canaryVersionId: v!.id, canaryPercent: 10, following: false })
      .where(and(eq(deployments.workspaceId, ws.workspace.id), eq(deployments.name, name)));
  }
  return name;
}

type Action = "create" | "canary" | "shadow" | "pin" | "promote" | "rollback" | "follow";
type Path = "trpc" | "rest-token" | "rest-session" | "cli";
type Outcome = { ok: boolean; code: string; message: string };

async function viaTrpc(action: Action, name: string, x: number): Promise<Outcome> {
  const api = callerFor(ws.members[0]!).deployments;
  const w = { workspaceId: ws.workspace.id, name };
  try {
    if (action === "create") await api.create({ ...w, environment: "prod", model: "credit", follow: false, version: x });
    if (action === "canary") await api.setTraffic({ ...w, canaryVersion: x, canaryPercent: 10 });
    if (action === "shadow") await api.setTraffic({ ...w, shadowVersion: x });
    if (action === "pin") await api.setFollow({ ...w, follow: false, version: x });
    if (action === "promote") await api.promoteCanary(w);
    if (action === "rollback") await api.rollback({ ...w, version: x, reason: "v2 misbehaves in production" });
    if (action === "follow") await api.setFollow({ ...w, follow: true });
    return { ok: true, code: "OK", message: "" };
  } catch (err) {
    return { ok: false, code: (err as { code: string }).code, message: (err as Error).message };
  }
}

function restRequest(action: Action, name: string, x: number): [string, string, unknown] {
  const base = `/workspaces/${ws.workspace.slug}/deployments`;
  switch (action) {
    case "create":
      return ["POST", base, { name, environment: "prod", model: "credit", follow: false, version: x }];
    case "canary":
      return ["PUT", `${base}/${name}/traffic`, { canaryVersion: x, canaryPercent: 10 }];
    case "shadow":
      return ["PUT", `${base}/${name}/traffic`, { shadowVersion: x }];
    case "pin":
      return ["PUT", `${base}/${name}/follow`, { follow: false, version: x }];
    case "promote":
      return ["POST", `${base}/${name}/promote`, {}];
    case "rollback":
      return ["POST", `${base}/${name}/rollback`, { version: x, reason: "v2 misbehaves in production" }];
    case "follow":
      return ["PUT", `${base}/${name}/follow`, { follow: true }];
  }
}

async function viaRest(action: Action, name: string, x: number, auth: { token?: string; session?: boolean }): Promise<Outcome> {
  const [method, p, json] = restRequest(action, name, x);
  const ops = ws.members[0]!;
  const r = await rest(method, p, {
    json,
    token: auth.token,
    ...(auth.session ? { session: { id: ops.id, email: ops.email }, headers: { "x-steward-client": "web" } } : {}),
  });
  return r.status < 300 ? { ok: true, code: "OK", message: "" } : { ok: false, code: r.data.error!.code, message: r.data.error!.message };
}

function cliArgs(action: Action, name: string, x: number): string[] {
  switch (action) {
    case "create":
      return ["deployments", "create", name, "credit", "--pin", String(x)];
    case "canary":
      return ["deployments", "canary", name, String(x), "--percent", "10"];
    case "shadow":
      return ["deployments", "shadow", name, String(x)];
    case "pin":
      return ["deployments", "pin", name, String(x)];
    case "promote":
      return ["deployments", "promote", name];
    case "rollback":
      return ["deployments", "rollback", name, "--to", String(x), "--reason", "v2 misbehaves in production"];
    case "follow":
      return ["deployments", "follow", name];
  }
}

function viaCli(action: Action, name: string, x: number, token = opsToken): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.resolve("bin/steward.mjs"), "--json", ...cliArgs(action, name, x)], {
      cwd: cliDir,
      env: { PATH: process.env.PATH, HOME: cliDir, NODE_ENV: "production", STEWARD_URL: url, STEWARD_TOKEN: token, STEWARD_WORKSPACE: ws.workspace.slug },
    });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.stdout.resume();
    // Exit 4 is what the server refused as invalid or a precondition; 2 is not allowed.
    child.on("close", (code) =>
      resolve(
        code === 0
          ? { ok: true, code: "OK", message: "" }
          : { ok: false, code: code === 2 ? "FORBIDDEN" : code === 4 ? "PRECONDITION_FAILED" : `exit ${code}`, message: err },
      ),
    );
  });
}

async function attempt(p: Path, action: Action, state: State): Promise<Outcome> {
  const x = STATES[state];
  const name = await prepare(action, x);
  if (p === "trpc") return viaTrpc(action, name, x);
  if (p === "rest-token") return viaRest(action, name, x, { token: opsToken });
  if (p === "rest-session") return viaRest(action, name, x, { session: true });
  return viaCli(action, name, x);
}

/** What the rules say: which version states each action may bring to callers of a production-bound deployment. */
const ALLOWED: Record<Action, State[]> = {
  create: ["held", "approved"],
  canary: ["approved"], // v1 is the primary there: a canary must differ
  shadow: ["held", "approved", "under_review", "never_approved"],
  pin: ["held", "approved"],
  promote: ["approved"],
  rollback: ["held"], // to a version that held production; v2 is where it starts
  follow: ["held", "approved", "under_review", "never_approved", "unloadable"], // follows the holder, whatever x is
};
const ACTIONS: Action[] = ["create", "canary", "shadow", "pin", "promote", "rollback", "follow"];
const SKIP = (a: Action, s: State) =>
  (a === "canary" && s === "held") || (a === "promote" && s === "held") || (a === "rollback" && s === "approved") || (a === "follow" && s !== "held");
const REASON: Record<State, RegExp> = {
  held: /./,
  approved: /./,
  under_review: /under review \(#\d+\)|has not held/,
  never_approved: /not approved for "production"|has not held/,
  unloadable: /onnxruntime could not load it/,
};

describe.each(["trpc", "rest-token", "rest-session"] as const)("via %s", (p) => {
  for (const action of ACTIONS) {
    it(`${action}: allowed exactly for ${ALLOWED[action].join(", ")}; refused otherwise with the reason, nothing written`, async () => {
      for (const state of Object.keys(STATES) as State[]) {
        if (SKIP(action, state)) continue;
        const r = await attempt(p, action, state);
        const want = ALLOWED[action].includes(state);
        expect({ state, ok: r.ok, message: r.message }).toMatchObject({ state, ok: want });
        if (!want) {
          expect(r.code, `${action} ${state}: ${r.message}`).toBe("PRECONDITION_FAILED");
          expect(r.message).toMatch(REASON[state]);
        }
      }
    }, 60_000);
  }
});

describe("via the CLI (a child process against the REST API)", () => {
  it("refuses every traffic action for a never-approved and an unloadable version, and allows an approved one", async () => {
    for (const action of ["create", "canary", "pin", "promote", "rollback"] as const) {
      const refused = await attempt("cli", action, "never_approved");
      expect(refused, `${action}: ${refused.message}`).toMatchObject({ ok: false, code: "PRECONDITION_FAILED" });
      expect(refused.message).toMatch(REASON.never_approved);
    }
    expect(await attempt("cli", "create", "unloadable")).toMatchObject({
      ok: false,
      code: "PRECONDITION_FAILED",
      message: expect.stringMatching(REASON.unloadable) as unknown,
    });
    expect(await attempt("cli", "canary", "approved")).toMatchObject({ ok: true });
    expect(await attempt("cli", "shadow", "never_approved")).toMatchObject({ ok: true });
  }, 90_000);
});

describe("tokens without deployment rights, and deployment keys", () => {
  it("a deployment key and an ml_engineer token cannot change any deployment, on any route", async () => {
    for (const action of ACTIONS) {
      const name = await prepare(action, 2);
      const [method, p, json] = restRequest(action, name, 2);
      expect((await rest(method, p, { json, token: deploymentKey })).status, `${action} with a deployment key`).toBe(401);
      expect((await rest(method, p, { json, token: mlToken })).status, `${action} with an ml_engineer token`).toBe(403);
    }
    expect((await viaCli("canary", await prepare("canary", 2), 2, mlToken)).code).toBe("FORBIDDEN");
  }, 60_000);
});

describe("nothing half-written", () => {
  it("a refused change leaves the deployment's revision, versions and rollouts as they were", async () => {
    const name = await prepare("canary", 4);
    const before = await callerFor(ws.owner).deployments.get({ workspaceId: ws.workspace.id, name });
    const r = await viaTrpc("canary", name, 4);
    expect(r.ok).toBe(false);
    const after = await callerFor(ws.owner).deployments.get({ workspaceId: ws.workspace.id, name });
    expect({ revision: after.revision, canary: after.canary, rollouts: after.rollouts.length, events: after.events.length }).toEqual({
      revision: before.revision,
      canary: null,
      rollouts: before.rollouts.length,
      events: before.events.length,
    });
  });
});

/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument -- JSON answers read as documents */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { and, eq, inArray, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "~/bin/lib/embedded-pg";
import { getDb } from "~/db/client";
import { alertIncidents, apiTokens, predictionFeedback, predictionLogs } from "~/db/schema";
import { DEFAULT_DEPLOYMENT_SETTINGS } from "~/db/schema/serving";
import { createWorkspace } from "~/db/seed/factories";
import { logisticRegressionOnnx } from "~/db/seed/onnx-builder";
import { setAlias, uploadModelVersion } from "~/server/registry/models.service";
import * as deployments from "~/server/serving/deployments.service";
import { getRollout } from "~/server/serving/rollouts.service";
import { createToken, revokeToken } from "~/server/tokens/tokens.service";
import { auditFor } from "~/test/helpers";

/*
 * The inference process for real: a child process on its own port, reloading on NOTIFY,
 * answering over HTTP, logging to Postgres.
 */
const root = path.resolve(import.meta.dirname, "../..");
let child: ChildProcess;
let base: string;
let out = "";
const METRICS_TOKEN = "test-metrics-token-0123456789";

beforeAll(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  child = spawn(process.execPath, ["--import", "tsx", "--import", "./bin/hooks/register.js", "workers/inference/index.ts"], {
    cwd: root,
    env: { ...process.env, INFERENCE_PORT: String(port), INFERENCE_THREADS: "2", INFERENCE_METRICS_TOKEN: METRICS_TOKEN, NODE_ENV: "production" },
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

/**
 * Polls until `read` gives a value. By default no deadline of its own: a rollout on a busy
 * machine takes as long as it takes, and the test's timeout (below) bounds the wait. A
 * `withinMs` is an assertion of its own (revocation bites within moments).
 */
async function until<T>(what: string, read: () => Promise<T | null | undefined | false>, withinMs?: number): Promise<T> {
  const deadline = withinMs === undefined ? Infinity : Date.now() + withinMs;
  for (;;) {
    const v = await read().catch((err: unknown) => {
      throw new Error(`${String(err)} (waiting for ${what})\n${out.slice(-2000)}`);
    });
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`${what} took longer than ${withinMs} ms\n${out.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function untilRollout(actor: Parameters<typeof getRollout>[0], name: string, id: string, status: "live" | "failed") {
  return until(`rollout ${id} of ${name} to be ${status}`, async () => {
    const r = await getRollout(actor, { name, rollout: id });
    if (r.status !== "pending" && r.status !== status) throw new Error(`rollout ${id} is ${r.status}: ${r.message}`);
    return r.status === status ? r : null;
  });
}

const FEATURES = ["age", "income_k", "debt_ratio"];
async function setup() {
  const ws = await createWorkspace();
  const push = (w: number[], bias: number) =>
    uploadModelVersion(
      ws.owner.wsActor,
      { name: "risk", filename: "risk.onnx" },
      Readable.from([Buffer.from(logisticRegressionOnnx({ weights: w, bias, featureNames: FEATURES }))]),
    );
  await push([0.01, -0.01, 2], -1); // v1
  await push([0.02, -0.02, 3], -1.5); // v2
  await push([0, 0, 0], 5); // v3: always ~1
  const { token } = await createToken(ws.owner.wsActor, { workspaceId: ws.workspace.id, name: "serve", role: "ml_engineer" });
  return { ...ws, token };
}

async function predict(token: string, name: string, body: unknown) {
  const res = await fetch(`${base}/v1/deployments/${name}/predict`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

const waitServing = (token: string, name: string, version: number) =>
  until(`${name} to serve v${version}`, async () => {
    const r = await predict(token, name, { instances: [{ age: 40, income_k: 50, debt_ratio: 0.3 }] });
    return r.status === 200 && r.body.version === version ? r : null;
  });

// Each test waits for rollouts on a real replica; on a busy CI machine that can take a while.
describe("inference server", { timeout: 120_000 }, () => {
  it("serves a deployment: instances and named tensors, outputs by name, version and request id; logs every prediction", async () => {
    const s = await setup();
    await deployments.createDeployment(s.owner.wsActor, { name: "risk-prod", environment: "prod", model: "risk", alias: "serving-test", version: 1 });
    const first = await waitServing(s.token, "risk-prod", 1);
    expect(first.body).toMatchObject({ deployment: "risk-prod", model: "risk", version: 1, role: "primary", requestId: expect.any(String) });
    expect(first.body.outputs.probability[0][0]).toBeGreaterThan(0);
    expect(first.body.outputs.label[0]).toEqual([expect.any(Number)]);
    const tensors = await predict(s.token, "risk-prod", {
      inputs: {
        features: [
          [40, 50, 0.3],
          [25, 20, 0.9],
        ],
      },
    });
    expect(tensors.status).toBe(200);
    expect(tensors.body.outputs.probability).toHaveLength(2);
    expect(tensors.body.outputs.probability[0][0]).toBeCloseTo(first.body.outputs.probability[0][0], 6);
    const logged = await until("the prediction log", async () => {
      const rows = await getDb()
        .select()
        .from(predictionLogs)
        .where(eq(predictionLogs.requestId, tensors.body.requestId as string));
      return rows[0];
    });
    expect(logged).toMatchObject({ role: "primary", status: "ok", rows: 2, outputs: tensors.body.outputs });
    const metrics = await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
    expect(metrics).toMatch(/steward_predict_requests_total\{deployment="risk-prod",version="1",role="primary",status="ok"\} \d+/);
    expect(metrics).toContain("steward_prediction_log_dropped_total 0");
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });

  it("refuses bad input with 400 naming the input and what was expected, and stays up", async () => {
    const s = await setup();
    await deployments.createDeployment(s.owner.wsActor, { name: "risk-val", environment: "prod", model: "risk", alias: "serving-test", version: 1 });
    await waitServing(s.token, "risk-val", 1);
    const cases: [unknown, RegExp][] = [
      [{ inputs: {} }, /Missing input "features"/],
      [{ inputs: { features: [[1, 2, 3]], extra: [1] } }, /Unknown input "extra"/],
      [{ inputs: { features: [[1, 2]] } }, /has 2 at dimension 1; expected 3/],
      [{ inputs: { features: [1, 2, 3] } }, /rank 1 .*expected rank 2/],
      [{ inputs: { features: [[1, "x", 3]] } }, /element 1 is "x"; expected a number or one of "NaN", "Infinity", "-Infinity" \(float\)/],
      [
        {
          inputs: {
            features: [
              [1, 2, 3],
              [4, 5],
            ],
          },
        },
        /ragged/,
      ],
      ['{"inputs":{"features":[[1,2,1e999]]}}', /expected a finite number/],
      [{ instances: [{ age: 1, income_k: 2 }] }, /instances\[0\] has no "debt_ratio"/],
      [{ instances: [{ age: 1, income_k: 2, debt_ratio: 3, name: "x" }] }, /unknown column "name"/],
      [{ rows: [] }, /Unknown field "rows"/],
      ["not json", /not valid JSON/],
    ];
    for (const [body, message] of cases) {
      const r = await predict(s.token, "risk-val", body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.message).toMatch(message);
    }
    const big = await fetch(`${base}/v1/deployments/risk-val/predict`, {
      method: "POST",
      headers: { authorization: `Bearer ${s.token}` },
      body: "x".repeat(17 * 1024 * 1024),
    });
    expect(big.status).toBe(413);
    expect((await predict(s.token, "risk-val", { instances: [{ age: 1, income_k: 2, debt_ratio: 0.5 }] })).status).toBe(200);
  });

  it("splits traffic to a canary within tolerance, copies it to a shadow whose outputs are logged but never returned, and rolls back", async () => {
    const s = await setup();
    // Automatic canary analysis off: on a loaded machine it could judge the canary slower and drop it mid-count.
    await deployments.createDeployment(s.owner.wsActor, {
      name: "risk-split",
      environment: "prod",
      model: "risk",
      alias: "serving-test",
      version: 1,
      settings: { canaryAnalysis: { ...DEFAULT_DEPLOYMENT_SETTINGS.canaryAnalysis, enabled: false } },
    });
    const split = await deployments.setTraffic(s.owner.wsActor, { name: "risk-split", canaryVersion: 2, canaryPercent: 20, shadowVersion: 3 });
    // Counted only once every replica serves the split (the rollout is live), not on the first canary answer.
    await untilRollout(s.owner.wsActor, "risk-split", split.rolloutId, "live");
    const counts = { 1: 0, 2: 0, 3: 0 } as Record<number, number>;
    const ids: string[] = [];
    for (let i = 0; i < 1000; i += 50) {
      const rs = await Promise.all(
        Array.from({ length: 50 }, () => predict(s.token, "risk-split", { instances: [{ age: 30, income_k: 40, debt_ratio: 0.2 }] })),
      );
      for (const r of rs) {
        expect(r.status).toBe(200);
        counts[r.body.version as number]!++;
        ids.push(r.body.requestId as string);
        // v3 answers ~1.0; it is a shadow and must never be what a client sees.
        expect(r.body.outputs.probability[0][0]).toBeLessThan(0.99);
      }
    }
    expect(counts[3]).toBe(0);
    // 20% of 1000: binomial sd ≈ 12.6; ±4 sd.
    expect(counts[2]).toBeGreaterThan(150);
    expect(counts[2]).toBeLessThan(250);
    const shadowLogged = await until("shadow logs", async () => {
      const [r] = await getDb()
        .select({ n: sql<number>`count(*)::int` })
        .from(predictionLogs)
        .where(and(eq(predictionLogs.role, "shadow"), inArray(predictionLogs.requestId, ids)));
      return r!.n >= 1000 ? r!.n : null;
    });
    expect(shadowLogged).toBe(1000);

    const t0 = Date.now();
    await deployments.promoteCanary(s.owner.wsActor, { name: "risk-split" });
    await waitServing(s.token, "risk-split", 2);
    await deployments.rollback(s.owner.wsActor, { name: "risk-split", reason: "canary regression in the test" });
    await waitServing(s.token, "risk-split", 1);
    expect(Date.now() - t0).toBeLessThan(5_000);
    const events = await auditFor(s.workspace.id);
    expect(events.map((e) => e.action)).toEqual(
      expect.arrayContaining(["deployment.deployed", "deployment.traffic_changed", "deployment.canary_promoted", "deployment.rolled_back"]),
    );
  });

  it("swaps versions under continuous load with no failed request; moving the followed alias rolls out", async () => {
    const s = await setup();
    const { seedAlias: setAlias } = await import("~/server/registry/models.service");
    await setAlias(s.owner.wsActor, { workspaceId: s.workspace.id, name: "risk", alias: "production", version: 1 });
    await deployments.createDeployment(s.owner.wsActor, { name: "risk-live", environment: "prod", model: "risk" });
    await waitServing(s.token, "risk-live", 1);
    let stop = false;
    const seen = new Set<number>();
    const failures: string[] = [];
    const load = Promise.all(
      Array.from({ length: 8 }, async () => {
        while (!stop) {
          const r = await predict(s.token, "risk-live", { instances: [{ age: 30, income_k: 40, debt_ratio: 0.2 }] });
          if (r.status !== 200) failures.push(JSON.stringify(r.body));
          else seen.add(r.body.version as number);
        }
      }),
    );
    const moved = await setAlias(s.owner.wsActor, { workspaceId: s.workspace.id, name: "risk", alias: "production", version: 2 });
    // The alias move answers with the rollout it started; once that is live, every answer is v2.
    expect(moved.rollouts).toHaveLength(1);
    const live2 = await untilRollout(s.owner.wsActor, "risk-live", moved.rollouts[0]!.rolloutId, "live");
    expect(live2.primary).toBe(2);
    expect(live2.replicas.length).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < 20; i++)
      expect((await predict(s.token, "risk-live", { instances: [{ age: 30, income_k: 40, debt_ratio: 0.2 }] })).body.version).toBe(2);
    const moved3 = await setAlias(s.owner.wsActor, { workspaceId: s.workspace.id, name: "risk", alias: "production", version: 3 });
    await untilRollout(s.owner.wsActor, "risk-live", moved3.rollouts[0]!.rolloutId, "live");
    for (let i = 0; i < 20; i++)
      expect((await predict(s.token, "risk-live", { instances: [{ age: 30, income_k: 40, debt_ratio: 0.2 }] })).body.version).toBe(3);
    stop = true;
    await load;
    expect(failures).toEqual([]);
    expect(seen.has(2) && seen.has(3)).toBe(true);
    const d = await deployments.getDeployment(s.owner.wsActor, "risk-live");
    expect(
      d.events
        .filter((e) => !e.kind.startsWith("rollout_"))
        .map((e) => e.kind)
        .slice(0, 3),
    ).toEqual(["alias_followed", "alias_followed", "deployed"]);
    // The page shows what each replica serves.
    expect(d.replicas.find((r) => r.live)).toMatchObject({ primary: 3, revision: d.revision });
  });

  it("fails a rollout whose artifact fails its sha256 check on the replica: the old version keeps serving, and the page, API, alert and audit trail say so", async () => {
    const s = await setup();
    // A model of its own: the test corrupts its blob, which no other test shares.
    const w = [Math.random(), -Math.random(), 1];
    const bad = await uploadModelVersion(
      s.owner.wsActor,
      { name: "risk", filename: "risk-bad.onnx" },
      Readable.from([Buffer.from(logisticRegressionOnnx({ weights: w, bias: 0.5, featureNames: FEATURES }))]),
    );
    await deployments.createDeployment(s.owner.wsActor, { name: "risk-fail", environment: "prod", model: "risk", alias: "serving-test", version: 1 });
    await waitServing(s.token, "risk-fail", 1);
    const blob = path.join(process.env.ARTIFACT_DIR!, "sha256", bad.sha256.slice(0, 2), bad.sha256);
    fs.chmodSync(blob, 0o644);
    fs.writeFileSync(blob, Buffer.from(logisticRegressionOnnx({ weights: [9, 9, 9], bias: 9, featureNames: FEATURES })));
    const change = await deployments.setFollow(s.owner.wsActor, { name: "risk-fail", follow: false, version: bad.version });
    const failed = await untilRollout(s.owner.wsActor, "risk-fail", change.rolloutId, "failed");
    expect(failed.message).toMatch(new RegExp(`rollout of v${bad.version} failed: v${bad.version}'s artifact failed its sha256 check`));
    expect(failed.failedReplica).toMatch(/:\d+$/);
    // Reverted: the deployment says v1 again, and v1 is what answers.
    const d = await deployments.getDeployment(s.owner.wsActor, "risk-fail");
    expect(d.primary).toBe(1);
    expect(d.events.map((e) => e.kind)).toEqual(expect.arrayContaining(["rollout_failed", "rollout_reverted"]));
    expect(d.events.find((e) => e.kind === "rollout_failed")!.summary).toMatch(
      new RegExp(`Rollout of v${bad.version} failed on .*sha256 check.*v1 keeps serving`),
    );
    expect(d.rollouts.find((r) => r.id === change.rolloutId)).toMatchObject({ status: "failed" });
    for (let i = 0; i < 10; i++)
      expect((await predict(s.token, "risk-fail", { instances: [{ age: 30, income_k: 40, debt_ratio: 0.2 }] })).body.version).toBe(1);
    const events = await auditFor(s.workspace.id);
    expect(events.find((e) => e.action === "deployment.rollout_failed")?.metadata).toMatchObject({ name: "risk-fail", primary: bad.version });
    expect(events.some((e) => e.action === "alert.fired")).toBe(true);
    const [incident] = await getDb().select().from(alertIncidents).where(eq(alertIncidents.deploymentId, d.id));
    expect(incident).toMatchObject({ status: "firing" });
    expect(incident!.message).toMatch(/rollout of .* failed/);

    // The same broken version reached through an alias move: a deployment that follows the alias
    // reverts and is pinned to what it serves, never claiming to follow an alias it does not serve.
    await setAlias(s.owner.wsActor, { workspaceId: s.workspace.id, name: "risk", alias: "follow-test", version: 1 });
    await deployments.createDeployment(s.owner.wsActor, { name: "risk-follows", environment: "prod", model: "risk", alias: "follow-test" });
    await waitServing(s.token, "risk-follows", 1);
    const moved = await setAlias(s.owner.wsActor, { workspaceId: s.workspace.id, name: "risk", alias: "follow-test", version: bad.version });
    expect(moved.rollouts).toHaveLength(1);
    await untilRollout(s.owner.wsActor, "risk-follows", moved.rollouts[0]!.rolloutId, "failed");
    const f = await deployments.getDeployment(s.owner.wsActor, "risk-follows");
    expect(f).toMatchObject({ primary: 1, following: false, followAlias: null });
    expect(f.events.find((e) => e.kind === "rollout_reverted")!.summary).toMatch(
      new RegExp(
        `Pinned to what it serves: follow-test holds v${bad.version}, which failed to roll out here; follow follow-test again once v${bad.version} can be served`,
      ),
    );
    expect((await predict(s.token, "risk-follows", { instances: [{ age: 30, income_k: 40, debt_ratio: 0.2 }] })).body.version).toBe(1);
    const reverted = (await auditFor(s.workspace.id)).filter((e) => e.action === "deployment.rollout_reverted" && e.metadata?.name === "risk-follows");
    expect(reverted.map((e) => e.metadata)).toEqual([expect.objectContaining({ following: false, primary: 1 })]);
  });

  it("authorises by deployment key (for its deployment only) or a workspace token; ground truth is accepted by request id", async () => {
    const s = await setup();
    await deployments.createDeployment(s.owner.wsActor, { name: "risk-a", environment: "prod", model: "risk", alias: "serving-test", version: 1 });
    await deployments.createDeployment(s.owner.wsActor, { name: "risk-b", environment: "prod", model: "risk", alias: "serving-test", version: 1 });
    const { key, id } = await deployments.createKey(s.owner.wsActor, { name: "risk-a", keyName: "app" });
    const ok = await waitServing(key, "risk-a", 1);
    expect((await predict(key, "risk-b", { instances: [{ age: 1, income_k: 1, debt_ratio: 1 }] })).status).toBe(403);
    expect((await predict("stwd_nope", "risk-a", {})).status).toBe(401);
    const other = await createWorkspace();
    const { token: otherToken } = await createToken(other.owner.wsActor, { workspaceId: other.workspace.id, name: "x", role: "owner" });
    expect((await predict(otherToken, "risk-a", {})).status).toBe(404);
    const { token: viewer } = await createToken(s.owner.wsActor, { workspaceId: s.workspace.id, name: "v", role: "viewer" });
    expect((await predict(viewer, "risk-a", {})).status).toBe(403);
    const fb = await fetch(`${base}/v1/deployments/risk-a/feedback`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}` },
      body: JSON.stringify({ requestId: ok.body.requestId, label: 1 }),
    });
    expect(fb.status).toBe(202);
    // A correction: the later label replaces the earlier one, and is counted.
    const fix = await fetch(`${base}/v1/deployments/risk-a/feedback`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}` },
      body: JSON.stringify({ requestId: ok.body.requestId, label: 0 }),
    });
    expect(await fix.json()).toEqual({ accepted: 1, corrected: 1 });
    const [label] = await getDb()
      .select()
      .from(predictionFeedback)
      .where(eq(predictionFeedback.requestId, ok.body.requestId as string));
    expect(label).toMatchObject({ label: 0, corrections: 1 });
    // Credentials are cached by the server; a revocation empties the cache through NOTIFY,
    // so it bites within moments, not when an entry would expire (30 s).
    const body = { instances: [{ age: 1, income_k: 1, debt_ratio: 1 }] };
    expect((await predict(s.token, "risk-a", body)).status).toBe(200);
    await deployments.revokeKey(s.owner.wsActor, id);
    await until("the revoked key to be refused", async () => (await predict(key, "risk-a", body)).status === 401, 2000);
    const tokenRow = await getDb().select({ id: apiTokens.id }).from(apiTokens).where(eq(apiTokens.workspaceId, s.workspace.id));
    for (const t of tokenRow) await revokeToken(s.owner.wsActor, t.id).catch(() => undefined);
    await until("the revoked token to be refused", async () => (await predict(s.token, "risk-a", body)).status === 401, 2000);
  });
});

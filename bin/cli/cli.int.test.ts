import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWorkspace } from "~/db/seed/factories";
import { logisticRegressionOnnx } from "~/db/seed/onnx-builder";
import { createToken } from "~/server/tokens/tokens.service";
import { restServer, runCli } from "~/test/cli";

/** The REST API on a real HTTP port (without the web UI), and the CLI as a child process. */
let server: Awaited<ReturnType<typeof restServer>>;
let url: string;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "steward-cli-"));
const run = (args: string[], env: Record<string, string> = {}) => runCli(dir, args, env);

beforeAll(async () => {
  server = await restServer();
  url = server.url;
  fs.writeFileSync(path.join(dir, "train.csv"), "x,y\n1,0\n2,1\n3,0\n");
  fs.writeFileSync(path.join(dir, "model.onnx"), logisticRegressionOnnx({ weights: [0.5], bias: 0 }));
  fs.writeFileSync(path.join(dir, "broken.onnx"), "definitely not onnx");
});
afterAll(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("steward CLI", () => {
  it("logs in with a token, pushes a dataset and a model with lineage, lists and gets them", async () => {
    const { workspace, members } = await createWorkspace({ members: [{ role: "ml_engineer" }] });
    const { token } = await createToken(members[0]!.wsActor, { workspaceId: workspace.id, name: "cli", role: "ml_engineer" });

    const notYet = await run(["models", "list"]);
    expect(notYet.code).toBe(2);
    expect(notYet.stderr).toMatch(/Not logged in/);

    const login = await run(["--json", "login", "--url", url, "--token", token]);
    expect(login.code, login.stderr).toBe(0);
    expect(JSON.parse(login.stdout)).toMatchObject({ workspace: workspace.slug, role: "ml_engineer" });
    expect(fs.statSync(path.join(dir, "config.json")).mode & 0o777).toBe(0o600);

    const ds = await run(["--json", "datasets", "push", "train.csv", "--name", "train"]);
    expect(ds.code, ds.stderr).toBe(0);
    expect(JSON.parse(ds.stdout)).toMatchObject({ name: "train", version: 1, created: true, rows: 3 });

    const m = await run([
      "models",
      "push",
      "model.onnx",
      "--name",
      "risk",
      "--metric",
      "auc=0.91",
      "--param",
      "lr=0.01",
      "--dataset",
      "train@1",
      "--commit",
      "abcdef1",
    ]);
    expect(m.code, m.stderr).toBe(0);
    expect(m.stdout).toMatch(/Registered risk@1 .*loads in onnxruntime/);
    expect(m.stderr).toMatch(/uploading model.onnx/);

    const list = await run(["--json", "models", "list"]);
    expect(JSON.parse(list.stdout)).toMatchObject([{ name: "risk", latestVersion: 1 }]);
    const get = await run(["models", "get", "risk@1"]);
    expect(get.code).toBe(0);
    expect(get.stdout).toMatch(/features: float\[batch, 1\]/);
    expect(get.stdout).toMatch(/"auc":0.91/);
    const versions = await run(["models", "versions", "risk", "--filter", "metrics.auc > 0.9 and params.lr = '0.01'"]);
    expect([versions.code, versions.stdout]).toEqual([0, expect.stringMatching(/^v1 +auc=0.91/)]);
    expect((await run(["models", "versions", "risk", "--filter", "metrics.auc > 0.95"])).stdout).toMatch(/No version matches the filter/);
    const bad = await run(["models", "versions", "risk", "--filter", "auc is good"]);
    expect([bad.code, bad.stderr]).toEqual([4, expect.stringMatching(/"auc is good" is not a clause/)]);
  });

  it("exits with codes a CI job can rely on", async () => {
    const { workspace, members } = await createWorkspace({ members: [{ role: "viewer" }] });
    const { token } = await createToken(members[0]!.wsActor, { workspaceId: workspace.id, name: "cli", role: "viewer" });
    const env = { STEWARD_URL: url, STEWARD_TOKEN: token, STEWARD_WORKSPACE: workspace.slug };
    const forbidden = await run(["datasets", "push", "train.csv", "--name", "t"], env);
    expect(forbidden).toMatchObject({ code: 2 });
    expect(forbidden.stderr).toMatch(/model:write/);
    expect((await run(["models", "get", "nope@1"], env)).code).toBe(3);
    expect((await run(["models", "push", "missing.onnx", "--name", "x"], env)).code).toBe(1);
    expect((await run(["models", "push", "model.onnx", "--name", "x", "--metric", "auc=high"], env)).code).toBe(1);
    expect((await run(["models", "list"], { ...env, STEWARD_TOKEN: "stw_bogus" })).code).toBe(2);
    expect((await run(["models", "list"], { ...env, STEWARD_URL: "http://127.0.0.1:9" })).code).toBe(5);
    expect((await run(["models", "frobnicate"], env)).code).toBe(1);

    const { workspace: w2, owner } = await createWorkspace();
    const { token: t2 } = await createToken(owner.wsActor, { workspaceId: w2.id, name: "w", role: "owner" });
    const invalid = await run(["models", "push", "broken.onnx", "--name", "x"], { STEWARD_URL: url, STEWARD_TOKEN: t2, STEWARD_WORKSPACE: w2.slug });
    expect(invalid.code).toBe(4);
    expect(invalid.stderr).toMatch(/not a valid ONNX model|not an ONNX model/);
  });
});

describe("steward reviews", () => {
  it("opens a review for a protected alias and shows what its policy still needs; production cannot be moved around it", async () => {
    const { workspace, members } = await createWorkspace({ members: [{ role: "ml_engineer" }] });
    const { token } = await createToken(members[0]!.wsActor, { workspaceId: workspace.id, name: "cli", role: "ml_engineer" });
    const env = { STEWARD_URL: url, STEWARD_TOKEN: token, STEWARD_WORKSPACE: workspace.slug };
    expect((await run(["models", "push", "model.onnx", "--name", "risk"], env)).code).toBe(0);
    const opened = await run(["reviews", "open", "risk@1", "production", "-m", "First release."], env);
    expect(opened.code, opened.stderr).toBe(0);
    expect(opened.stdout).toMatch(/Opened review #1: risk@1 → production/);
    const shown = await run(["reviews", "show", "1"], env);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain("#1 risk@1 → production: open");
    expect(shown.stdout).toContain("· needs 1 reviewer approval");
    expect(shown.stdout).toContain("· needs 1 compliance officer approval");
    const again = await run(["reviews", "open", "risk@1", "production", "-m", "Again."], env);
    expect(again.code).toBe(4);
    expect(again.stderr).toMatch(/already an open review request/);
    const notProtected = await run(["reviews", "open", "risk@1", "champion", "-m", "x"], env);
    expect(notProtected.stderr).toMatch(/"champion" is not protected by an approval policy/);
  });
});

describe("steward runs wait (model CI)", () => {
  it("waits for the version's validation run, prints its checks, and exits 6 when a required check failed, 0 when all passed", async () => {
    const { savePipeline } = await import("~/server/pipelines/definitions.service");
    const { creditFixture, creditModel, drive, pushModel } = await import("~/test/pipelines");
    const { workspace, owner } = await createWorkspace();
    const { token } = await createToken(owner.wsActor, { workspaceId: workspace.id, name: "ci", role: "ml_engineer" });
    const env = { STEWARD_URL: url, STEWARD_TOKEN: token, STEWARD_WORKSPACE: workspace.slug };
    const { train } = await creditFixture(owner.wsActor, { trainRows: 300, evalRows: 150 });
    await savePipeline(owner.wsActor, {
      name: "validate",
      yaml: "on: { model_version: true }\ninputs: { label: default }\nsteps:\n  integrity: { type: data-integrity }\n  evaluate:\n    type: evaluate\n    needs: [integrity]\n    checks: { roc_auc: { fail_below: 0.5 }, accuracy: { fail_below: 0.99 } }\n",
    });
    const v1 = await pushModel(owner.wsActor, "credit", creditModel(train));
    // The CLI polls over HTTP while this process plays the worker.
    const waiting = run(["runs", "wait", "credit@1", "--interval", "0.2", "--timeout", "120"], env);
    await drive(v1.runs[0]!);
    const failed = await waiting;
    expect(failed.code, failed.stderr).toBe(6);
    expect(failed.stdout).toMatch(/Run #\d+ of validate on credit@1: failed/);
    expect(failed.stdout).toMatch(/✗ evaluate\.accuracy\s+0\.\d+\s+\(fail < 0\.99\)/);
    expect(failed.stdout).toMatch(/✓ evaluate\.roc_auc/);
    expect(failed.stderr).toMatch(/✓ integrity: passed/);

    await savePipeline(owner.wsActor, {
      name: "validate",
      yaml: "on: { model_version: true }\ninputs: { label: default }\nsteps:\n  evaluate:\n    type: evaluate\n    checks: { roc_auc: { fail_below: 0.5 } }\n",
    });
    const v2 = await pushModel(owner.wsActor, "credit", creditModel(train, ["age", "income_k", "debt_ratio"]));
    await drive(v2.runs[0]!);
    const passed = await run(["--json", "runs", "wait", "credit@2"], env);
    expect(passed.code, passed.stderr).toBe(0);
    expect(JSON.parse(passed.stdout)).toMatchObject({ status: expect.stringMatching(/passed|warned/), model: { name: "credit", version: 2 } });

    const missing = await run(["runs", "wait", "credit@9", "--timeout", "1"], env);
    expect(missing.code).toBe(3);
    const usage = await run(["runs", "wait", "credit"], env);
    expect(usage.code).toBe(1);
    expect(usage.stderr).toMatch(/Expected model@version/);
  }, 120_000);
});

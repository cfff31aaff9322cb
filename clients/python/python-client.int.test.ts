import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startProcess, stopProcess, type Proc } from "~/bench/lib/processes";
import { createWorkspace } from "~/db/seed/factories";
import { generateCredit, toCsv } from "~/db/seed/credit-data";
import { logisticRegressionOnnx } from "~/db/seed/onnx-builder";
import { savePipeline } from "~/server/pipelines/definitions.service";
import { setAlias, uploadModelVersion } from "~/server/registry/models.service";
import { createDeployment } from "~/server/serving/deployments.service";
import { createToken } from "~/server/tokens/tokens.service";
import { restServer } from "~/test/cli";
import { creditModel } from "~/test/pipelines";

/*
 * The Python client (clients/python) against a real Steward: the REST API on a port (as the
 * CLI's tests run it), a worker that runs the validation pipeline, and an inference process.
 * The suite itself is plain unittest (clients/python/tests); this file seeds a workspace and
 * runs it with python3.
 */
const root = path.resolve(import.meta.dirname, "../..");
const fixtures = fs.mkdtempSync(path.join(os.tmpdir(), "steward-py-"));
let rest: Awaited<ReturnType<typeof restServer>>;
let url: string;
let procs: Proc[] = [];

beforeAll(async () => {
  [rest, procs] = await Promise.all([restServer(), Promise.all([startProcess("inference"), startProcess("worker")])]);
  url = rest.url;
});
afterAll(async () => {
  await Promise.all(procs.map(stopProcess));
  await rest?.close();
  fs.rmSync(fixtures, { recursive: true, force: true });
});

/** Runs a command from the repository's root with only the environment given (no DATABASE_URL: clients reach Steward over HTTP). */
function run(command: string, args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number; output: string }>((resolve) => {
    const child = spawn(command, args, {
      cwd: root,
      env: {
        NODE_ENV: "test",
        PATH: process.env.PATH,
        HOME: fixtures,
        PYTHONPATH: path.join(root, "clients/python/src"),
        PYTHONDONTWRITEBYTECODE: "1",
        ...env,
      },
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("error", (err) => resolve({ code: -1, output: `cannot run ${command}: ${err.message}` }));
    child.on("close", (code) => resolve({ code: code ?? -1, output }));
  });
}
// STEWARD_DATA_DIR away from the checkout: a developer's running npm start (.steward/runtime.json) is never driven by a test.
const simulate = (args: string[]) =>
  run(process.execPath, ["--import", "tsx", "--import", "./bin/hooks/register.js", "bin/simulate.ts", ...args], { STEWARD_DATA_DIR: fixtures });

/** A workspace with an ML engineer's API token, a validate pipeline, and two deployments on an alias no policy protects. */
async function seed() {
  const { workspace, owner, members } = await createWorkspace({ members: [{ role: "ml_engineer" }] });
  const engineer = members[0]!;
  const { token } = await createToken(engineer.wsActor, { workspaceId: workspace.id, name: "python", role: "ml_engineer" });

  // What a data scientist brings: training and evaluation data, and a model trained on it.
  const train = generateCredit(300, 7);
  fs.writeFileSync(path.join(fixtures, "credit-train.csv"), toCsv(train));
  fs.writeFileSync(path.join(fixtures, "credit-eval.csv"), toCsv(generateCredit(150, 11)));
  fs.writeFileSync(path.join(fixtures, "credit.onnx"), creditModel(train));
  await savePipeline(owner.wsActor, {
    name: "validate",
    yaml: "on: { model_version: true }\ninputs: { label: default }\nsteps:\n  evaluate:\n    type: evaluate\n    checks: { roc_auc: { fail_below: 0.5 } }\n",
  });

  // The Python suite predicts with scorer-live (its weights are WEIGHTS and BIAS in tests/test_client.py, so it checks
  // the arithmetic) and waits for its rollout itself; the simulator drives credit-live, the demo's columns.
  const scorer = Buffer.from(logisticRegressionOnnx({ weights: [0.5, -0.25], bias: 0.1, featureNames: ["a", "b"] }));
  for (const [model, bytes, deployment] of [
    ["scorer", scorer, "scorer-live"],
    ["credit-served", creditModel(train), "credit-live"],
  ] as const) {
    await uploadModelVersion(owner.wsActor, { name: model, filename: `${model}.onnx` }, Readable.from([bytes]));
    await setAlias(owner.wsActor, { workspaceId: workspace.id, name: model, alias: "champion", version: 1 });
    await createDeployment(owner.wsActor, { name: deployment, model, alias: "champion", environment: "production" });
  }
  return { workspace, engineer, token };
}
let seeded: Awaited<ReturnType<typeof seed>>;
beforeAll(async () => {
  seeded = await seed();
});
const inferenceUrl = () => `http://127.0.0.1:${procs.find((p) => p.kind === "inference")!.port}`;

describe("steward-client (Python)", () => {
  it("passes its unittest suite against a running Steward: push, pull, validation, review, deployments, both inference protocols, errors", async () => {
    const { workspace, engineer, token } = seeded;
    const { code, output } = await run("python3", ["-m", "unittest", "discover", "-v", "clients/python/tests"], {
      STEWARD_URL: url,
      STEWARD_TOKEN: token,
      STEWARD_WORKSPACE: workspace.slug,
      STEWARD_INFERENCE_URL: inferenceUrl(),
      STEWARD_TEST_FIXTURES: fixtures,
      STEWARD_TEST_EMAIL: engineer.email,
      STEWARD_TEST_PASSWORD: engineer.password,
    });
    expect(code, output).toBe(0);
    // Every test ran: none skipped for a missing variable.
    expect(output, output).toMatch(/^OK$/m);
    expect(Number(/Ran (\d+) tests?/.exec(output)?.[1])).toBeGreaterThanOrEqual(8);
  }, 300_000);
});

describe("npm run simulate -- --url --token", () => {
  it("drives a deployment of any instance through its API and inference ports, without its database; refuses what cannot work, saying why", async () => {
    const { token, workspace } = seeded;
    const [sim, noUrl, otherWorkspace, bogus, nothing] = await Promise.all([
      simulate(
        ["--url", url, "--token", token, "--inference-url", inferenceUrl(), "--deployment", "credit-live"].concat([
          "--rps",
          "20",
          "--duration",
          "1s",
          "--label-delay",
          "0s",
          "--label-share",
          "1",
          "--drift-after",
          "0s",
        ]),
      ),
      simulate(["--token", token]),
      simulate(["--url", url, "--token", token, "--workspace", "elsewhere", "--deployment", "credit-live"]),
      simulate(["--url", url, "--token", "stw_bogus", "--deployment", "credit-live"]),
      simulate([]),
    ]);
    expect(sim.code, sim.output).toBe(0);
    expect(sim.output).toContain(`Driving credit-live (credit-served v1) in workspace ${workspace.slug} of ${url}`);
    // The final line (a progress line may come before it on a slow machine).
    const final = [...sim.output.matchAll(/(\d+) sent, (\d+) ok, 0 failed .* (\d+) labels posted/g)].at(-1) ?? [];
    const [, sent, ok, labels] = final;
    expect(Number(sent), sim.output).toBeGreaterThanOrEqual(10);
    expect(ok).toBe(sent);
    expect(Number(labels), sim.output).toBeGreaterThan(0);

    expect(noUrl.code).toBe(1);
    expect(noUrl.output).toContain("--token needs --url");
    expect(otherWorkspace.code).toBe(2);
    expect(otherWorkspace.output).toContain(`The token works in workspace "${workspace.slug}", not "elsewhere"`);
    expect(bogus.code, bogus.output).toBe(2);
    // No token, no local npm start, no database: where to point it.
    expect(nothing.code, nothing.output).toBe(2);
    expect(nothing.output).toContain("--url <steward address> --token <API token>");
  }, 120_000);
});

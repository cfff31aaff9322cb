import fs from "node:fs";
import { Readable } from "node:stream";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "~/db/client";
import { checks, modelVersions, runArtifacts } from "~/db/schema";
import { generateCredit } from "~/db/seed/credit-data";
import { createWorkspace } from "~/db/seed/factories";
import { logisticRegressionOnnx } from "~/db/seed/onnx-builder";
import { uploadDatasetVersion } from "~/server/registry/datasets.service";
import { callerFor, expectAudit, expectTrpcError } from "~/test/helpers";
import { creditFixture, creditModel, drive, pushModel } from "~/test/pipelines";
import { savePipeline } from "./definitions.service";
import { startManualRun } from "./runs.service";

async function setup(role: "admin" | "owner" = "owner") {
  const ws = await createWorkspace({ members: [{ role: "admin" }] });
  const actor = role === "admin" ? ws.members[0]!.wsActor : ws.owner.wsActor;
  const fx = await creditFixture(actor, { trainRows: 400, evalRows: 200 });
  return { ...ws, actor, ...fx };
}

const runOf = async (ws: Awaited<ReturnType<typeof setup>>, runId: string) => callerFor(ws.owner).runs.get({ workspaceId: ws.workspace.id, runId });

describe("failures are clear and contained", () => {
  it("a model that fails inside onnxruntime fails its step with the runtime's reason; the run and other steps go on", async () => {
    const ws = await setup();
    // Declares a symbolic feature width, holds 3 weights, but names 5 features: MatMul fails at run time.
    const bad = logisticRegressionOnnx({
      weights: [0.1, 0.2, 0.3],
      bias: 0,
      featureNames: ["age", "income_k", "debt_ratio", "history_years", "late_payments"],
      dynamicFeatures: true,
    });
    await savePipeline(ws.actor, {
      name: "validate",
      yaml: "on: { model_version: true }\ninputs: { label: default }\nsteps:\n  evaluate: { type: evaluate }\n  integrity: { type: data-integrity }\n",
    });
    const v = await pushModel(ws.actor, "broken", bad);
    const done = await drive(v.runs[0]!);
    const run = await runOf(ws, done.id);
    expect(run.status).toBe("failed");
    const ev = run.steps.find((s) => s.key === "evaluate")!;
    expect(ev.status).toBe("failed");
    expect(ev.reason).toMatch(/The model failed in onnxruntime: .*(MatMul|dimension|shape)/i);
    expect(run.steps.find((s) => s.key === "integrity")!.status).toBe("passed");
  }, 60_000);

  it("a dataset with the wrong columns fails data-integrity, naming every mismatch; what needs it is skipped", async () => {
    const ws = await setup();
    const rows = generateCredit(50, 3).map(({ late_payments: _drop, ...r }) => ({ ...r, income_k: String(r.income_k) + "k" }));
    const csv = `${Object.keys(rows[0]!).join(",")}\n${rows.map((r) => Object.values(r).join(",")).join("\n")}\n`;
    await uploadDatasetVersion(ws.actor, { name: "odd", filename: "odd.csv" }, Readable.from([csv]));
    await savePipeline(ws.actor, {
      name: "validate",
      yaml: "on: { model_version: true }\ninputs: { dataset: odd, label: default }\nsteps:\n  integrity: { type: data-integrity }\n  evaluate: { type: evaluate, needs: [integrity] }\n",
    });
    const v = await pushModel(ws.actor, "credit", creditModel(ws.train));
    const run = await runOf(ws, (await drive(v.runs[0]!)).id);
    const integ = run.steps.find((s) => s.key === "integrity")!;
    expect(integ.status).toBe("failed");
    const mismatches = (integ.outputs as { mismatches: { column: string; problem: string }[] }).mismatches;
    expect(mismatches[0]!.problem).toMatch(/no column "late_payments"/);
    expect(run.checks.find((c) => c.name === "integrity.schema_mismatches")).toMatchObject({ status: "fail", value: 1 });
    expect(run.steps.find((s) => s.key === "evaluate")).toMatchObject({ status: "skipped", reason: "Not run: it needs integrity, which failed." });
  }, 60_000);

  it("a version without an eval dataset fails with what to do about it", async () => {
    const ws = await setup();
    await savePipeline(ws.actor, { name: "validate", yaml: "on: { model_version: true }\nsteps:\n  evaluate: { type: evaluate }\n" });
    const v = await pushModel(ws.actor, "credit", creditModel(ws.train), { datasets: [] });
    const run = await runOf(ws, (await drive(v.runs[0]!)).id);
    expect(run.steps[0]!.reason).toMatch(/has no evaluation dataset in its lineage\. Register it with datasets/);
  });
});

describe("command steps", () => {
  it("runs in its own folder with its environment; output files become artifacts and an ONNX file a new version with lineage to the run", async () => {
    const ws = await setup("admin");
    // The sandbox sees none of the worker's files: the new model's bytes come in the step's env.
    const model = Buffer.from(creditModel(ws.train)).toString("base64");
    const yaml = `steps:
  train:
    type: command
    env: { GREETING: hello, MODEL_B64: "${model}" }
    run: |
      echo "$GREETING from $(pwd)"
      echo "on $STEWARD_MODEL@$STEWARD_MODEL_VERSION" >&2
      test -s "$STEWARD_MODEL_FILE" && echo "model input readable"
      echo "dataset $STEWARD_DATASET $(wc -l < "$STEWARD_DATASET_FILE")"
      printf %s "$MODEL_B64" | base64 -d > "$STEWARD_OUTPUT_DIR/retrained.onnx"
      echo '{"auc": 0.91}' > "$STEWARD_OUTPUT_DIR/metrics.json"
      mkdir -p "$STEWARD_OUTPUT_DIR/plots" && echo x > "$STEWARD_OUTPUT_DIR/plots/a.txt"
    with: { dataset: credit-eval }
    checks:
      auc: { fail_below: 0.8 }
`;
    await savePipeline(ws.actor, { name: "retrain", yaml });
    const v1 = await pushModel(ws.actor, "credit", creditModel(ws.train, ["age", "income_k", "debt_ratio"]));
    const started = await startManualRun(ws.actor, { pipeline: "retrain", model: "credit", version: v1.version });
    const run = await runOf(ws, (await drive(started.id)).id);
    expect(run.status).toBe("passed");
    const step = run.steps[0]!;
    const logs = await callerFor(ws.owner).runs.logs({ workspaceId: ws.workspace.id, stepRunId: step.id });
    expect(logs.map((l) => [l.stream, l.line])).toEqual(
      expect.arrayContaining([
        ["stdout", "hello from /steward/work"],
        ["stderr", "on credit@1"],
        ["stdout", "model input readable"],
        ["stdout", "dataset credit-eval@1 201"],
      ]),
    );
    expect(run.artifacts.map((a) => a.path)).toEqual(["metrics.json", "plots/a.txt", "retrained.onnx"]);
    expect(run.artifacts.find((a) => a.path === "retrained.onnx")).toMatchObject({ model: "credit", version: 2 });
    expect(run.checks.map((c) => [c.name, c.status, c.value])).toEqual([
      ["train.auc", "pass", 0.91],
      ["train.exit_code", "pass", 0],
    ]);
    const [v2] = await getDb().select().from(modelVersions).where(eq(modelVersions.sourceRunId, run.id));
    expect(v2).toMatchObject({ version: 2, parentVersionId: expect.any(String), metrics: { auc: 0.91 } });
    await expectAudit(ws.workspace.id, { action: "model.version_registered", targetId: v2!.id });
    expect((await getDb().select().from(runArtifacts).where(eq(runArtifacts.runId, run.id))).length).toBe(3);
  }, 60_000);

  it("a command past its timeout is stopped with its whole process group; a failing one fails with its exit code", async () => {
    const ws = await setup("admin");
    await savePipeline(ws.actor, {
      name: "slow",
      yaml: "steps:\n  slow:\n    type: command\n    timeout: 1\n    run: 'sleep 60 & echo \"uid $(id -u)\"; sleep 60'\n  bad:\n    type: command\n    run: 'echo oops >&2; exit 3'\n",
    });
    const started = await startManualRun(ws.actor, { pipeline: "slow" });
    const run = await runOf(ws, (await drive(started.id)).id);
    const slow = run.steps.find((s) => s.key === "slow")!;
    expect(slow).toMatchObject({ status: "failed", reason: "The command ran longer than its timeout of 1 s and was stopped." });
    const logs = await callerFor(ws.owner).runs.logs({ workspaceId: ws.workspace.id, stepRunId: slow.id });
    // The step ran under its own uid (pids inside are its namespace's): nothing of that uid is left sleeping.
    // (A worker that is not root runs steps as itself; then there is no uid of the step's own to look for.)
    const uid = Number(/uid (\d+)/.exec(logs.map((l) => l.line).join("\n"))![1]);
    const left =
      uid === process.getuid?.()
        ? []
        : fs
            .readdirSync("/proc")
            .filter((p) => /^\d+$/.test(p))
            .flatMap((p) => {
              try {
                const status = fs.readFileSync(`/proc/${p}/status`, "utf8");
                return new RegExp(`^Uid:\\s+${uid}\\s`, "m").test(status) && !/^State:\s+Z/m.test(status) ? [p] : [];
              } catch {
                return [];
              }
            });
    expect(left).toEqual([]);
    expect(run.steps.find((s) => s.key === "bad")).toMatchObject({ status: "failed", reason: "The command exited with code 3." });
    const rows = await getDb().select().from(checks).where(eq(checks.runId, run.id));
    expect(rows.find((c) => c.name === "bad.exit_code")).toMatchObject({ status: "fail", value: 3 });
  }, 60_000);
});

describe("cancel and re-run", () => {
  it("cancelling stops queued steps at once and the run closes as cancelled; a re-run starts the same pipeline version again", async () => {
    const ws = await setup();
    await savePipeline(ws.actor, {
      name: "validate",
      yaml: "on: { model_version: true }\ninputs: { label: default }\nsteps:\n  integrity: { type: data-integrity }\n  evaluate: { type: evaluate, needs: [integrity] }\n",
    });
    const v = await pushModel(ws.actor, "credit", creditModel(ws.train));
    const caller = callerFor(ws.owner);
    await caller.runs.cancel({ workspaceId: ws.workspace.id, runId: v.runs[0]! });
    const run = await runOf(ws, v.runs[0]!);
    expect(run.status).toBe("cancelled");
    expect(run.steps.map((s) => s.status)).toEqual(["cancelled", "cancelled"]);
    await expectTrpcError(caller.runs.cancel({ workspaceId: ws.workspace.id, runId: v.runs[0]! }), "PRECONDITION_FAILED", /already been cancelled/);
    const again = await caller.runs.rerun({ workspaceId: ws.workspace.id, runId: v.runs[0]! });
    const done = await runOf(ws, (await drive(again.id)).id);
    expect(done).toMatchObject({
      status: expect.stringMatching(/passed|warned/),
      trigger: "rerun",
      triggerRef: `#${run.number}`,
      model: { name: "credit", version: 1 },
    });
  }, 60_000);

  it("only members who may run pipelines start, cancel or re-run them", async () => {
    const ws = await createWorkspace({ members: [{ role: "viewer" }] });
    const viewer = callerFor(ws.members[0]!);
    await expectTrpcError(viewer.pipelines.start({ workspaceId: ws.workspace.id, pipeline: "validate" }), "FORBIDDEN");
    const other = await createWorkspace();
    await expectTrpcError(callerFor(other.owner).runs.get({ workspaceId: other.workspace.id, runId: "00000000-0000-4000-8000-000000000000" }), "NOT_FOUND");
  });
});

/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument -- step outputs are JSON documents */
import { eq } from "drizzle-orm";
import { seedAlias } from "~/server/registry/models.service";
import { describe, expect, it } from "vitest";
import { getDb } from "~/db/client";
import { checks, pipelineRuns } from "~/db/schema";
import { createWorkspace } from "~/db/seed/factories";
import { callerFor, expectAudit, expectTrpcError } from "~/test/helpers";
import { creditFixture, creditModel, drive, pushModel } from "~/test/pipelines";
import { savePipeline } from "./definitions.service";

const CREDIT_VALIDATE = `on:
  model_version: true
inputs:
  dataset: eval
  label: default
  sensitive: gender
  slices: [region]
steps:
  integrity:
    type: data-integrity
  evaluate:
    type: evaluate
    needs: [integrity]
  fairness:
    type: fairness
    needs: [integrity]
  robustness:
    type: robustness
    needs: [integrity]
  performance:
    type: performance
    with: { iterations: 50 }
  explain:
    type: explain
    needs: [integrity]
    required: false
  champion:
    type: compare-to-champion
    needs: [evaluate]
`;

describe("validation on registration", () => {
  it("a new workspace has the default validate pipeline; registering a version starts it in the same transaction", async () => {
    const { workspace, owner } = await createWorkspace({ defaultPipeline: true });
    const caller = callerFor(owner);
    const list = await caller.pipelines.list({ workspaceId: workspace.id });
    expect(list).toEqual([expect.objectContaining({ name: "validate", currentVersion: 1, onModelVersion: true })]);
    const { train } = await creditFixture(owner.wsActor);
    const v = await pushModel(owner.wsActor, "credit", creditModel(train));
    expect(v.runs).toHaveLength(1);
    const runs = await caller.runs.list({ workspaceId: workspace.id });
    expect(runs[0]).toMatchObject({ pipeline: "validate", status: "queued", trigger: "model_version", model: "credit", version: 1 });
    await expectAudit(workspace.id, { action: "pipeline.run_started", targetId: runs[0]!.id });
    await caller.runs.cancel({ workspaceId: workspace.id, runId: runs[0]!.id });
  });

  it("runs every step type on a real model and dataset and records its checks once", async () => {
    const { workspace, owner } = await createWorkspace({ defaultPipeline: true });
    await savePipeline(owner.wsActor, { name: "validate", yaml: CREDIT_VALIDATE });
    const { train } = await creditFixture(owner.wsActor);
    const v1 = await pushModel(owner.wsActor, "credit", creditModel(train, FEATURES3));
    const run1 = await drive(v1.runs[0]!);
    const caller = callerFor(owner);
    const r1 = await caller.runs.get({ workspaceId: workspace.id, runId: run1.id });
    expect(run1.status, JSON.stringify([r1.steps.map((s) => [s.key, s.status, s.reason]), r1.checks.map((c) => [c.name, c.status, c.value])])).not.toBe(
      "failed",
    );
    await seedAlias(owner.wsActor, { workspaceId: workspace.id, name: "credit", alias: "production", version: 1 });
    const v2 = await pushModel(owner.wsActor, "credit", creditModel(train));
    const done = await drive(v2.runs[0]!);
    const run = await caller.runs.get({ workspaceId: workspace.id, runId: done.id });
    const step = (k: string) => run.steps.find((s) => s.key === k)!;
    expect(run.steps.map((s) => [s.key, s.status])).toEqual(
      expect.arrayContaining([
        ["integrity", "passed"],
        ["fairness", expect.stringMatching(/passed|warned|failed/)],
      ]),
    );
    for (const k of ["integrity", "evaluate", "robustness", "performance", "explain", "champion"])
      expect(step(k).status, `${k}: ${step(k).reason}`).toMatch(/passed|warned/);

    const ev = step("evaluate").outputs as Record<string, any>;
    expect(ev.task).toBe("classification");
    expect(ev.rows).toBe(300);
    expect(ev.metrics.roc_auc).toBeGreaterThan(0.7);
    expect(ev.confusion.matrix.flat().reduce((a: number, b: number) => a + b, 0)).toBe(300);
    expect(ev.roc.x[0]).toBe(0);
    expect(ev.calibration.predicted.length).toBeGreaterThan(3);
    expect(new Set(ev.slices.map((s: { value: string }) => s.value))).toEqual(new Set(["north", "south", "east", "west"]));

    const fair = step("fairness").outputs as Record<string, any>;
    expect(fair.groups.map((g: { group: string }) => g.group)).toEqual(["F", "M"]);
    expect(fair.demographicParityRatio).toBeGreaterThan(0);

    const rob = step("robustness").outputs as Record<string, any>;
    const noise = rob.results.filter((r: { perturbation: string }) => r.perturbation === "gaussian noise");
    expect(noise.map((r: { scale: number }) => r.scale)).toEqual([0.05, 0.1, 0.25, 0.5]);
    // More noise moves more predictions.
    expect(noise[3].changedShare).toBeGreaterThanOrEqual(noise[0].changedShare);

    const perf = step("performance").outputs as Record<string, any>;
    expect(perf.metrics.latency_p50_ms_b1).toBeGreaterThan(0);
    expect(perf.metrics.throughput_rows_s_b32).toBeGreaterThan(perf.metrics.throughput_rows_s_b1);
    expect(perf.metrics.peak_memory_mb).toBeGreaterThan(10);

    const ex = step("explain").outputs as Record<string, any>;
    expect(ex.importance).toHaveLength(5);
    const imp = ex.importance as { feature: string; importance: number }[];
    expect(imp.map((i) => i.importance)).toEqual([...imp.map((i) => i.importance)].sort((a, b) => b - a));
    // Age plays no part in the generated outcome; debt ratio does.
    expect(imp.find((i) => i.feature === "age")!.importance).toBeLessThan(imp.find((i) => i.feature === "debt_ratio")!.importance);

    const champ = step("champion").outputs as Record<string, any>;
    expect(champ.champion).toBe("credit@1");
    expect(champ.comparison.map((c: { metric: string }) => c.metric)).toEqual(["roc_auc", "accuracy", "f1_macro"]);

    const rows = await getDb().select().from(checks).where(eq(checks.runId, done.id));
    expect(new Set(rows.map((r) => r.name)).size).toBe(rows.length);
    expect(rows.map((r) => r.name)).toEqual(
      expect.arrayContaining([
        "integrity.schema_mismatches",
        "evaluate.roc_auc",
        "fairness.demographic_parity_ratio",
        "performance.latency_p99_ms_b1",
        "champion.roc_auc_delta",
      ]),
    );
    expect(rows.every((r) => r.threshold)).toBe(true);
    await expectAudit(workspace.id, { action: "pipeline.run_finished", targetId: done.id });

    const forVersion = await caller.runs.forVersion({ workspaceId: workspace.id, name: "credit", version: 2 });
    expect(forVersion?.id).toBe(done.id);
  }, 180_000);
});

const FEATURES3 = ["age", "income_k", "debt_ratio"] as const;

describe("pipeline definitions", () => {
  it("refuses invalid YAML with the line and the problem, and saves nothing", async () => {
    const { workspace, owner } = await createWorkspace();
    const caller = callerFor(owner);
    await expectTrpcError(
      caller.pipelines.save({ workspaceId: workspace.id, name: "bad", yaml: "steps:\n  a:\n    type: evaluate\n    needs: [b]\n" }),
      "BAD_REQUEST",
      /Line 4.*needs "b", which is not a step/,
    );
    await expectTrpcError(
      caller.pipelines.save({ workspaceId: workspace.id, name: "bad", yaml: "steps:\n  a:\n    type: evaluat\n" }),
      "BAD_REQUEST",
      /Line 3.*type must be one of/,
    );
    await expectTrpcError(
      caller.pipelines.save({ workspaceId: workspace.id, name: "bad", yaml: "steps:\n  a: {type: evaluate, needs: [b]}\n  b: {type: evaluate, needs: [a]}\n" }),
      "BAD_REQUEST",
      /cycle/,
    );
    expect(await caller.pipelines.list({ workspaceId: workspace.id })).toEqual([]);
  });

  it("versions every save and audits it; only admins define command steps", async () => {
    const { workspace, owner, members } = await createWorkspace({ members: [{ role: "ml_engineer" }, { role: "admin" }] });
    const [eng, admin] = members;
    const yaml = "steps:\n  eval:\n    type: evaluate\n";
    await callerFor(eng!).pipelines.save({ workspaceId: workspace.id, name: "nightly", yaml });
    const r2 = await callerFor(eng!).pipelines.save({ workspaceId: workspace.id, name: "nightly", yaml: yaml + "    required: false\n" });
    expect(r2).toMatchObject({ version: 2, changed: true });
    await expectAudit(workspace.id, { action: "pipeline.updated" });
    const cmd = "steps:\n  train:\n    type: command\n    run: echo hi\n";
    await expectTrpcError(
      callerFor(eng!).pipelines.save({ workspaceId: workspace.id, name: "train", yaml: cmd }),
      "FORBIDDEN",
      /Only admins may define command steps/,
    );
    await callerFor(admin!).pipelines.save({ workspaceId: workspace.id, name: "train", yaml: cmd });
    // Nor may an engineer edit the admin's command pipeline into something else.
    await expectTrpcError(callerFor(eng!).pipelines.save({ workspaceId: workspace.id, name: "train", yaml }), "FORBIDDEN", /only admins may change it/);
    const p = await callerFor(owner).pipelines.get({ workspaceId: workspace.id, name: "nightly" });
    expect(p.versions.map((v) => v.version)).toEqual([2, 1]);
    const [row] = await getDb().select().from(pipelineRuns).where(eq(pipelineRuns.workspaceId, workspace.id));
    expect(row).toBeUndefined();
  });
});

describe("other triggers", () => {
  it("a cron schedule starts one run per slot, on the version behind the target alias, however many workers tick", async () => {
    const { tickSchedules } = await import("./scheduler");
    const { workspace, owner } = await createWorkspace();
    const { train } = await creditFixture(owner.wsActor, { trainRows: 200, evalRows: 100 });
    await pushModel(owner.wsActor, "credit", creditModel(train));
    await seedAlias(owner.wsActor, { workspaceId: workspace.id, name: "credit", alias: "production", version: 1 });
    await expectTrpcError(
      callerFor(owner).pipelines.save({ workspaceId: workspace.id, name: "nightly", yaml: "on: { schedule: '0 3 * * *' }\nsteps:\n  e: { type: evaluate }\n" }),
      "BAD_REQUEST",
      /A scheduled pipeline needs `target`/,
    );
    await savePipeline(owner.wsActor, {
      name: "nightly",
      yaml: "on: { schedule: '0 3 * * *' }\ntarget: { model: credit, alias: production }\nsteps:\n  e: { type: evaluate }\n",
    });
    // Three workers tick at once, a minute after the slot.
    const slot = new Date(Date.UTC(2030, 0, 1, 3, 0));
    const at = new Date(slot.getTime() + 60_000);
    const [a, b, c] = await Promise.all([tickSchedules(at), tickSchedules(at), tickSchedules(at)]);
    const started = [...a, ...b, ...c];
    expect(started).toHaveLength(1);
    const run = await callerFor(owner).runs.get({ workspaceId: workspace.id, runId: started[0]! });
    expect(run).toMatchObject({ trigger: "schedule", triggerRef: slot.toISOString(), model: { name: "credit", version: 1 } });
    // The same slot again starts nothing; past the catch-up window a missed slot is not started late.
    expect(await tickSchedules(new Date(slot.getTime() + 120_000))).toHaveLength(0);
    expect(await tickSchedules(new Date(slot.getTime() + 86_400_000 + 10 * 60_000))).toHaveLength(0);
    await callerFor(owner).runs.cancel({ workspaceId: workspace.id, runId: started[0]! });
  });

  it("an alert can start a pipeline on a given version (the monitoring loop's entry point), audited as the system", async () => {
    const { startSystemRun } = await import("./runs.service");
    const { workspace, owner } = await createWorkspace();
    const { train } = await creditFixture(owner.wsActor, { trainRows: 200, evalRows: 100 });
    const v = await pushModel(owner.wsActor, "credit", creditModel(train));
    await savePipeline(owner.wsActor, { name: "check", yaml: "steps:\n  e: { type: evaluate }\n" });
    const [p] = await callerFor(owner).pipelines.list({ workspaceId: workspace.id });
    const run = await startSystemRun(
      { type: "system", job: "alert:psi-high", workspaceId: workspace.id },
      { pipelineId: p!.id, trigger: "alert", triggerRef: "alert-123", modelVersionId: v.versionId },
    );
    const ev = await expectAudit(workspace.id, { action: "pipeline.run_started", targetId: run!.id });
    expect(ev).toMatchObject({ actorType: "system", actorId: "alert:psi-high" });
    expect(await callerFor(owner).runs.get({ workspaceId: workspace.id, runId: run!.id })).toMatchObject({
      trigger: "alert",
      triggerRef: "alert-123",
      model: { name: "credit", version: 1 },
    });
    await callerFor(owner).runs.cancel({ workspaceId: workspace.id, runId: run!.id });
  });
});

import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "~/db/client";
import { modelVersions, pipelineRuns, predictionLogs, reviewRequests } from "~/db/schema";
import { generateCredit } from "~/db/seed/credit-data";
import { savePipeline } from "~/server/pipelines/definitions.service";
import { callerFor, expectAudit, expectTrpcError } from "~/test/helpers";
import { servedCredit } from "~/test/monitoring";
import { creditModel, drive } from "~/test/pipelines";
import { computeDriftAll } from "~/workers/worker/monitoring/drift-job";
import { evaluateAlerts } from "./alerts.service";

describe("the retraining loop", () => {
  it("alert → retrain (a command step) → the new version registered and validated → a review request for production, each link audited", async () => {
    const { workspace, owner, members, d, logRow } = await servedCredit({ members: [{ role: "reviewer" }] });

    // The retraining pipeline (an owner defines command steps): its ONNX output becomes credit-risk's next version,
    // and a review asks for it in production.
    // The step runs sandboxed (it sees none of the worker's files): the bytes come in its env.
    const retrained = creditModel(generateCredit(400, 31), ["age", "income_k", "debt_ratio"]).toString("base64");
    const yaml = `steps:
  retrain:
    type: command
    env: { MODEL_B64: "${retrained}" }
    run: printf %s "$MODEL_B64" | base64 -d > "$STEWARD_OUTPUT_DIR/credit-risk.onnx"
    with:
      register_as: credit-risk
      open_review: { alias: production, summary: "Retrained on recent traffic." }
`;
    await savePipeline(owner.wsActor, { name: "retrain", yaml });
    // open_review belongs to command steps only, and says so.
    await expectTrpcError(
      callerFor(owner).pipelines.save({
        workspaceId: workspace.id,
        name: "bad",
        yaml: "steps:\n  e:\n    type: evaluate\n    with: { open_review: { alias: production } }\n",
      }),
      "BAD_REQUEST",
      /open_review` is only for command steps/,
    );
    await callerFor(owner).monitoring.saveRule({
      workspaceId: workspace.id,
      name: "credit-prod",
      rule: {
        name: "Retrain on income drift",
        metric: "drift_feature",
        feature: "income_k",
        threshold: 0.5,
        windowMinutes: 60,
        severity: "critical",
        startPipeline: "retrain",
      },
    });

    // Traffic whose incomes moved; drift is computed; the alert fires and starts the pipeline.
    const now = new Date(Math.floor(Date.now() / 60_000) * 60_000);
    const logs = generateCredit(300, 77).map((r, i) =>
      logRow({
        at: new Date(now.getTime() - (i % 30) * 60_000 - 1000),
        requestId: `loop${i}`,
        inputs: { instances: [{ age: r.age, income_k: r.income_k * 2, debt_ratio: r.debt_ratio }] },
        outputs: { probability: [[0.4]] },
      }),
    );
    await getDb().insert(predictionLogs).values(logs);
    await computeDriftAll(now, 60, d.id);
    await evaluateAlerts(now);
    const incident = (await callerFor(owner).monitoring.alerts({ workspaceId: workspace.id, name: "credit-prod" })).incidents.find(
      (i) => i.rule === "Retrain on income drift",
    )!;
    expect(incident).toMatchObject({ status: "firing", pipelineRunId: expect.any(String) });
    await expectAudit(workspace.id, { action: "pipeline.run_started", targetId: incident.pipelineRunId! });

    // The worker runs it: a new version, its validation started, a review opened in the pipeline author's name.
    const run = await drive(incident.pipelineRunId!);
    expect(run).toMatchObject({ status: "passed", trigger: "alert", triggerRef: incident.id });
    const [v] = await getDb().select().from(modelVersions).where(eq(modelVersions.sourceRunId, run.id));
    expect(v).toBeTruthy();
    await expectAudit(workspace.id, { action: "model.version_registered", targetId: v!.id });
    const validations = await getDb()
      .select()
      .from(pipelineRuns)
      .where(and(eq(pipelineRuns.modelVersionId, v!.id), eq(pipelineRuns.trigger, "model_version")));
    expect(validations).toHaveLength(1);
    const [review] = await getDb().select().from(reviewRequests).where(eq(reviewRequests.modelVersionId, v!.id));
    expect(review).toMatchObject({ alias: "production", requestedBy: owner.id, status: "open" });
    expect(review!.summary).toContain("Retrained on recent traffic.");
    expect(review!.summary).toContain(`Retrained by pipeline run #${run.number}, started by the alert: ${incident.message}`);
    await expectAudit(workspace.id, { action: "review.opened", targetId: review!.id });

    // The room shows it to the reviewer, with the policy still to satisfy; the author cannot approve their own request.
    const reviewer = members[0]!;
    const room = await callerFor(reviewer).reviews.get({ workspaceId: workspace.id, number: review!.number });
    expect(room).toMatchObject({
      status: "open",
      alias: "production",
      model: { name: "credit-risk" },
      version: { version: v!.version },
      requestedBy: { id: owner.id },
    });
    expect(room.state!.satisfied).toBe(false);
    const sign = { workspaceId: workspace.id, number: review!.number, decision: "approve" as const, meaning: "Approved for production release" };
    await expectTrpcError(callerFor(owner).reviews.sign({ ...sign, password: owner.password }), "FORBIDDEN");
    expect((await callerFor(reviewer).reviews.sign({ ...sign, password: reviewer.password })).outcome).toBe("signed");
  });
});

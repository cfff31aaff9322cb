import { Readable } from "node:stream";
import type { WorkspaceActor } from "~/server/audit/actor";
import { savePipeline } from "~/server/pipelines/definitions.service";
import { createDeployment } from "~/server/serving/deployments.service";
import { uploadDatasetVersion } from "~/server/registry/datasets.service";
import { seedAlias, uploadModelVersion } from "~/server/registry/models.service";
import { evaluate, FEATURES, generateCredit, toCsv, trainLogistic } from "./credit-data";
import { logisticRegressionOnnx } from "./onnx-builder";

/**
 * The demo's real content, made here rather than downloaded: a generated credit-risk
 * dataset with a sensitive attribute (gender), a logistic-regression classifier trained
 * on it in TypeScript, written as ONNX, and registered as two versions with lineage.
 */

/** The demo's validate pipeline: the default, told which columns hold the label, the sensitive attribute and the slices. */
export const CREDIT_VALIDATE_YAML = `# Runs on every new model version, before anyone reviews it.
description: Checks every credit-risk model version before review.
on:
  model_version: true
inputs:
  dataset: eval          # the evaluation dataset in the version's lineage
  label: default         # 1 = the loan defaulted
  sensitive: gender
  slices: [region]
steps:
  integrity:
    type: data-integrity
  evaluate:
    type: evaluate
    needs: [integrity]
    checks:
      roc_auc: { fail_below: 0.65, warn_below: 0.75 }
  fairness:
    type: fairness
    needs: [integrity]
  robustness:
    type: robustness
    needs: [integrity]
  performance:
    type: performance
  explain:
    type: explain
    needs: [integrity]
    required: false
  champion:
    type: compare-to-champion
    needs: [evaluate]
    with: { tolerance: 0.01 }
`;

export async function seedCreditDemo(actor: WorkspaceActor) {
  await savePipeline(actor, { name: "validate", yaml: CREDIT_VALIDATE_YAML });
  const train = generateCredit(2000, 7);
  const evalRows = generateCredit(600, 11);
  await uploadDatasetVersion(
    actor,
    {
      name: "credit-train",
      filename: "credit-train.csv",
      meta: { description: "Generated loan applications with outcomes (gender is the sensitive attribute)." },
    },
    Readable.from([toCsv(train)]),
  );
  await uploadDatasetVersion(
    actor,
    { name: "credit-eval", filename: "credit-eval.csv", meta: { description: "Held-out applications for evaluation." } },
    Readable.from([toCsv(evalRows)]),
  );

  const f1 = FEATURES.slice(0, 3);
  const m1 = trainLogistic(train, f1, 300, 0.5);
  const v1 = await uploadModelVersion(
    actor,
    {
      name: "credit-risk",
      filename: "credit-risk-v1.onnx",
      meta: {
        description: "Baseline logistic regression on age, income and debt ratio.",
        metrics: evaluate(evalRows, f1, m1),
        params: { epochs: 300, lr: 0.5, features: f1.join(" ") },
        tags: ["baseline", "logistic-regression"],
        gitCommit: "3f2a9c1",
        datasets: [
          { ref: "credit-train@1", role: "train" },
          { ref: "credit-eval@1", role: "eval" },
        ],
      },
    },
    Readable.from([Buffer.from(logisticRegressionOnnx({ ...m1, featureNames: [...f1], producerVersion: "1" }))]),
  );
  const m2 = trainLogistic(train, FEATURES, 600, 0.5);
  await uploadModelVersion(
    actor,
    {
      name: "credit-risk",
      filename: "credit-risk-v2.onnx",
      meta: {
        description: "Adds credit history and late payments.",
        metrics: evaluate(evalRows, FEATURES, m2),
        params: { epochs: 600, lr: 0.5, features: FEATURES.join(" ") },
        tags: ["logistic-regression"],
        gitCommit: "8be41d0",
        parent: v1.version,
        datasets: [
          { ref: "credit-train@1", role: "train" },
          { ref: "credit-eval@1", role: "eval" },
        ],
      },
    },
    Readable.from([Buffer.from(logisticRegressionOnnx({ ...m2, featureNames: [...FEATURES], producerVersion: "2" }))]),
  );
  // The demo starts with v1 in production (set up directly; from here on, production and
  // staging move only through approved reviews). v2 awaits review in request #1.
  await seedAlias(actor, { workspaceId: actor.workspaceId, name: "credit-risk", alias: "production", version: 1 });
  // Served by the inference process from the start; it follows production.
  await createDeployment(actor, { name: "credit-prod", environment: "production", model: "credit-risk" });
  /** What credit-prod serves: v1's logistic regression (the same weights as its ONNX file). */
  return { served: { features: f1, weights: m1.weights, bias: m1.bias } };
}

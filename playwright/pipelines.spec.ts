import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { FEATURES, generateCredit, toCsv, trainLogistic } from "../db/seed/credit-data";
import { logisticRegressionOnnx } from "../db/seed/onnx-builder";
import { A, person, shot, signUp, waitLive } from "./fixtures";

const VALIDATE = `on: { model_version: true }
inputs: { dataset: eval, label: default, sensitive: gender, slices: [region] }
steps:
  integrity: { type: data-integrity }
  evaluate: { type: evaluate, needs: [integrity], checks: { roc_auc: { fail_below: 0.6 } } }
  fairness: { type: fairness, needs: [integrity] }
  robustness: { type: robustness, needs: [integrity] }
  performance: { type: performance, with: { iterations: 50 } }
  explain: { type: explain, needs: [integrity], required: false }
  champion: { type: compare-to-champion, needs: [evaluate] }
`;

test("edit the validate pipeline with inline errors, register a version, watch its run live and read the report", async ({ page }) => {
  test.setTimeout(180_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "steward-e2e-pipelines-"));
  const train = generateCredit(600, 7);
  fs.writeFileSync(path.join(dir, "credit-train.csv"), toCsv(train));
  fs.writeFileSync(path.join(dir, "credit-eval.csv"), toCsv(generateCredit(300, 11)));
  fs.writeFileSync(path.join(dir, "credit-risk.onnx"), logisticRegressionOnnx({ ...trainLogistic(train, FEATURES, 200, 0.5), featureNames: [...FEATURES] }));

  const me = person("Pipe");
  await signUp(page, A(), me);
  await expect(page).toHaveURL(/\/workspaces$/);
  const slug = `pipe-${me.email.slice(5, 11)}`;
  await page.getByLabel("Name", { exact: true }).fill("Model CI");
  await page.getByLabel("URL name").fill(slug);
  await page.getByRole("button", { name: "Create workspace" }).click();
  await expect(page).toHaveURL(new RegExp(`/w/${slug}$`));
  await waitLive(page);

  for (const name of ["credit-train", "credit-eval"]) {
    await page.getByRole("link", { name: "Datasets" }).first().click();
    await page.getByLabel("Dataset name").fill(name);
    await page.getByTestId("file-input").setInputFiles(path.join(dir, `${name}.csv`));
    await page.getByRole("button", { name: "Upload" }).click();
    await expect(page.getByTestId("datasets-table")).toContainText(name);
  }

  // The workspace came with the default validate pipeline; no runs yet.
  await page.getByRole("link", { name: "Pipelines" }).click();
  await expect(page.getByText("No runs yet")).toBeVisible();
  await page
    .getByTestId("pipelines-list")
    .getByRole("link", { name: /validate/ })
    .click();
  await expect(page.getByTestId("yaml-status")).toContainText("Valid · 7 steps");

  // A typo is underlined and listed with its line; saving is disabled until it is fixed.
  const editor = page.getByTestId("yaml-editor").locator(".cm-content");
  await editor.fill(VALIDATE.replace("type: fairness", "type: fairnes"));
  await expect(page.getByTestId("yaml-issues")).toContainText("Line 6, column 21");
  await expect(page.getByTestId("yaml-issues")).toContainText("type must be one of");
  await expect(page.locator(".cm-lintRange-error").first()).toBeVisible();
  await expect(page.getByRole("button", { name: "Save new version" })).toBeDisabled();
  await shot(page, "20-pipeline-editor-error");
  await editor.fill(VALIDATE);
  await expect(page.getByTestId("yaml-status")).toContainText("Valid · 7 steps");
  await page.getByRole("button", { name: "Save new version" }).click();
  await expect(page.getByText("Saved validate v2.")).toBeVisible();
  await expect(page.getByRole("button", { name: /^v2/ })).toBeVisible();

  // Register a version with its lineage: validation starts by itself.
  await page.getByRole("link", { name: "Models" }).click();
  await page.getByRole("button", { name: "Register a model" }).click();
  await page.getByLabel("Model name").fill("credit-risk");
  await page.getByRole("dialog").getByTestId("file-input").setInputFiles(path.join(dir, "credit-risk.onnx"));
  await page.getByLabel("Datasets").fill("train:credit-train@1, eval:credit-eval@1");
  await page.getByRole("button", { name: "Register" }).click();
  await expect(page.getByTestId("models-table")).toContainText("credit-risk");

  // Watch the run progress on its page, pushed live (no reload).
  await page.getByRole("link", { name: "Pipelines" }).click();
  await page.getByTestId("runs-table").getByRole("link", { name: "#1" }).click();
  await expect(page.getByTestId("run-graph")).toBeVisible();
  await expect(page.getByTestId("run-progress")).toContainText(/\d of 7 steps done/);
  await shot(page, "21-run-in-progress");
  await expect(page.getByTestId("run-status")).toHaveText(/passed|warned/, { timeout: 120_000 });
  await expect(page.getByTestId("run-progress")).toContainText("7 of 7 steps done");
  await page.locator("[data-step=evaluate]").click();
  await expect(page.getByTestId("step-log")).toContainText("Metrics: accuracy=");
  await shot(page, "22-run-done");

  await page.getByRole("tab", { name: "Report" }).click();
  const report = page.getByTestId("validation-report");
  await expect(report.getByTestId("checks-table")).toContainText("evaluate.roc_auc");
  await expect(report.getByTestId("checks-table")).toContainText("ROC AUC");
  await expect(report.getByTestId("confusion-matrix")).toBeVisible();
  await expect(report.getByTestId("roc-chart").locator("svg path.recharts-curve").first()).toBeVisible();
  await expect(report.getByTestId("fairness-chart")).toBeVisible();
  await expect(report.getByTestId("importance-chart")).toContainText("debt_ratio");
  await expect(report.getByTestId("slices-table")).toContainText("region = south");
  await shot(page, "23-validation-report");

  // The model page shows the version's checks and links to the full report.
  await page.getByRole("link", { name: "Open credit-risk@1" }).click();
  const checks = page.getByTestId("version-checks");
  // Chips read as people do ("ROC AUC"), the key on hover.
  await expect(checks.getByTestId("check-chips")).toContainText("ROC AUC");
  await expect(checks.getByTestId("check-chips").locator('[title^="evaluate.roc_auc: "]')).toHaveCount(1);
  await checks.getByRole("link", { name: "Full report" }).click();
  await expect(page.getByRole("heading", { name: "Validation of credit-risk v1" })).toBeVisible();
  await expect(page.getByTestId("calibration-chart")).toBeVisible();
});

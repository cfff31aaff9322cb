import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { logisticRegressionOnnx } from "../db/seed/onnx-builder";
import { A, person, shot, signUp, waitLive } from "./fixtures";

test("deploy a model from the UI, send a prediction with try it, see it in the log, add a canary and roll back", async ({ page }) => {
  test.setTimeout(120_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "steward-e2e-deploy-"));
  const features = ["age", "income_k", "debt_ratio"];
  fs.writeFileSync(path.join(dir, "v1.onnx"), logisticRegressionOnnx({ weights: [0.01, -0.01, 2], bias: -1, featureNames: features }));
  fs.writeFileSync(path.join(dir, "v2.onnx"), logisticRegressionOnnx({ weights: [0.02, -0.02, 3], bias: -1.5, featureNames: features }));

  const me = person("Ops");
  await signUp(page, A(), me);
  await expect(page).toHaveURL(/\/workspaces$/);
  const slug = `ops-${me.email.slice(4, 10)}`;
  await page.getByLabel("Name", { exact: true }).fill("Serving");
  await page.getByLabel("URL name").fill(slug);
  await page.getByRole("button", { name: "Create workspace" }).click();
  await expect(page).toHaveURL(new RegExp(`/w/${slug}$`));
  await waitLive(page);

  await page.getByRole("link", { name: "Models" }).click();
  for (const v of ["v1", "v2"]) {
    if (v === "v1") await page.getByRole("button", { name: "Register a model" }).click();
    else await page.getByRole("button", { name: "New version" }).click();
    if (v === "v1") await page.getByLabel("Model name").fill("risk");
    await page
      .getByRole("dialog")
      .getByTestId("file-input")
      .setInputFiles(path.join(dir, `${v}.onnx`));
    await page.getByRole("button", { name: "Register" }).click();
    if (v === "v1") {
      await expect(page.getByTestId("models-table")).toContainText("risk");
      await page.getByRole("link", { name: "risk" }).click();
    } else await expect(page.getByTestId("versions-table").locator("tbody tr")).toHaveCount(2);
  }

  await page.getByRole("link", { name: "Deployments" }).click();
  await expect(page.getByText("Nothing deployed yet")).toBeVisible();
  await page.getByRole("button", { name: "Deploy a model" }).click();
  await page.getByLabel("Deployment name").fill("risk-prod");
  await page.getByLabel("Model", { exact: true }).selectOption("risk");
  // production is protected: an unapproved v1 cannot be deployed there, and the dialog says why.
  await page.getByLabel("Serve").selectOption("1");
  await page.getByRole("button", { name: "Deploy", exact: true }).click();
  await expect(page.getByRole("dialog").getByRole("alert")).toContainText('v1 is not approved for "production"');
  // Bound to an unprotected alias, any loadable version may serve.
  await page.getByLabel("Bound to alias").fill("dev");
  await page.getByRole("button", { name: "Deploy", exact: true }).click();
  await expect(page).toHaveURL(/\/deployments\/risk-prod$/);
  await expect(page.getByTestId("deployment-versions")).toContainText("v1");
  await expect(page.getByTestId("deployment-history")).toContainText("Deployed risk v1 to production (pinned, bound to dev).");
  // The inference replica reports serving it: the rollout is a fact.
  await expect(page.getByTestId("rollout-status")).toContainText("rollout of v1 is live", { timeout: 20_000 });
  await expect(page.getByTestId("replicas")).toContainText("v1");

  // Try it: the form is prefilled with a record for the model's features.
  await expect(page.getByLabel("Request", { exact: true })).toHaveValue(/"debt_ratio": 0/);
  await page.getByRole("button", { name: "Send" }).click();
  const response = page.getByTestId("try-response");
  await expect(response).toContainText('"version": 1', { timeout: 20_000 });
  await expect(response).toContainText('"probability"');
  const requestId = /"requestId": "([^"]+)"/.exec((await response.textContent()) ?? "")![1]!;
  await expect(page.getByTestId("prediction-log")).toContainText(requestId.slice(0, 8), { timeout: 15_000 });
  await shot(page, "30-deployment-try-it");

  // Bad input: the answer names the field.
  await page.getByLabel("Request", { exact: true }).fill('{"instances": [{"age": 40}]}');
  await page.getByRole("button", { name: "Send" }).click();
  await expect(response).toContainText('instances[0] has no \\"income_k\\"');

  // Canary at 50%, then promote, then roll back.
  await page.getByLabel("Canary", { exact: true }).selectOption("2");
  await page.getByLabel("Canary share (%)").fill("50");
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page.getByTestId("deployment-versions")).toContainText("50%");
  // Guard rail: the dialog says what will happen; in production the name is typed, then Enter confirms.
  await page.getByRole("button", { name: "Promote canary" }).click();
  const promote = page.getByRole("dialog");
  await expect(promote.getByTestId("confirm-consequence")).toContainText("v2 will serve 100% of risk-prod");
  await expect(promote.getByRole("button", { name: "Promote" })).toBeDisabled();
  await page.keyboard.press("Escape");
  await expect(promote).toHaveCount(0);
  await page.getByRole("button", { name: "Promote canary" }).click();
  await promote.getByLabel("Type risk-prod to confirm").fill("risk-prod");
  await page.keyboard.press("Enter");
  await expect(page.getByTestId("deployment-history")).toContainText("Promoted canary v2 to primary");
  await page.getByRole("button", { name: "Roll back…" }).click();
  const rb = page.getByRole("dialog");
  await expect(rb.getByLabel("Roll back to")).toHaveValue("1");
  await rb.getByLabel("Reason").fill("v2 scores look off");
  await rb.getByLabel("Type risk-prod to confirm").fill("risk-prod");
  await rb.getByRole("button", { name: "Roll back" }).click();
  await expect(page.getByTestId("deployment-history")).toContainText("Emergency rollback to v1 (from v2); pinned. Reason: v2 scores look off");
  await expect(page.getByTestId("rollout-status")).toContainText("rollout of v1 is live", { timeout: 20_000 });
  await shot(page, "31-deployment-history");

  // Settings: mark a column sensitive and change batching; the change is in the history.
  const settings = page.getByTestId("deployment-settings");
  await settings.getByLabel("Mark an input as sensitive").selectOption("age");
  await settings.getByLabel("How age is logged").selectOption("drop");
  await settings.getByLabel("Max batch size (rows)").fill("64");
  await settings.getByRole("button", { name: "Save settings" }).click();
  await expect(page.getByTestId("deployment-history")).toContainText("sensitiveInputs none → age (drop)");
  await expect(page.getByTestId("deployment-history")).toContainText("maxBatchSize 32 → 64");
  await expect(page.getByTestId("deployment-versions")).toContainText("≤ 64 rows");
  await settings.getByLabel("Max wait (ms)").fill("500");
  await settings.getByRole("button", { name: "Save settings" }).click();
  await expect(page.getByTestId("settings-error")).toContainText("maxWaitMs");
  await settings.getByRole("button", { name: "Discard changes" }).click();
  await shot(page, "32-deployment-settings");
  await page.getByRole("link", { name: "Deployments" }).first().click();
  await expect(page.getByTestId("deployments-table")).toContainText("risk-prod");
});

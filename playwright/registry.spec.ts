import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { logisticRegressionOnnx } from "../db/seed/onnx-builder";
import { A, person, shot, signUp, waitLive } from "./fixtures";

test("upload a dataset and two model versions in the browser, then read the model page, lineage and compare", async ({ page }) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "steward-e2e-files-"));
  const csv = path.join(dir, "loans.csv");
  fs.writeFileSync(csv, "age,income,region,default\n41,52000,north,0\n35,,south,1\n29,31000,north,0\n52,88000,east,0\n61,45000,west,1\n");
  const m1 = path.join(dir, "risk-v1.onnx");
  const m2 = path.join(dir, "risk-v2.onnx");
  fs.writeFileSync(m1, logisticRegressionOnnx({ weights: [0.1, 0.2], bias: 0 }));
  fs.writeFileSync(m2, logisticRegressionOnnx({ weights: [0.1, 0.2, 0.3], bias: 0.5 }));

  const me = person("Reg");
  await signUp(page, A(), me);
  await expect(page).toHaveURL(/\/workspaces$/);
  const slug = `reg-${me.email.slice(4, 10)}`;
  await page.getByLabel("Name", { exact: true }).fill("Registry Team");
  await page.getByLabel("URL name").fill(slug);
  await page.getByRole("button", { name: "Create workspace" }).click();
  await expect(page).toHaveURL(new RegExp(`/w/${slug}$`));
  await waitLive(page);

  // Dataset: drop zone (file input), upload, profile.
  await page.getByRole("link", { name: "Datasets" }).click();
  await expect(page.getByText("No datasets yet")).toBeVisible();
  await page.getByLabel("Dataset name").fill("loans");
  await page.getByTestId("file-input").setInputFiles(csv);
  await page.getByRole("button", { name: "Upload" }).click();
  await expect(page.getByTestId("datasets-table")).toContainText("loans");
  await page.getByRole("link", { name: "loans" }).click();
  const profile = page.getByTestId("profile-table");
  await expect(profile).toContainText("income");
  await expect(profile.locator("tr", { hasText: "income" })).toContainText("1 (20.0%)");
  await expect(profile.getByRole("img", { name: "Histogram of age" })).toBeVisible();
  await shot(page, "11-dataset-profile");

  // A CSV with a ragged row is refused with the reason, on the form.
  await page.getByRole("link", { name: "Datasets" }).first().click();
  fs.writeFileSync(path.join(dir, "bad.csv"), "a,b\n1,2\n3\n");
  await page.getByLabel("Dataset name").fill("bad");
  await page.getByTestId("file-input").setInputFiles(path.join(dir, "bad.csv"));
  await page.getByRole("button", { name: "Upload" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "Row 3 of the CSV file has 1 field" })).toBeVisible();

  // Model: register v1 with lineage, then v2.
  await page.getByRole("link", { name: "Models" }).click();
  await page.getByRole("button", { name: "Register a model" }).click();
  await page.getByLabel("Model name").fill("risk");
  await page.getByRole("dialog").getByTestId("file-input").setInputFiles(m1);
  await page.getByLabel("Metrics").fill("auc=0.80, accuracy=0.71");
  await page.getByLabel("Datasets").fill("train:loans@1");
  await page.getByRole("button", { name: "Register" }).click();
  await expect(page.getByTestId("models-table")).toContainText("risk");
  await page.getByRole("link", { name: "risk" }).click();
  await page.getByRole("button", { name: "New version" }).click();
  await page.getByRole("dialog").getByTestId("file-input").setInputFiles(m2);
  await page.getByLabel("Metrics").fill("auc=0.86, accuracy=0.74");
  await page.getByRole("button", { name: "Register" }).click();
  const versions = page.getByTestId("versions-table");
  await expect(versions.locator("tbody tr")).toHaveCount(2);
  await expect(page.getByTestId("signature")).toContainText("[batch, 3]");
  await expect(page.getByTestId("lineage-graph")).toContainText("dataset loans@1");
  await expect(page.getByTestId("metrics-chart")).toBeVisible();

  // Alias, then compare.
  await page.getByLabel("Alias", { exact: true }).fill("candidate");
  await page.getByLabel("Version for alias").selectOption("2");
  await page.getByRole("button", { name: "Set alias" }).click();
  await expect(versions.locator("tr", { hasText: "v2" })).toContainText("candidate");
  await expect(page.getByTestId("lineage-graph")).toContainText("candidate");
  await shot(page, "12-model-page");
  await page.getByLabel("Compare v1").check();
  await page.getByLabel("Compare v2").check();
  await page.getByRole("button", { name: "Compare" }).click();
  await expect(page).toHaveURL(/compare\?a=1&b=2/);
  const compare = page.getByTestId("compare");
  await expect(compare.locator("tr", { hasText: "auc" })).toContainText("+0.06");
  await expect(compare.locator("tr", { hasText: "features" })).toContainText("float[batch, 2]");
  await expect(compare.locator("tr", { hasText: "features" })).toContainText("float[batch, 3]");
  await shot(page, "13-compare");

  // ⌘K finds the model from anywhere.
  await page.getByRole("link", { name: "Home" }).click();
  await page.keyboard.press("Control+k");
  await page.getByTestId("palette-input").fill("risk@2");
  await expect(page.getByRole("option", { name: /risk@2.*Model version/ })).toBeVisible();
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/models\/risk\?v=2$/);
  // It acts too: whatever is typed can be looked up in the audit trail (the filter lands in the URL)…
  await page.keyboard.press("Control+k");
  await page.getByTestId("palette-input").fill("risk");
  await page.getByRole("option", { name: "Search the audit trail for “risk”" }).click();
  await expect(page).toHaveURL(/\/governance\/audit\?q=risk$/);
  await expect(page.getByRole("form", { name: "Filter audit events" }).getByLabel("Search")).toHaveValue("risk");
  // …and a member is invited without hunting for the settings page.
  await page.keyboard.press("Control+k");
  await page.getByTestId("palette-input").fill("invite");
  await page.getByRole("option", { name: "Invite a member…" }).click();
  await expect(page.getByRole("dialog", { name: "Invite a member" })).toBeVisible();
  await page.keyboard.press("Escape");

  // Tokens and the API reference.
  await page.getByRole("link", { name: "Settings" }).click();
  await page.getByRole("link", { name: "API tokens" }).click();
  await page.getByLabel("Name", { exact: true }).fill("CI");
  await page.getByRole("button", { name: "Create token" }).click();
  await expect(page.getByTestId("new-token")).toHaveValue(/^stw_/);
  await expect(page.getByTestId("tokens-table")).toContainText("CI");
  await page.getByRole("link", { name: "API reference" }).click();
  await expect(page.getByTestId("api-reference")).toContainText("/workspaces/{workspace}/models/{name}/versions");
  await shot(page, "14-api-reference");
  fs.rmSync(dir, { recursive: true, force: true });
});

test("dark mode hydrates without errors: nothing the server renders depends on a theme it cannot know", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  await page.emulateMedia({ colorScheme: "dark" });
  const me = person("Dark");
  await signUp(page, A(), me);
  await expect(page).toHaveURL(/\/workspaces$/);
  const slug = `dark-${me.email.slice(5, 11)}`;
  await page.getByLabel("Name", { exact: true }).fill("Night Shift");
  await page.getByLabel("URL name").fill(slug);
  await page.getByRole("button", { name: "Create workspace" }).click();
  await expect(page).toHaveURL(new RegExp(`/w/${slug}$`));
  // Whole page loads, each hydrating what the server sent.
  for (const p of ["", "/models", "/datasets", "/pipelines", "/deployments", "/monitoring", "/reviews", "/governance", "/settings"]) {
    await page.goto(`${A()}/w/${slug}${p}`);
    await waitLive(page);
  }
  expect(await page.evaluate(() => document.documentElement.classList.contains("dark"))).toBe(true);
  await expect(page.getByRole("button", { name: "Toggle dark mode" })).toBeVisible();
  expect(errors.filter((e) => /hydrat|#418|#423|#425|didn't match/i.test(e))).toEqual([]);
});

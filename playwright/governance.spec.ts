import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { logisticRegressionOnnx } from "../db/seed/onnx-builder";
import { A, person, shot, signUp, waitLive } from "./fixtures";

test("filter the audit trail, sign a checkpoint, export and verify offline, download the PDF report", async ({ page }) => {
  // A bound, not a timing: the offline verifier and the PDF run as child processes, slow on a busy machine.
  test.setTimeout(150_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "steward-e2e-gov-"));
  const me = person("Gov");
  await signUp(page, A(), me);
  await expect(page).toHaveURL(/\/workspaces$/);
  const slug = `gov-${me.email.slice(4, 10)}`;
  await page.getByLabel("Name", { exact: true }).fill("Governance Team");
  await page.getByLabel("URL name").fill(slug);
  await page.getByRole("button", { name: "Create workspace" }).click();
  await expect(page).toHaveURL(new RegExp(`/w/${slug}$`));
  await waitLive(page);

  // Some history: a dataset and a model registered through the REST API with this session.
  const api = `${A()}/api/v1/workspaces/${slug}`;
  const headers = { "x-steward-client": "e2e" };
  const ds = await page.request.post(`${api}/datasets/loans/versions`, {
    headers,
    multipart: { file: { name: "loans.csv", mimeType: "text/csv", buffer: Buffer.from("a,b,y\n1,2,0\n3,4,1\n5,6,0\n") } },
  });
  expect(ds.status()).toBe(201);
  const model = await page.request.post(`${api}/models/risk/versions`, {
    headers,
    multipart: {
      metadata: JSON.stringify({ metrics: { auc: 0.8 }, datasets: [{ ref: "loans@1", role: "train" }], description: "Loan default risk." }),
      file: { name: "risk.onnx", mimeType: "application/octet-stream", buffer: Buffer.from(logisticRegressionOnnx({ weights: [0.2, 0.1], bias: 0 })) },
    },
  });
  expect(model.status()).toBe(201);

  // Filter the trail.
  await page.getByRole("link", { name: "Governance" }).click();
  const table = page.getByTestId("audit-table");
  await expect(table).toContainText("model.version_registered");
  await page.getByLabel("Action").selectOption("dataset.version_created");
  await expect(table.locator("[data-action]")).toHaveCount(1);
  await page.getByRole("button", { name: "Clear filters" }).click();
  await page.getByLabel("Search").fill("loans@1");
  await expect(table.locator("[data-action]")).toHaveCount(1);
  await expect(table.locator("[data-action]")).toHaveAttribute("data-action", "model.version_registered");
  await page.getByRole("button", { name: "Clear filters" }).click();
  await shot(page, "15-audit-explorer");

  // Sign a checkpoint, then export and verify the export offline with the public key.
  await page.getByRole("link", { name: "Signed checkpoints" }).click();
  await page.getByRole("button", { name: "Sign checkpoint now" }).click();
  await expect(page.getByTestId("checkpoints-table")).toContainText("#");
  const publicKey = await page.getByTestId("public-key").textContent();
  fs.writeFileSync(path.join(dir, "key.pem"), publicKey!.trim() + "\n");
  await shot(page, "16-checkpoints");
  await page.getByRole("link", { name: "Audit trail" }).click();
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("export-ndjson").click()]);
  const exportFile = path.join(dir, "export.ndjson");
  await download.saveAs(exportFile);
  const verify = spawnSync(process.execPath, ["bin/steward.mjs", "audit", "verify", exportFile, "--public-key", path.join(dir, "key.pem")], {
    encoding: "utf8",
  });
  expect(verify.status, verify.stderr).toBe(0);
  expect(verify.stdout).toMatch(/^Intact: .*complete from #1\), 1 signed checkpoint\(s\) verified/);

  // The compliance report, on screen and as a PDF.
  await page.getByRole("link", { name: "Models" }).click();
  await page.getByRole("link", { name: "risk" }).click();
  await page.getByRole("link", { name: "Compliance report" }).click();
  await expect(page.getByTestId("report")).toContainText("loans@1");
  await expect(page.getByTestId("framework-eu-ai-act")).toContainText("Article 12");
  await shot(page, "17-report");
  const [pdf] = await Promise.all([page.waitForEvent("download"), page.getByTestId("report-pdf").click()]);
  const pdfFile = path.join(dir, "report.pdf");
  await pdf.saveAs(pdfFile);
  const text = execFileSync("pdftotext", ["-layout", pdfFile, "-"], { encoding: "utf8" });
  expect(text).toContain("Compliance report: risk version 1");
  expect(text).toContain("Loan default risk.");
  const hash = (await page.getByTestId("manifest-hash").textContent())!.replace("sha256 ", "").trim();
  expect(text).toContain(`manifest sha256 ${hash}`);
  fs.rmSync(dir, { recursive: true, force: true });
});

import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { A, person, shot, signUp, waitLive } from "./fixtures";

const root = path.resolve(import.meta.dirname, "..");
const tsNode = (script: string, args: string[]) => [process.execPath, ["--import", "tsx", "--import", "./bin/hooks/register.js", script, ...args]] as const;
const helperEnv = () => ({
  ...process.env,
  DATABASE_URL: process.env.E2E_DATABASE_URL!,
  AUTH_SECRET: process.env.E2E_AUTH_SECRET!,
  NODE_ENV: "production" as const,
});

let simulator: ChildProcess | null = null;
test.afterEach(() => {
  simulator?.kill("SIGTERM");
  simulator = null;
});

test("the simulator drives a deployment: the dashboard moves live, drift is found, an alert fires and is acknowledged", async ({ page }) => {
  test.setTimeout(150_000);
  const me = person("Operator");
  await signUp(page, A(), me);
  await expect(page).toHaveURL(/\/workspaces$/);
  const slug = `mon-${me.email.slice(9, 15)}`;
  // The credit demo in a workspace of the operator's own: data, models with lineage, credit-prod.
  const [node, args] = tsNode("playwright/seed-monitoring.ts", [me.email, slug]);
  execFileSync(node, args, { cwd: root, env: helperEnv(), stdio: "pipe" });

  // Traffic from the demo's data with income and debt ratio shifted from the start, labels a second later.
  const [simNode, simArgs] = tsNode("bin/simulate.ts", [
    "--deployment",
    "credit-prod",
    "--workspace",
    slug,
    "--rps",
    "25",
    "--drift-after",
    "0s",
    "--label-delay",
    "1s",
    "--duration",
    "140s",
    "--url",
    process.env.E2E_INFERENCE_URL!,
  ]);
  simulator = spawn(simNode, simArgs, { cwd: root, env: helperEnv(), stdio: "ignore" });

  await page.goto(`${A()}/w/${slug}/monitoring`);
  await waitLive(page);
  await expect(page.getByTestId("monitoring-overview")).toContainText("credit-prod");
  await page.getByRole("link", { name: "credit-prod" }).click();
  await expect(page).toHaveURL(new RegExp(`/w/${slug}/monitoring/credit-prod$`));

  // The live edge: per-second ticks pushed by the inference replica, no reload.
  await expect(page.getByTestId("live-replicas")).toHaveText("1", { timeout: 20_000 });
  await expect.poll(async () => Number(await page.getByTestId("live-rps").textContent()), { timeout: 20_000 }).toBeGreaterThan(5);
  // More seconds arrive without a reload.
  const points = async () => Number(await page.getByTestId("live-chart").getAttribute("data-points"));
  const first = await points();
  await expect.poll(points, { timeout: 15_000 }).toBeGreaterThanOrEqual(first + 5);
  await expect(page.getByTestId("live-replicas-table")).toContainText("MB");
  await shot(page, "40-monitoring-live");

  // Drift on demand (ops and owners): the worker compares the logged inputs with the training data.
  await expect(async () => {
    await page.getByRole("button", { name: "Compute now" }).click();
    await expect(page.getByTestId("drift-table")).toContainText("major", { timeout: 8_000 });
  }).toPass({ timeout: 60_000 });
  const income = page.getByTestId("drift-table").locator("tr", { hasText: "income_k" });
  await expect(income).toContainText(/% of current traffic falls above the reference's 95th percentile/);
  await expect(page.getByTestId("drift-histogram")).toBeVisible();

  // The deployment's default rule (PSI above 0.2 on any feature) fires once, live.
  const incidents = page.getByTestId("incidents");
  await expect(incidents.locator("li", { hasText: "Input drift" })).toContainText("firing", { timeout: 30_000 });
  await shot(page, "41-monitoring-drift-alert");
  await incidents.locator("li", { hasText: "Input drift" }).getByRole("button", { name: "Acknowledge" }).click();
  await expect(incidents.locator("li", { hasText: "Input drift" })).toContainText("acknowledged");
  await expect(incidents.locator("li", { hasText: "Input drift" }).getByRole("button", { name: "Acknowledge" })).toHaveCount(0);

  // A rule of one's own, with a named error first.
  await page.getByRole("button", { name: "New rule" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("Name").fill("Income drift");
  await dialog.getByLabel("Metric").selectOption("drift_feature");
  await dialog.getByLabel("Feature").selectOption("income_k");
  await dialog.getByLabel("Fires above").fill("lots");
  await dialog.getByRole("button", { name: "Add rule" }).click();
  await expect(dialog.getByRole("alert")).toContainText("threshold");
  await shot(page, "44-monitoring-rule-error");
  await dialog.getByLabel("Fires above").fill("5"); // far above this drift: it stays quiet
  await dialog.getByRole("button", { name: "Add rule" }).click();
  await expect(dialog).toHaveCount(0);
  await expect(page.getByTestId("alert-rules")).toContainText("drift_feature(income_k) > 5 over 60 min · warning");

  // The alert reached the operator's inbox.
  await page.goto(`${A()}/w/${slug}/inbox`);
  await expect(page.getByText(/\[warning\] Input drift — credit-prod: drift \(max PSI over features\)/)).toBeVisible();
  await shot(page, "42-monitoring-inbox-alert");

  // The overview says the same at a glance.
  await page.goto(`${A()}/w/${slug}/monitoring`);
  const row = page.getByTestId("monitoring-overview").locator("tr", { hasText: "credit-prod" });
  await expect(row).toContainText("major");
  await expect(row).toContainText("1 acknowledged");
  await expect.poll(async () => Number(await page.getByTestId("live-rps-credit-prod").textContent()), { timeout: 15_000 }).toBeGreaterThan(5);
  await shot(page, "43-monitoring-overview");
});

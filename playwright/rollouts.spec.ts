import { execFileSync } from "node:child_process";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { A, person, shot, signUp, waitLive } from "./fixtures";

const root = path.resolve(import.meta.dirname, "..");
const helperEnv = () => ({
  ...process.env,
  DATABASE_URL: process.env.E2E_DATABASE_URL!,
  AUTH_SECRET: process.env.E2E_AUTH_SECRET!,
  NODE_ENV: "production" as const,
});

test("traffic follows approvals in the browser: an unapproved canary's Promote leads to its review, and a failed rollout is shown while the old version keeps serving", async ({
  page,
}) => {
  test.setTimeout(120_000);
  const me = person("Operator");
  await signUp(page, A(), me);
  await expect(page).toHaveURL(/\/workspaces$/);
  const slug = `roll-${me.email.slice(9, 15)}`;
  const out = execFileSync(process.execPath, ["--import", "tsx", "--import", "./bin/hooks/register.js", "playwright/seed-rollouts.ts", me.email, slug], {
    cwd: root,
    env: helperEnv(),
    stdio: "pipe",
  });
  const seeded = JSON.parse(out.toString().trim().split("\n").at(-1)!) as { review: number; v3: number };

  // credit-prod follows production (v1); the replica confirms it.
  await page.goto(`${A()}/w/${slug}/deployments/credit-prod`);
  await waitLive(page);
  await expect(page.getByTestId("binding")).toContainText("Bound to production");
  await expect(page.getByTestId("rollout-status")).toContainText("rollout of v1 is live", { timeout: 20_000 });

  // v2 is under review: the policy lets it take at most 25% as a canary — not 40%.
  await page.getByLabel("Canary", { exact: true }).selectOption("2");
  await page.getByLabel("Canary share (%)").fill("40");
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page.getByTestId("traffic-error")).toContainText("allows it as a canary of at most 25% until it is approved (asked for 40%)");
  await page.getByLabel("Canary share (%)").fill("20");
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page.getByTestId("deployment-versions")).toContainText("20%");
  await expect(page.getByTestId("canary-approval")).toContainText(`under review (#${seeded.review})`);
  // Promote is not offered for an unapproved canary: the review is.
  await expect(page.getByRole("button", { name: "Promote canary" })).toHaveCount(0);
  await shot(page, "33-deployment-canary-under-review");
  await page.getByTestId("request-review").click();
  await expect(page).toHaveURL(new RegExp(`/w/${slug}/reviews/${seeded.review}$`));
  await expect(page.getByRole("heading", { level: 1 })).toContainText(`#${seeded.review}`);

  // credit-dev (bound to "dev") is pinned to v3, whose artifact no longer matches its sha256.
  await page.goto(`${A()}/w/${slug}/deployments/credit-dev`);
  await expect(page.getByTestId("rollout-status")).toContainText("rollout of v1 is live", { timeout: 20_000 });
  await expect(page.getByTestId("binding")).toContainText("pinned to v1");
  await page.getByRole("button", { name: "Pin another version…" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("Pin to").selectOption(String(seeded.v3));
  await dialog.getByRole("button", { name: "Pin" }).click();
  const status = page.getByTestId("rollout-status");
  await expect(status).toContainText(`rollout of v${seeded.v3} failed: v${seeded.v3}'s artifact failed its sha256 check`, { timeout: 30_000 });
  await expect(status).toContainText("v1 keeps serving");
  await expect(page.getByTestId("deployment-versions")).toContainText("v1");
  await expect(page.getByTestId("deployment-history")).toContainText(`Rollout of v${seeded.v3} failed`);
  await expect(page.getByTestId("replicas")).toContainText("sha256 check");
  await shot(page, "34-deployment-rollout-failed");
});

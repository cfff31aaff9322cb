import { execFileSync } from "node:child_process";
import path from "node:path";
import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { A, person, shot, signUp, waitLive } from "./fixtures";

const root = path.resolve(import.meta.dirname, "..");

function seed(email: string, slug: string, role: string) {
  const out = execFileSync(process.execPath, ["--import", "tsx", "--import", "./bin/hooks/register.js", "playwright/seed-persona.ts", email, slug, role], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: process.env.E2E_DATABASE_URL!, AUTH_SECRET: process.env.E2E_AUTH_SECRET!, NODE_ENV: "production" },
    stdio: "pipe",
  });
  return JSON.parse(out.toString().trim().split("\n").at(-1)!) as { slug: string; review: number };
}

/** Errors the page logs (React, hydration, failed requests other than the ones a test provokes). */
function watchConsole(page: Page) {
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(e.message));
  return errors;
}

/** The header's controls sit side by side: none covers another at this width. */
async function expectHeaderUncrowded(page: Page) {
  const boxes = await page.locator("header button, header select").evaluateAll((els) =>
    els
      .map((e) => e.getBoundingClientRect())
      .filter((r) => r.width > 0)
      .map((r) => ({ left: r.left, right: r.right })),
  );
  const sorted = boxes.sort((a, b) => a.left - b.left);
  for (let i = 1; i < sorted.length; i++) expect(sorted[i]!.left, "header controls overlap").toBeGreaterThanOrEqual(sorted[i - 1]!.right - 0.5);
}

/** axe-core's serious and critical WCAG 2 A/AA violations on the page, one line each. */
async function axeViolations(page: Page) {
  const r = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa"]).analyze();
  return r.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.length}× e.g. ${v.nodes[0]?.target.join(" ")}`);
}

/** Nothing on the page is wider than the screen: no sideways scrolling. */
async function expectNoSidewaysScroll(page: Page, what: string) {
  const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
  expect(scroll, `${what} scrolls sideways (${scroll}px content in a ${width}px screen)`).toBeLessThanOrEqual(width);
}

const SCREENS = [
  { name: "a 390 px phone, light", key: "phone", viewport: { width: 390, height: 844 }, mobile: true, scheme: "light" as const },
  { name: "a 1440 px laptop, dark", key: "laptop-dark", viewport: { width: 1440, height: 900 }, mobile: false, scheme: "dark" as const },
];

for (const screen of SCREENS) {
  test.describe(`on ${screen.name}`, () => {
    test.use({ viewport: screen.viewport, isMobile: screen.mobile, hasTouch: screen.mobile, colorScheme: screen.scheme });

    test("a viewer reads every page without sideways scrolling, console errors or serious accessibility violations, and sees why they cannot act", async ({
      page,
    }) => {
      test.setTimeout(180_000);
      const errors = watchConsole(page);
      const who = person("Vera");
      await signUp(page, A(), who);
      await expect(page).toHaveURL(/\/workspaces$/);
      const { slug, review } = seed(who.email, `vw-${who.email.split("@")[0]!.split("-")[1]}`, "viewer");
      const base = `${A()}/w/${slug}`;
      await page.goto(base);
      await waitLive(page);

      if (screen.mobile) {
        // The sidebar is a menu: it opens over the page and navigates.
        await page.getByTestId("menu-button").click();
        await page.getByRole("dialog", { name: "Menu" }).getByRole("link", { name: "Models" }).click();
      } else await page.getByRole("link", { name: "Models" }).click();
      await expect(page).toHaveURL(`${base}/models`);
      await expect(page.getByTestId("models-table")).toContainText("credit-risk");
      await expect(page.getByTestId("locked-action")).toContainText("Register a model");

      const pages: [string, string, (p: Page) => Promise<void>][] = [
        ["home", base, async (p) => void (await expect(p.getByRole("main")).toBeVisible())],
        ["models", `${base}/models`, async (p) => void (await expect(p.getByTestId("models-table")).toBeVisible())],
        ["model", `${base}/models/credit-risk`, async (p) => void (await expect(p.getByText("credit-risk").first()).toBeVisible())],
        ["datasets", `${base}/datasets`, async (p) => void (await expect(p.getByText("credit-train").first()).toBeVisible())],
        ["reviews", `${base}/reviews`, async (p) => void (await expect(p.getByTestId("reviews-list")).toContainText(`#${review}`))],
        ["review room", `${base}/reviews/${review}`, async (p) => void (await expect(p.getByTestId("review-status")).toBeVisible())],
        ["deployments", `${base}/deployments`, async (p) => void (await expect(p.getByText("credit-prod").first()).toBeVisible())],
        ["deployment", `${base}/deployments/credit-prod`, async (p) => void (await expect(p.getByTestId("binding")).toBeVisible())],
        ["monitoring", `${base}/monitoring/credit-prod`, async (p) => void (await expect(p.getByRole("main")).toContainText("credit-prod"))],
        ["audit", `${base}/governance/audit`, async (p) => void (await expect(p.getByTestId("audit-table")).toBeVisible())],
      ];
      const axe: string[] = [];
      for (const [what, url, ready] of pages) {
        await page.goto(url);
        await ready(page);
        await expectNoSidewaysScroll(page, what);
        await expectHeaderUncrowded(page);
        axe.push(...(await axeViolations(page)).map((v) => `${what}: ${v}`));
        await shot(page, `${screen.key}-viewer-${what.replace(/ /g, "-")}`);
      }

      // The review room: signing is shown locked, with who can sign.
      await page.goto(`${base}/reviews/${review}`);
      const locked = page.getByTestId("locked-action").first();
      await expect(locked).toContainText("Approve…");
      await expect(locked.locator("xpath=..")).toHaveAttribute(
        "title",
        /Your role \(Viewer\) cannot sign reviews: reviewers, compliance officers, admins and owners can/,
      );
      // The request form is not offered: the page says why.
      await page.goto(`${base}/reviews/new`);
      await expect(page.getByTestId("no-permission")).toContainText("cannot open review requests");

      expect(errors, errors.join("\n")).toEqual([]);
      expect(axe, axe.join("\n")).toEqual([]);
    });

    test("a reviewer finds the review waiting on the home page and approves it with an e-signature, without sideways scrolling or console errors", async ({
      page,
    }) => {
      test.setTimeout(180_000);
      const errors = watchConsole(page);
      const who = person("Rhea");
      await signUp(page, A(), who);
      await expect(page).toHaveURL(/\/workspaces$/);
      const { slug, review } = seed(who.email, `rv-${screen.key}-${who.email.split("@")[0]!.split("-")[1]}`, "reviewer");
      const base = `${A()}/w/${slug}`;
      await page.goto(base);
      await waitLive(page);
      // Home knows what needs this person: the open review, one tap from the room.
      const needs = page.getByTestId("needs-list");
      await expect(needs).toContainText(`#${review}`);
      await expectNoSidewaysScroll(page, "home");
      await shot(page, `${screen.key}-reviewer-home`);
      await needs
        .getByRole("link", { name: new RegExp(`#${review}`) })
        .first()
        .click();
      await expect(page).toHaveURL(`${base}/reviews/${review}`);
      await expect(page.getByTestId("review-status")).toBeVisible();
      await expectNoSidewaysScroll(page, "review room");

      await page.getByRole("button", { name: "Approve…" }).click();
      await expect(page.getByLabel("Meaning of your signature")).toHaveValue("Approved for production release");
      await page.getByLabel("Your password").fill(who.password);
      await expectNoSidewaysScroll(page, "sign dialog");
      const axe = (await axeViolations(page)).map((v) => `sign dialog: ${v}`);
      await shot(page, `${screen.key}-reviewer-sign`);
      await page.getByRole("button", { name: "Sign and approve" }).click();
      await expect(page.getByTestId("signatures")).toContainText(who.name);
      // The production policy still needs a compliance officer: the room says so.
      await expect(page.getByTestId("checklist")).toContainText("needs 1 compliance officer approval");
      await expectNoSidewaysScroll(page, "review room after signing");
      axe.push(...(await axeViolations(page)).map((v) => `review room: ${v}`));
      await shot(page, `${screen.key}-reviewer-signed`);
      expect(errors, errors.join("\n")).toEqual([]);
      expect(axe, axe.join("\n")).toEqual([]);
    });

    test("an operator acknowledges and resolves the incident on the home page, then rolls credit-prod back from the palette", async ({ page }) => {
      test.setTimeout(180_000);
      const errors = watchConsole(page);
      const who = person("Otto");
      await signUp(page, A(), who);
      await expect(page).toHaveURL(/\/workspaces$/);
      const { slug } = seed(who.email, `op-${screen.key}-${who.email.split("@")[0]!.split("-")[1]}`, "ops");
      const base = `${A()}/w/${slug}`;
      await page.goto(base);
      await waitLive(page);
      // The firing drift alert is on the operator's home, one tap from the deployment's monitoring.
      const needs = page.getByTestId("needs-list");
      const firing = needs.getByRole("link", { name: /Firing: Input drift on credit-prod/ });
      await expect(firing).toBeVisible();
      await expectNoSidewaysScroll(page, "home");
      const axe = (await axeViolations(page)).map((v) => `home: ${v}`);
      await shot(page, `${screen.key}-ops-home`);
      await firing.click();
      await expect(page).toHaveURL(`${base}/monitoring/credit-prod`);
      const incident = page.getByTestId("incidents").locator("li", { hasText: "Input drift" }).first();
      await incident.getByRole("button", { name: "Acknowledge" }).click();
      await expect(incident).toContainText("acknowledged");
      await expectNoSidewaysScroll(page, "monitoring");
      await incident.getByRole("button", { name: "Resolve…" }).click();
      const note = `Rolled credit-prod back to v1 (${screen.key}); incomes shifted after the campaign.`;
      await page.getByRole("dialog").getByLabel("Why is it resolved?").fill(note);
      await expectNoSidewaysScroll(page, "resolve dialog");
      axe.push(...(await axeViolations(page)).map((v) => `resolve dialog: ${v}`));
      await shot(page, `${screen.key}-ops-resolve`);
      await page.getByRole("dialog").getByRole("button", { name: "Resolve incident" }).click();
      // The worker may fire a new incident while the drift lasts; this one is resolved, with its note.
      await expect(page.getByTestId("incidents").locator("li", { hasText: note })).toContainText("resolved");

      // The palette (the header's button: a phone has no ⌘K) rolls a deployment back by name.
      await page.getByRole("button", { name: "Open the command palette" }).click();
      await page.getByTestId("palette-input").fill("roll back credit");
      await page.getByRole("option", { name: "Roll back credit-prod…" }).click();
      await expect(page).toHaveURL(`${base}/deployments/credit-prod`);
      const rb = page.getByRole("dialog", { name: "Emergency rollback" });
      await expect(rb.getByLabel("Roll back to")).toHaveValue("1");
      await rb.getByLabel("Reason").fill("v2 over-scores the drifted incomes");
      await rb.getByLabel("Type credit-prod to confirm").fill("credit-prod");
      await expectNoSidewaysScroll(page, "rollback dialog");
      axe.push(...(await axeViolations(page)).map((v) => `rollback dialog: ${v}`));
      await shot(page, `${screen.key}-ops-rollback`);
      await rb.getByRole("button", { name: "Roll back" }).click();
      await expect(page.getByTestId("deployment-history")).toContainText(
        "Emergency rollback to v1 (from v2); pinned. Reason: v2 over-scores the drifted incomes",
      );
      // Asked once: the confirmation does not come back when the page shows the new revision.
      await expect(rb).toHaveCount(0);
      expect(new URL(page.url()).searchParams.has("rollback")).toBe(false);
      await expectNoSidewaysScroll(page, "deployment after rollback");
      axe.push(...(await axeViolations(page)).map((v) => `deployment: ${v}`));
      expect(errors, errors.join("\n")).toEqual([]);
      expect(axe, axe.join("\n")).toEqual([]);
    });
  });
}

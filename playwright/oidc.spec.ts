import { execFileSync } from "node:child_process";
import path from "node:path";
import { expect, test, type Page } from "@playwright/test";
import { A, person, shot, waitLive } from "./fixtures";

const root = path.resolve(import.meta.dirname, "..");

/** The issuer's own login form (another origin); its consent page only when it has no grant yet. */
async function loginAtIssuer(page: Page, email: string, backAt: RegExp) {
  await expect(page).toHaveURL(/localhost:\d+\/interaction\//);
  await page.locator('input[name="login"]').fill(email);
  await page.locator('input[name="password"]').fill("anything");
  await page.getByRole("button", { name: "Sign-in" }).click();
  const consent = page.getByRole("button", { name: "Continue" });
  await expect(consent.or(page.getByRole("main"))).toBeVisible();
  if (await consent.isVisible()) await consent.click();
  await expect(page).toHaveURL(backAt);
}

test("signs in through an OpenID Connect issuer and lands signed in with a new account", async ({ page }) => {
  const who = person("Olivia");
  await page.goto(`${A()}/signin`);
  await page.getByRole("button", { name: "Continue with Acme SSO" }).click();
  // The issuer's own login page, on another origin.
  await expect(page).toHaveURL(/localhost:\d+\/interaction\//);
  await page.locator('input[name="login"]').fill(who.email);
  await page.locator('input[name="password"]').fill("anything");
  await page.getByRole("button", { name: "Sign-in" }).click();
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page).toHaveURL(new RegExp(`^${A()}/workspaces$`));
  await expect(page.getByText(who.email)).toBeVisible();
  await shot(page, "10-after-oidc");

  // The account is Steward's own now: it can create a workspace, whose trail shows the sign-in method.
  const slug = `olivia-${who.email.slice(7, 13)}`;
  await page.getByLabel("Name", { exact: true }).fill("Olivia Team");
  await page.getByLabel("URL name").fill(slug);
  await page.getByRole("button", { name: "Create workspace" }).click();
  await expect(page).toHaveURL(new RegExp(`/w/${slug}$`));
});

test("an account from single sign-on e-signs with a fresh login at the provider, and the alias moves", async ({ page }) => {
  test.setTimeout(120_000);
  const who = person("Sam");
  await page.goto(`${A()}/signin`);
  await page.getByRole("button", { name: "Continue with Acme SSO" }).click();
  await loginAtIssuer(page, who.email, new RegExp(`^${A()}/workspaces$`));
  const slug = `sso-${who.email.split("@")[0]}`;
  const out = execFileSync(process.execPath, ["--import", "tsx", "--import", "./bin/hooks/register.js", "playwright/seed-sso-review.ts", who.email, slug], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: process.env.E2E_DATABASE_URL!, AUTH_SECRET: process.env.E2E_AUTH_SECRET!, NODE_ENV: "production" },
    stdio: "pipe",
  });
  const { review } = JSON.parse(out.toString().trim().split("\n").at(-1)!) as { review: number };
  const room = `${A()}/w/${slug}/reviews/${review}`;
  await page.goto(room);
  await waitLive(page);
  await page.getByRole("button", { name: "Approve…" }).click();
  const dialog = page.getByRole("dialog");
  // No password to type: the provider will ask for the credentials instead.
  await expect(dialog.getByTestId("sso-sign-note")).toContainText("Acme SSO asks for your credentials again");
  await expect(dialog.getByLabel("Your password")).toHaveCount(0);
  await shot(page, "11-sso-sign-dialog");
  await dialog.getByRole("button", { name: "Continue to Acme SSO to approve" }).click();
  // The provider asks again although this browser signed in there a minute ago (prompt=login, max_age=0).
  await loginAtIssuer(page, who.email, new RegExp(`^${A()}/api/esign/callback`));
  // Steward shows what is about to be signed; only this browser (its cookie) can confirm it.
  await expect(page.getByRole("heading", { name: "Confirm your signature" })).toBeVisible();
  await expect(page.getByRole("main")).toContainText(`#${review}: risk v2 → production`);
  await expect(page.getByRole("main")).toContainText("“Approved for production release”");
  await shot(page, "12-sso-confirm");
  await page.getByRole("button", { name: "Sign and approve" }).click();
  await expect(page).toHaveURL(new RegExp(`^${room}`));
  await expect(page.getByText("Signed: approved, and the alias moved.")).toBeVisible();
  await expect(page).toHaveURL(room);
  await expect(page.getByTestId("review-status")).toContainText(/approved/i);
  await expect(page.getByText("confirmed by a fresh single-sign-on login")).toBeVisible();
  await shot(page, "13-after-sso-signature");
});

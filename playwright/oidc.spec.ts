import { expect, test } from "@playwright/test";
import { A, person, shot } from "./fixtures";

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

import { expect, test } from "@playwright/test";
import { A, B, person, shot, signUp, waitLive } from "./fixtures";

/**
 * The foundation journey across two web processes: Ada works on replica A, Bob on
 * replica B. Everything Bob does reaches Ada's open pages live, through Postgres.
 */
test("sign up, create a workspace, invite a colleague who joins from another server, see it live, verify the chain", async ({ browser }) => {
  const ada = person("Ada");
  const bob = person("Bob");
  const ctxA = await browser.newContext({ baseURL: A() });
  const ctxB = await browser.newContext({ baseURL: B() });
  const adaPage = await ctxA.newPage();

  await adaPage.goto(`${A()}/signin`);
  await shot(adaPage, "01-sign-in");

  await signUp(adaPage, A(), ada);
  await expect(adaPage).toHaveURL(/\/workspaces$/);
  await expect(adaPage.getByText("You are not in any workspace yet")).toBeVisible();
  const session = (await ctxA.cookies()).find((c) => c.name === "next-auth.session-token");
  expect(session).toMatchObject({ httpOnly: true, sameSite: "Lax", secure: false }); // Secure behind https
  await shot(adaPage, "02-workspaces-empty");

  const slug = `risk-${ada.email.slice(4, 10)}`;
  await adaPage.getByLabel("Name", { exact: true }).fill("Credit Risk");
  await adaPage.getByLabel("URL name").fill(slug);
  await adaPage.getByRole("button", { name: "Create workspace" }).click();
  await expect(adaPage).toHaveURL(new RegExp(`/w/${slug}$`));
  await waitLive(adaPage);
  await expect(adaPage.getByTestId("activity-feed")).toContainText('created the workspace "Credit Risk"');

  // Invite Bob as a reviewer; the link is shown once.
  await adaPage.getByRole("link", { name: "Settings" }).click();
  await expect(adaPage).toHaveURL(new RegExp(`/w/${slug}/settings/members$`));
  await adaPage.getByRole("button", { name: "Invite member" }).click();
  await adaPage.getByLabel("E-mail").fill(bob.email);
  await adaPage.getByLabel("Role").selectOption("reviewer");
  await adaPage.getByRole("button", { name: "Create invitation" }).click();
  const link = await adaPage.getByTestId("invite-link").inputValue();
  expect(link).toMatch(new RegExp(`^${A()}/invite/[A-Za-z0-9_-]{43}$`));
  await shot(adaPage, "03-invite-link");
  await adaPage.getByRole("button", { name: "Done" }).click();
  await expect(adaPage.getByText(bob.email)).toBeVisible(); // in open invitations

  // Ada also keeps the audit trail open in a second tab.
  const adaAudit = await ctxA.newPage();
  await adaAudit.goto(`${A()}/w/${slug}/governance/audit`);
  await waitLive(adaAudit);
  await expect(adaAudit.getByTestId("audit-table")).toContainText("member.invited");

  // Bob opens the link on the other web process, signs up, accepts.
  const bobPage = await ctxB.newPage();
  const invitePath = new URL(link).pathname;
  await bobPage.goto(`${B()}${invitePath}`);
  await expect(bobPage.getByRole("heading", { name: "Join Credit Risk" })).toBeVisible();
  await expect(bobPage.getByText(`invited ${bob.email} as Reviewer`)).toBeVisible();
  await shot(bobPage, "04-invitation");
  await bobPage.getByRole("link", { name: "Create account" }).click();
  await signUp(bobPage, B(), bob, invitePath);
  await expect(bobPage).toHaveURL(new RegExp(`${invitePath}$`));
  await bobPage.getByRole("button", { name: "Accept invitation" }).click();
  await expect(bobPage).toHaveURL(new RegExp(`/w/${slug}$`));
  await waitLive(bobPage);

  // Ada's pages on replica A update without reload.
  const bobRow = adaPage.getByTestId("members-table").locator(`tr[data-email="${bob.email}"]`);
  await expect(bobRow).toBeVisible();
  await expect(bobRow).toContainText("Reviewer");
  await expect(adaAudit.getByTestId("audit-table").locator('[data-action="member.joined"]')).toHaveCount(2);
  await expect(adaAudit.getByTestId("audit-table")).toContainText(`${bob.email} joined as Reviewer`);
  await shot(adaPage, "05-members");

  // Bob's home feed on replica B sees Ada's role change live.
  await expect(bobPage.getByTestId("activity-feed")).toContainText(`${bob.email} joined as Reviewer`);
  await adaPage.getByLabel(`Role of ${bob.email}`).selectOption("ops");
  await expect(bobPage.getByTestId("activity-feed")).toContainText(`role from Reviewer to Ops`);
  await shot(bobPage, "06-home-as-bob");

  // Verify the chain.
  await adaAudit.getByRole("button", { name: "Verify chain" }).click();
  await expect(adaAudit.getByTestId("verify-result")).toContainText("Chain intact");
  await expect(adaAudit.getByTestId("audit-table")).toContainText("verified the audit chain: intact");
  await adaAudit.getByRole("combobox", { name: "Action" }).selectOption("member.role_changed");
  await expect(adaAudit.getByTestId("audit-table").locator("[data-action]")).toHaveCount(1);
  await adaAudit.getByRole("button", { name: "Clear filters" }).click();
  await adaAudit.getByRole("button", { name: /Details of event 1$/ }).click();
  await expect(adaAudit.getByTestId("audit-table")).toContainText('"Credit Risk"');
  await shot(adaAudit, "07-audit-trail");

  // Removing Bob cuts him off at once: his page leaves the workspace by itself.
  await bobRow.getByRole("button", { name: "Remove" }).click();
  // The confirmation names who loses what before anything happens.
  await expect(adaPage.getByTestId("confirm-consequence")).toContainText("loses access at once");
  await shot(adaPage, "08-confirm-remove-member");
  await adaPage.getByTestId("confirm-dialog").getByRole("button", { name: "Remove member" }).click();
  await expect(bobRow).toHaveCount(0);
  await expect(bobPage).toHaveURL(/\/workspaces$/);
  await expect(bobPage.getByText("You are not in any workspace yet")).toBeVisible();

  // Settings › System is the instance's, not the workspace's: its owner does not see it...
  const adaTabs = adaPage.getByRole("navigation", { name: "Settings" });
  await expect(adaTabs.getByRole("link", { name: "Members" })).toBeVisible();
  await expect(adaTabs.getByRole("link", { name: "System" })).toHaveCount(0);
  await expect(adaTabs.getByRole("link", { name: "Instance" })).toHaveCount(0);
  // ...the instance administrator (the first account, made by global-setup) sees the worker alive.
  const ctxAdmin = await browser.newContext({ baseURL: A() });
  const adminPage = await ctxAdmin.newPage();
  const adminMembers = `/w/${process.env.E2E_ADMIN_SLUG}/settings/members`;
  await adminPage.goto(`${A()}/signin?callbackUrl=${encodeURIComponent(adminMembers)}`);
  await adminPage.waitForLoadState("networkidle");
  await adminPage.getByLabel("E-mail").fill(process.env.E2E_ADMIN_EMAIL!);
  await adminPage.getByLabel("Password").fill(process.env.E2E_ADMIN_PASSWORD!);
  await adminPage.getByRole("button", { name: "Sign in" }).click();
  await expect(adminPage).toHaveURL(new RegExp(`${adminMembers}$`));
  await adminPage.getByRole("link", { name: "System" }).click();
  await expect(adminPage.getByTestId("workers-table")).toContainText("alive");
  await shot(adminPage, "08-system");
  await adminPage.getByRole("link", { name: "Instance" }).click();
  await expect(adminPage.getByTestId("instance-settings")).toContainText("locked by SIGNUP=open");
  await shot(adminPage, "08b-instance");
  await ctxAdmin.close();

  // Monitoring, with nothing deployed yet, says what to do.
  await adaPage.getByRole("link", { name: /Monitoring/ }).click();
  await expect(adaPage.getByText("Nothing deployed yet")).toBeVisible();
  await shot(adaPage, "09-monitoring-empty");

  await ctxA.close();
  await ctxB.close();
});

test("sign-in shows a clear error for a wrong password, and a non-member cannot see a workspace", async ({ page }) => {
  const eve = person("Eve");
  await signUp(page, A(), eve);
  await expect(page).toHaveURL(/\/workspaces$/);
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/signin/);
  // Let the sign-out redirects settle before typing (a late navigation would clear the form).
  await page.waitForLoadState("networkidle");
  await expect(page.getByRole("button", { name: "Sign in" })).toBeEnabled();
  await page.getByLabel("E-mail").fill(eve.email);
  await page.getByLabel("Password").fill("not-the-password-at-all");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.locator("form [role=alert]")).toHaveText("E-mail or password is incorrect.");
  await page.getByLabel("Password").fill(eve.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/workspaces$/);
  const res = await page.goto(`${A()}/w/acme-does-not-exist`);
  expect(res?.status()).toBe(404);
  await expect(page.getByText("This page does not exist, or you do not have access to it.")).toBeVisible();

  // Inside her own workspace, a model, review or run that does not exist is a real 404 with a way back.
  await page.goto(`${A()}/workspaces`);
  const slug = `eve-${eve.email.split("@")[0]!.split("-")[1]}`;
  await page.getByLabel("Name", { exact: true }).fill("Eve's");
  await page.getByLabel("URL name").fill(slug);
  await page.getByRole("button", { name: "Create workspace" }).click();
  await expect(page).toHaveURL(new RegExp(`/w/${slug}$`));
  for (const [path, back] of [
    ["models/no-such-model", "Back to Models"],
    ["reviews/999", "Back to Reviews"],
    ["pipelines/runs/not-a-run", "Back to Pipelines"],
  ] as const) {
    const missing = await page.goto(`${A()}/w/${slug}/${path}`);
    expect(missing?.status(), path).toBe(404);
    await expect(page.getByTestId("not-found")).toContainText("does not exist in Eve's");
    await expect(page.getByRole("link", { name: back })).toBeVisible();
  }
  await shot(page, "13-not-found-in-workspace");
  await page.getByRole("link", { name: "Back to Pipelines" }).click();
  await expect(page).toHaveURL(new RegExp(`/w/${slug}/pipelines$`));
});

test("security headers and JSON-only mutations", async ({ request }) => {
  const res = await request.get(`${A()}/signin`);
  const csp = res.headers()["content-security-policy"] ?? "";
  expect(csp).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9+/=]+' 'strict-dynamic'/);
  expect(csp).toContain("frame-ancestors 'none'");
  expect(res.headers()["x-content-type-options"]).toBe("nosniff");
  const html = await res.text();
  const nonce = /'nonce-([^']+)'/.exec(csp)![1]!;
  expect(html).toContain(`nonce="${nonce}"`);

  // What a cross-site HTML form could send is refused before tRPC sees it.
  const form = await request.post(`${A()}/api/trpc/auth.signUp`, {
    headers: { "content-type": "application/x-www-form-urlencoded" },
    data: "name=x&email=x@example.com&password=aaaaaaaaaaaaaaaa",
  });
  expect(form.status()).toBe(415);
  const anon = await request.get(`${A()}/api/trpc/workspaces.list`);
  expect(anon.status()).toBe(401);
});

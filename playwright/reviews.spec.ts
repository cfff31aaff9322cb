import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, test, type Browser, type Page } from "@playwright/test";
import { logisticRegressionOnnx } from "../db/seed/onnx-builder";
import { A, B, person, shot, signUp, waitLive } from "./fixtures";

async function invite(owner: Page, email: string, role: string) {
  await owner.getByRole("button", { name: "Invite member" }).click();
  await owner.getByLabel("E-mail").fill(email);
  await owner.getByLabel("Role").selectOption(role);
  await owner.getByRole("button", { name: "Create invitation" }).click();
  const link = await owner.getByTestId("invite-link").inputValue();
  await owner.getByRole("button", { name: "Done" }).click();
  return new URL(link).pathname;
}

async function join(browser: Browser, base: string, p: ReturnType<typeof person>, invitePath: string, slug: string) {
  const ctx = await browser.newContext({ baseURL: base });
  const page = await ctx.newPage();
  await page.goto(`${base}${invitePath}`);
  await page.getByRole("link", { name: "Create account" }).click();
  await signUp(page, base, p, invitePath);
  await expect(page).toHaveURL(new RegExp(`${invitePath}$`));
  await page.getByRole("button", { name: "Accept invitation" }).click();
  await expect(page).toHaveURL(new RegExp(`/w/${slug}$`));
  await waitLive(page);
  return page;
}

test("requester, reviewer and compliance officer review a model together and approve it with e-signatures; the alias moves", async ({ browser }) => {
  test.setTimeout(180_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "steward-e2e-review-"));
  const features = ["age", "income_k", "debt_ratio"];
  fs.writeFileSync(path.join(dir, "v1.onnx"), logisticRegressionOnnx({ weights: [0.01, -0.01, 2], bias: -1, featureNames: features }));
  fs.writeFileSync(path.join(dir, "v2.onnx"), logisticRegressionOnnx({ weights: [0.02, -0.02, 3], bias: -1.5, featureNames: features }));
  const owner = person("Olive");
  const rev = person("Rita");
  const comp = person("Carl");
  const adm = person("Ada");

  // The requester: a workspace, two colleagues, a model with two versions.
  const ctx = await browser.newContext({ baseURL: A() });
  const me = await ctx.newPage();
  await signUp(me, A(), owner);
  await expect(me).toHaveURL(/\/workspaces$/);
  const slug = `rv-${owner.email.slice(6, 12)}`;
  await me.getByLabel("Name", { exact: true }).fill("Lending");
  await me.getByLabel("URL name").fill(slug);
  await me.getByRole("button", { name: "Create workspace" }).click();
  await expect(me).toHaveURL(new RegExp(`/w/${slug}$`));
  await waitLive(me);
  await me.getByRole("link", { name: "Settings" }).click();
  const revLink = await invite(me, rev.email, "reviewer");
  const compLink = await invite(me, comp.email, "compliance_officer");
  const admLink = await invite(me, adm.email, "admin");
  const reviewer = await join(browser, B(), rev, revLink, slug); // on the other web replica
  const officer = await join(browser, A(), comp, compLink, slug);
  const admin = await join(browser, A(), adm, admLink, slug);

  await me.getByRole("link", { name: "Models" }).click();
  for (const v of ["v1", "v2"]) {
    if (v === "v1") await me.getByRole("button", { name: "Register a model" }).click();
    else await me.getByRole("button", { name: "New version" }).click();
    if (v === "v1") await me.getByLabel("Model name").fill("risk");
    await me
      .getByRole("dialog")
      .getByTestId("file-input")
      .setInputFiles(path.join(dir, `${v}.onnx`));
    await me.getByRole("button", { name: "Register" }).click();
    if (v === "v1") {
      await expect(me.getByTestId("models-table")).toContainText("risk");
      await me.getByRole("link", { name: "risk" }).click();
    } else await expect(me.getByTestId("versions-table").locator("tbody tr")).toHaveCount(2);
  }
  // production cannot be set directly: the control offers a review instead.
  await me.getByLabel("Alias", { exact: true }).fill("production");
  await expect(me.getByRole("link", { name: "Request review…" })).toBeVisible();

  // These versions have no evaluation data, so the owner proposes a production policy that
  // waives checks; it applies only when a second admin (Ada) approves it.
  await me.goto(`${A()}/w/${slug}/settings/policies`);
  const prodPolicy = me.getByTestId("policy-production");
  await prodPolicy.getByLabel("Checks that must pass").fill("");
  await prodPolicy.getByLabel("Why this change (shown to the admin who approves it)").fill("These versions have no evaluation data yet.");
  await prodPolicy.getByRole("button", { name: "Propose change" }).click();
  // The guard rail: the change field by field, and that it weakens the gate, before anything is proposed.
  const confirm = me.getByTestId("confirm-dialog");
  await expect(confirm.getByTestId("policy-diff")).toContainText("Checks that must pass");
  await expect(confirm.getByTestId("policy-diff")).toContainText("weakens");
  await expect(confirm.getByTestId("confirm-consequence")).toHaveText('This weakens the gate for "production" in one place.');
  await expect(me.getByTestId("pending-change-production")).toHaveCount(0);
  await shot(me, "40-approval-policy-confirm");
  await confirm.getByRole("button", { name: "Propose change" }).click();
  await expect(me.getByTestId("pending-change-production")).toContainText("Checks that must pass");
  await expect(me.getByTestId("waiting-for-admin")).toBeVisible();
  await expect(me.getByText("Default policy (not saved yet)").first()).toBeVisible();
  await shot(me, "40-approval-policy-proposed");
  await admin.goto(`${A()}/w/${slug}/settings/policies`);
  const pending = admin.getByTestId("pending-change-production");
  await expect(pending).toContainText("weakens");
  await pending.getByRole("button", { name: "Approve change" }).click();
  await expect(admin.getByText("Version 1, proposed by Olive Tester, approved by Ada Tester")).toBeVisible();
  await expect(me.getByText("Version 1, proposed by Olive Tester, approved by Ada Tester")).toBeVisible(); // live, through the audit hint
  await shot(me, "40-approval-policies");

  // Open the review, assigning Rita.
  await me.goto(`${A()}/w/${slug}/reviews/new?model=risk&version=2&alias=production`);
  await expect(me.getByTestId("policy-summary")).toContainText("1 reviewer + 1 compliance officer");
  await me.getByLabel("Summary").fill("v2 weighs debt ratio more. Please check the **limitations**.");
  await me.getByRole("checkbox", { name: /Rita Tester/ }).check();
  await me.getByRole("button", { name: "Open review" }).click();
  await expect(me).toHaveURL(new RegExp(`/w/${slug}/reviews/1$`));
  await expect(me.getByTestId("checklist")).toContainText("needs 1 reviewer approval");
  await expect(me.getByTestId("checklist")).toContainText("needs 1 compliance officer approval");

  // Rita sees it in her inbox (live count), opens it from there.
  await expect(reviewer.getByTestId("unread-count")).toHaveText("1");
  await reviewer.getByTestId("inbox-bell").click();
  await expect(reviewer.getByTestId("inbox")).toContainText("You were asked to review #1: risk v2 → production");
  await reviewer.getByTestId("inbox").getByRole("link").first().click();
  await expect(reviewer).toHaveURL(new RegExp(`/w/${slug}/reviews/1$`));
  await expect(officer.getByTestId("unread-count")).toHaveText("1"); // approval needed
  await officer.goto(`${A()}/w/${slug}/reviews/1`);

  // Presence: everyone sees who is in the room.
  for (const page of [me, reviewer, officer]) {
    await expect(page.getByTestId("presence")).toContainText("Olive Tester", { timeout: 15_000 });
    await expect(page.getByTestId("presence")).toContainText("Rita Tester");
    await expect(page.getByTestId("presence")).toContainText("Carl Tester");
  }

  // A comment with a mention, picked from the autocomplete; it arrives live in the other rooms.
  const box = me.getByLabel("New comment");
  await box.click();
  await box.pressSequentially("Carl, can you check the card? @Car");
  await expect(me.getByRole("option", { name: /Carl Tester/ })).toBeVisible();
  await box.press("Enter");
  // The autocomplete writes Carl's handle (his e-mail's local part); the room shows his name, the e-mail on hover.
  await expect(box).toHaveValue(`Carl, can you check the card? @${comp.email.split("@")[0]} `);
  await me.getByRole("button", { name: "Comment", exact: true }).click();
  for (const page of [reviewer, officer]) await expect(page.getByTestId("threads")).toContainText("can you check the card?");
  const mentionShown = officer.getByTestId("threads").getByText("@Carl Tester");
  await expect(mentionShown).toBeVisible();
  await expect(mentionShown).toHaveAttribute("title", comp.email);
  await expect(officer.getByTestId("unread-count")).toHaveText("2");

  // Typing indicator: Rita replies; Olive sees her typing.
  const reply = reviewer.getByLabel("Reply");
  await reply.click();
  await reply.pressSequentially("Looks fine to me.", { delay: 50 });
  await expect(me.getByTestId("typing")).toContainText("Rita Tester is typing");
  await reviewer.getByRole("button", { name: "Reply", exact: true }).click();
  await expect(me.getByTestId("threads")).toContainText("Looks fine to me.");
  await me.evaluate(() => window.scrollTo(0, 0));
  await shot(me, "41-review-room");

  // The requester cannot approve; Rita approves with her password.
  await expect(me.getByRole("button", { name: "Approve…" })).toHaveCount(0);
  await reviewer.getByRole("button", { name: "Approve…" }).click();
  await expect(reviewer.getByLabel("Meaning of your signature")).toHaveValue("Approved for production release");
  await reviewer.getByLabel("Your password").fill(rev.password);
  await shot(reviewer, "42-sign-dialog");
  await reviewer.getByRole("button", { name: "Sign and approve" }).click();
  await expect(me.getByTestId("signatures")).toContainText("Rita Tester");
  await expect(me.getByTestId("checklist")).not.toContainText("needs 1 reviewer approval");
  await expect(me.getByTestId("checklist")).toContainText("needs 1 compliance officer approval");

  // Carl signs; a wrong password is refused first.
  await officer.getByRole("button", { name: "Approve…" }).click();
  await officer.getByLabel("Your password").fill("not-my-password");
  await officer.getByRole("button", { name: "Sign and approve" }).click();
  await expect(officer.getByTestId("sign-error")).toContainText("The password is incorrect");
  await officer.getByLabel("Your password").fill(comp.password);
  await officer.getByRole("button", { name: "Sign and approve" }).click();

  // Everyone watches it close; the alias has moved.
  for (const page of [me, reviewer, officer]) await expect(page.getByTestId("review-status")).toHaveText("approved");
  await expect(me.getByTestId("signatures")).toContainText("Compliance officer");
  await expect(me.getByTestId("review-activity")).toContainText("moved to production");
  await me.evaluate(() => window.scrollTo(0, 0));
  await shot(me, "43-review-approved");
  await me.goto(`${A()}/w/${slug}/models/risk`);
  await expect(me.getByTestId("versions-table").locator("tr", { hasText: "v2" })).toContainText("production");
  await me.goto(`${A()}/w/${slug}/reviews`);
  await me.getByRole("tab", { name: "Closed" }).click();
  await expect(me.getByTestId("reviews-list")).toContainText("#1 risk v2 → production");
});

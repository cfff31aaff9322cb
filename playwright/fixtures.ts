import { randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { expect, type Page } from "@playwright/test";

export const A = () => process.env.E2E_BASE_URL_A!;
export const B = () => process.env.E2E_BASE_URL_B!;

const SHOTS = path.join(import.meta.dirname, "screenshots");

/** Screenshots of the main pages, to look at (git-ignored). */
export async function shot(page: Page, name: string) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

export function person(first: string) {
  const id = randomUUID().slice(0, 6);
  return { name: `${first} Tester`, email: `${first.toLowerCase()}-${id}@e2e.steward.local`, password: `Pw-${randomUUID()}` };
}

export async function signUp(page: Page, base: string, p: ReturnType<typeof person>, callbackUrl?: string) {
  await page.goto(`${base}/signup${callbackUrl ? `?callbackUrl=${encodeURIComponent(callbackUrl)}` : ""}`);
  await page.getByLabel("Name").fill(p.name);
  await page.getByLabel("E-mail").fill(p.email);
  await page.getByLabel("Password").fill(p.password);
  await page.getByRole("button", { name: "Create account" }).click();
}

export async function waitLive(page: Page) {
  await expect(page.getByTestId("realtime-status")).toHaveAttribute("data-status", "live");
}

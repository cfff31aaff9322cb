import { chromium } from "@playwright/test";
const [,, email, password, ...paths] = process.argv;
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"] });
const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
await page.goto("http://localhost:3000/signin");
await page.getByLabel("E-mail").fill(email);
await page.getByLabel("Password").fill(password);
await page.getByRole("button", { name: /sign in/i }).click();
await page.waitForURL(/\/w\//);
for (const p of paths) {
  const [url, name, click] = p.split("|");
  await page.goto("http://localhost:3000" + url);
  await page.waitForLoadState("networkidle");
  if (click) { await page.getByText(click, { exact: true }).first().click(); await page.waitForTimeout(800); }
  await page.waitForTimeout(1200);
  await page.screenshot({ path: `/tmp/shots/${name}.png`, fullPage: true });
  console.log("shot", name);
}
await browser.close();

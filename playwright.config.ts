import { defineConfig } from "@playwright/test";

/**
 * End-to-end in Debian's Chromium against the production build: two web processes on
 * two ports and a worker, all on one real Postgres (see playwright/global-setup.ts).
 */
export default defineConfig({
  testDir: "playwright",
  globalSetup: "./playwright/global-setup.ts",
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [["list"]],
  use: {
    baseURL: process.env.E2E_BASE_URL_A,
    trace: "retain-on-failure",
    viewport: { width: 1360, height: 900 },
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic", "--no-first-run"],
    },
  },
});

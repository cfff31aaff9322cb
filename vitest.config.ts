import path from "node:path";
import { defineConfig } from "vitest/config";

const alias = {
  "~": path.resolve(import.meta.dirname),
  // Outside Next.js we are on the server by definition (see bin/hooks/register.js).
  "server-only": path.resolve(import.meta.dirname, "test/server-only-stub.ts"),
};

export default defineConfig({
  resolve: { alias },
  test: {
    env: { TZ: "UTC" },
    projects: [
      {
        resolve: { alias },
        test: {
          name: "unit",
          include: ["**/*.test.ts", "**/*.test.tsx"],
          exclude: ["**/*.int.test.ts", "**/*.fault.test.ts", "node_modules/**", "playwright/**", ".steward/**"],
          environment: "node",
        },
      },
      {
        resolve: { alias },
        test: {
          name: "int",
          include: ["**/*.int.test.ts"],
          exclude: ["node_modules/**", "playwright/**", ".steward/**"],
          environment: "node",
          globalSetup: ["test/global-setup.ts"],
          setupFiles: ["test/setup-env.ts"],
          testTimeout: 30_000,
          hookTimeout: 60_000,
          pool: "forks",
        },
      },
      {
        resolve: { alias },
        test: {
          // npm run test:faults: Postgres stopped and started under load, on a cluster of the
          // suite's own (test/faults/setup.ts), one file at a time.
          name: "faults",
          include: ["**/*.fault.test.ts"],
          exclude: ["node_modules/**", "playwright/**", ".steward/**"],
          environment: "node",
          setupFiles: ["test/faults/setup.ts"],
          testTimeout: 150_000,
          hookTimeout: 120_000,
          pool: "forks",
          fileParallelism: false,
        },
      },
    ],
  },
});

import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "node_modules/**",
      ".next/**",
      ".steward/**",
      "db/migrations/**",
      "playwright-report/**",
      "test-results/**",
      "next-env.d.ts",
      "bin/hooks/**",
      "bin/*.mjs",
      // Plain JavaScript run by worker threads (no TypeScript loader there); checked by the inference tests.
      "workers/inference/thread.mjs",
      "eslint.config.js",
      "postcss.config.mjs",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: { attributes: false } }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/require-await": "off",
      "@typescript-eslint/only-throw-error": "off",
      "no-restricted-imports": [
        "error",
        { paths: [{ name: "onnxruntime-node", message: "Only workers/ may import onnxruntime-node." }] },
      ],
      "no-restricted-properties": [
        "error",
        { object: "process", property: "env", message: "Read configuration through env.ts." },
      ],
    },
  },
  {
    // Services never import tRPC: they throw AppError and stay callable from jobs.
    files: ["**/*.service.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        { patterns: [{ group: ["@trpc/*"], message: "Services throw AppError; tRPC stays in routers." }] },
      ],
    },
  },
  {
    // The worker and inspection processes are where onnxruntime-node belongs (and the
    // benches, which compare Steward with the raw runtime).
    files: ["workers/**", "bench/**"],
    rules: { "no-restricted-imports": "off" },
  },
  {
    // expect.stringMatching() and friends are typed `any` by design.
    files: ["**/*.test.ts", "playwright/**", "test/**"],
    rules: { "@typescript-eslint/no-unsafe-assignment": "off", "@typescript-eslint/unbound-method": "off" },
  },
  {
    // Configuration loaders, process supervisors and test harnesses are where the environment is read.
    files: ["env.ts", "bin/**", "bench/**", "test/**", "playwright/**", "playwright.config.ts", "drizzle.config.ts", "db/migrate-cli.ts", "server.ts", "proxy.ts", "components/trpc/client.tsx", "**/*.test.ts"],
    rules: { "no-restricted-properties": "off" },
  },
);

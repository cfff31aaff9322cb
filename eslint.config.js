import js from "@eslint/js";
import tseslint from "typescript-eslint";

/*
 * Import zones. Each process loads a folder and what that folder may import:
 *   server/shared/   browser-safe: the browser, web, worker and inference all load it
 *   server/<domain>/ the core: services loaded by web, worker and inference (never the browser)
 *   server/web/      the web process only: tRPC, REST, next-auth, the socket.io server
 *   workers/worker/  the worker process;  workers/inference/ the inference process;
 *   workers/inspect/ the inspection child processes (spawned by path, loaded by nobody)
 */
const rule = (group, message, allowTypeImports = false) => ({ group, message, allowTypeImports });
const climb = rule(["../*", "../**"], "Import across folders with ~/… so the zone rules can see it.");
const onnx = rule(["onnxruntime-node"], "Only workers/ may import onnxruntime-node.");
const web = rule(["~/server/web/*", "~/server/web/**"], "server/web/ is loaded by the web process only.");
const ui = rule(["~/components/*", "~/components/**", "~/app/*", "~/app/**"], "Only the web UI loads components/ and app/.");
const SERVICE = rule(["@trpc/*"], "Services throw AppError; tRPC stays in routers.");
const BROWSER = [
  // Types are erased: the browser may name the router's and the schema's types.
  { regex: "^~/server/(?!shared/)", message: "The browser loads server/shared/ only (the router's types via `import type`).", allowTypeImports: true },
  rule(["~/db/*", "~/db/**"], "The browser never loads Drizzle tables (types only, via `import type`).", true),
  rule(["~/workers/*", "~/workers/**", "~/env", "server-only", "node:*"], "Not loadable in the browser."),
  onnx,
  climb,
];
const CORE = [web, ui, rule(["~/workers/*", "~/workers/**"], "The core is loaded by every process; process code lives in workers/."), onnx, climb];
const WEB = [ui, rule(["~/workers/*", "~/workers/**"], "The web process reaches the worker through jobs, not imports."), onnx, climb];
// drizzle-kit loads the schema without the ~ alias, so the schema reaches server/shared/ by a relative path.
const DB = [
  { regex: "^(~/|(\\.\\./)+)server/(?!shared/)", message: "The schema may use server/shared/ only (the database layer sits under the services)." },
  web,
  ui,
  onnx,
];
const WORKER = [web, ui, rule(["~/workers/inference/*", "~/workers/inference/**"], "The worker never loads the inference process.")];
const INFERENCE = [web, ui, rule(["~/workers/worker/*", "~/workers/worker/**"], "The inference process never loads the worker.")];
const INSPECT = [
  web,
  ui,
  rule(
    ["~/workers/worker/*", "~/workers/worker/**", "~/workers/inference/*", "~/workers/inference/**"],
    "Inspection children load only what they inspect with.",
  ),
];
// Telemetry: tables that record what happened to the system, not governed state (sign-in
// sessions, throttles and signing challenges, last-used stamps, replica heartbeats and minutes, rollups and
// watermarks, performance windows, step logs, prediction logs and ground truth, webhook
// deliveries, inbox read marks). They may be written without an audit event.
const TELEMETRY_TABLES = [
  "authSessions",
  "authRateLimits",
  "apiTokens",
  "deploymentKeys",
  "notifications",
  "workerHeartbeats",
  "inferenceReplicas",
  "replicaDeployments",
  "replicaMinutes",
  "batchMinutes",
  "predictionLogs",
  "predictionFeedback",
  "predictionRollups",
  "monitoringWatermarks",
  "performanceWindows",
  "driftResults",
  "referenceBounds",
  "stepLogs",
  "webhookDeliveries",
  "processExits",
  "signingChallenges",
];
const WRITE = `CallExpression[callee.property.name=/^(insert|update|delete)$/]:not([arguments.0.name=/^(${TELEMETRY_TABLES.join("|")})$/])`;
// Step claims and leases (server/pipelines/step-lifecycle.ts) move a step to "running" without an event; its result is audited.
const TELEMETRY = ["server/pipelines/step-lifecycle.ts"];
const zone = (patterns = [onnx], allowClimb = false) => ({ patterns: allowClimb ? patterns : [...patterns.filter((p) => p !== climb), climb] });

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
      // The parallel audit verifier's thread bootstrap (registers tsx, then imports TypeScript); checked by verify-bytes.test.ts.
      "server/audit/verify-worker.mjs",
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
      "no-restricted-imports": ["error", zone()],
      "no-restricted-properties": ["error", { object: "process", property: "env", message: "Read configuration through env.ts." }],
    },
  },
  // Who may load a file is said by its folder (docs/ARCHITECTURE.md, "Who loads what"); a
  // wrong-way import fails here, and test/boundaries.test.ts checks the same transitively.
  { files: ["components/**", "server/shared/**"], rules: { "no-restricted-imports": ["error", zone(BROWSER)] } },
  { files: ["server/**"], ignores: ["server/web/**", "server/shared/**"], rules: { "no-restricted-imports": ["error", zone(CORE)] } },
  { files: ["server/**/*.service.ts"], ignores: ["server/web/**"], rules: { "no-restricted-imports": ["error", zone([...CORE, SERVICE])] } },
  { files: ["server/web/**"], rules: { "no-restricted-imports": ["error", zone(WEB)] } },
  { files: ["db/**"], ignores: ["db/seed/**"], rules: { "no-restricted-imports": ["error", zone(DB, true)] } },
  { files: ["workers/worker/**"], rules: { "no-restricted-imports": ["error", zone(WORKER, true)] } },
  { files: ["workers/inference/**"], rules: { "no-restricted-imports": ["error", zone(INFERENCE, true)] } },
  { files: ["workers/inspect/**"], rules: { "no-restricted-imports": ["error", zone(INSPECT, true)] } },
  // One write path: state changes run in mutate()'s transaction (server/audit/mutate.ts), which
  // refuses a change without its audit event. No other transaction, and no write on the bare
  // handle, except in the telemetry modules listed below (docs/ARCHITECTURE.md, "One write path").
  {
    files: ["server/**/*.ts", "workers/**/*.ts"],
    ignores: ["**/*.test.ts", "server/audit/mutate.ts", ...TELEMETRY],
    rules: {
      "no-restricted-syntax": [
        "error",
        {
          selector: "CallExpression[callee.property.name='transaction']",
          message: "Change state through mutate() (server/audit/mutate.ts): one transaction with its audit event.",
        },
        {
          selector: `${WRITE}[callee.object.callee.name='getDb']`,
          message: "Write inside mutate(actor, async (tx, audit) => …) with its audit event; telemetry tables are listed in eslint.config.js.",
        },
        {
          selector: `${WRITE}[callee.object.name='db']`,
          message: "Write inside mutate(actor, async (tx, audit) => …) with its audit event; telemetry tables are listed in eslint.config.js.",
        },
      ],
    },
  },
  // Tests reach across processes on purpose (a router test calls services, a worker test starts
  // the web's routes); benches compare Steward with the raw runtime.
  { files: ["**/*.test.ts", "**/*.test.tsx", "bench/**", "test/**", "playwright/**"], rules: { "no-restricted-imports": "off" } },
  {
    // expect.stringMatching() and friends are typed `any` by design.
    files: ["**/*.test.ts", "playwright/**", "test/**"],
    rules: { "@typescript-eslint/no-unsafe-assignment": "off", "@typescript-eslint/unbound-method": "off" },
  },
  {
    // Configuration loaders, process supervisors and test harnesses are where the environment is read.
    files: [
      "env.ts",
      "bin/**",
      "bench/**",
      "test/**",
      "playwright/**",
      "playwright.config.ts",
      "drizzle.config.ts",
      "db/migrate-cli.ts",
      "server.ts",
      "proxy.ts",
      "components/trpc/client.tsx",
      "**/*.test.ts",
    ],
    rules: { "no-restricted-properties": "off" },
  },
);

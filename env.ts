import { createEnv } from "@t3-oss/env-nextjs";
import { z } from "zod";
import { firstSecret, parseSecretRing } from "~/server/platform/key-ring";

/** A "kid:secret,kid:secret" ring, validated at start-up (server/platform/key-ring.ts). */
const secretRing = (min: number) =>
  z.string().superRefine((v, ctx) => {
    try {
      parseSecretRing(v, min);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: (err as Error).message });
    }
  });

/**
 * The one place that reads process.env. `npm start` fills in DATABASE_URL (embedded
 * Postgres), AUTH_SECRET and NEXTAUTH_URL before it starts the web and worker processes,
 * so every process validates the same, complete configuration at start-up.
 */
export const env = createEnv({
  server: {
    NODE_ENV: z.enum(["development", "test", "production"]).default("production"),
    DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// connection URL"),
    AUTH_SECRET: z.string().min(32, "must be at least 32 characters (openssl rand -base64 32)"),
    /** Session secrets as a ring, "kid2:secret2,kid1:secret1": the first signs, all verify. Wins over AUTH_SECRET, which then reads as its first secret. */
    AUTH_SECRETS: secretRing(32).optional(),
    /** The web → inference call secret (a ring like AUTH_SECRETS, or one value); unset: derived from the AUTH_SECRETS ring per purpose. */
    INTERNAL_SECRETS: secretRing(32).optional(),
    INTERNAL_SECRET: z.string().min(32, "must be at least 32 characters (openssl rand -base64 32)").optional(),
    NEXTAUTH_URL: z.url("must be the public URL of Steward, e.g. http://localhost:3000").optional(),
    /** Other origins the web app is served from, comma-separated; socket.io refuses handshakes from any origin but these and NEXTAUTH_URL's. */
    ALLOWED_ORIGINS: z
      .string()
      .optional()
      .transform((v) =>
        (v ?? "")
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean),
      )
      .pipe(z.array(z.url("each of ALLOWED_ORIGINS must be a URL, e.g. https://steward.example.com"))),
    PORT: z.coerce.number().int().min(1).max(65535).default(3000),
    OIDC_ISSUER: z.url("must be the issuer URL of your OpenID Connect provider").optional(),
    OIDC_CLIENT_ID: z.string().min(1).optional(),
    OIDC_CLIENT_SECRET: z.string().min(1).optional(),
    OIDC_NAME: z.string().default("Single sign-on"),
    TRUST_PROXY: z
      .enum(["true", "false", "1", "0"])
      .default("false")
      .transform((v) => v === "true" || v === "1"),
    WORKER_HEALTH_PORT: z.coerce.number().int().min(1).max(65535).optional(),
    LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
    ARTIFACT_DIR: z.string().min(1).default(".steward/artifacts"),
    ARTIFACT_STORE: z
      .string()
      .regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/, "must be s3://bucket/prefix (or unset for the local ARTIFACT_DIR)")
      .optional(),
    S3_ENDPOINT: z.url("must be the URL of an S3-compatible endpoint").optional(),
    S3_REGION: z.string().default("us-east-1"),
    S3_FORCE_PATH_STYLE: z
      .enum(["true", "false", "1", "0"])
      .optional()
      .transform((v) => (v === undefined ? undefined : v === "true" || v === "1")),
    AUDIT_SIGNING_KEY: z.string().includes("PRIVATE KEY", { message: "must be a PEM-encoded Ed25519 private key" }).optional(),
    AUDIT_SIGNING_KEY_FILE: z.string().min(1).optional(),
    /** Keys that verify checkpoints but never sign (retired keys, or the next key before it signs): PEM public (or private) keys, one after another. */
    AUDIT_VERIFY_KEYS: z.string().includes("-----BEGIN", { message: "must hold PEM-encoded Ed25519 keys" }).optional(),
    /** The same, from a PEM file or from a folder of .pem files. */
    AUDIT_VERIFY_KEYS_FILE: z.string().min(1).optional(),
    AUDIT_CHECKPOINT_MINUTES: z.coerce.number().int().min(1).max(1440).default(10),
    /** How often the worker rolls up the prediction log and evaluates alerts: 60 (a cron slot per minute) or a few seconds for demos and end-to-end tests. */
    MONITORING_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(60).default(60),
    /** Pipeline steps one worker runs at once (each in its own process). */
    PIPELINE_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(3),
    /** Workers LISTEN for new jobs (false: rely on polling alone; for comparison in bench/pipelines). */
    JOBS_LISTEN: z
      .enum(["true", "false", "1", "0"])
      .default("true")
      .transform((v) => v === "true" || v === "1"),
    /** How long a worker's claim on a step lasts without renewal; a dead worker's step is retried after it. */
    PIPELINE_LEASE_SECONDS: z.coerce.number().int().min(2).max(600).default(30),
    /** The inference process's HTTP port. */
    INFERENCE_PORT: z.coerce.number().int().min(1).max(65535).default(3100),
    /** Where the web app reaches the inference process (for the "try it" form). */
    INFERENCE_URL: z.url().optional(),
    /** onnxruntime threads in the pool (default: one per core). */
    INFERENCE_THREADS: z.coerce.number().int().min(1).max(256).optional(),
    /** A replica refuses to load sessions past this many bytes of model files (the rollout fails with the reason). */
    INFERENCE_MEMORY_LIMIT_BYTES: z.coerce.number().int().min(1).optional(),
    /** A rollout no replica has confirmed after this long fails ("no replica reported"). */
    ROLLOUT_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
    INFERENCE_MAX_BODY_BYTES: z.coerce
      .number()
      .int()
      .positive()
      .default(16 * 1024 ** 2),
    /** Bearer token that GET /metrics on the inference port requires; unset, /metrics is not served there. */
    INFERENCE_METRICS_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
    /** A second listener on 127.0.0.1 serving only /metrics, without a token (a sidecar or node agent scrapes it). */
    INFERENCE_METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
    /** Prediction-log records held in memory before new ones are dropped (and counted). */
    PREDICTION_LOG_BUFFER: z.coerce.number().int().min(100).default(50_000),
    /** How long the inference process trusts a cached credential before checking it again (revocations also arrive by NOTIFY at once). */
    INFERENCE_CREDENTIAL_TTL_SECONDS: z.coerce.number().int().min(1).max(300).default(30),
    /** How long a credential confirmed before the database went away keeps working while it stays away. */
    INFERENCE_CREDENTIAL_GRACE_SECONDS: z.coerce.number().int().min(0).max(86_400).default(600),
    /** The web process's statements are stopped after this long (0: never), so a slow query cannot hold a connection that sign-ins and pages need. */
    DB_STATEMENT_TIMEOUT_SECONDS: z.coerce.number().int().min(0).max(3600).default(30),
    /** Connections for long reads people start (audit exports, compliance reports), apart from the main pool of 10. */
    DB_BULK_CONNECTIONS: z.coerce.number().int().min(1).max(20).default(2),
    SMTP_URL: z
      .string()
      .regex(/^smtps?:\/\//, "must be an smtp:// or smtps:// URL, e.g. smtp://user:pass@mail.example.com:587")
      .optional(),
    SMTP_FROM: z.string().min(3).default("Steward <steward@localhost>"),
    WEBHOOK_ALLOW_PRIVATE: z
      .enum(["true", "false", "1", "0"])
      .default("false")
      .transform((v) => v === "true" || v === "1"),
    UPLOAD_LIMIT_BYTES: z.coerce
      .number()
      .int()
      .positive("must be a positive number of bytes")
      .default(2 * 1024 ** 3),
    /**
     * Pipeline `command` steps (shell commands in a bubblewrap sandbox) on the whole instance: enabled (every workspace)
     * or disabled. Unset, Settings › Instance decides (every workspace by default, or only those listed there).
     */
    COMMAND_STEPS: z.enum(["enabled", "disabled"], { error: "must be enabled or disabled" }).optional(),
    /** Whether a command step that declares `network: true` gets the network; every other one never does. */
    COMMAND_STEPS_NETWORK: z.enum(["allow", "deny"], { error: "must be allow or deny" }).default("deny"),
    /** A worker running as root gives each command step its own uid from [base, base + count); the uids need no /etc/passwd entry. */
    COMMAND_STEPS_UID_BASE: z.coerce
      .number()
      .int()
      .min(1000)
      .max(2 ** 31 - 100_000)
      .default(200_000),
    COMMAND_STEPS_UID_COUNT: z.coerce.number().int().min(1).max(65_536).default(10_000),
    /** Per-step limits: address space (MiB), CPU seconds, processes and threads, bytes in its work and output folders (MiB), its private /tmp (MiB, in memory). */
    COMMAND_STEPS_MEMORY_MB: z.coerce.number().int().min(64).default(4096),
    COMMAND_STEPS_CPU_SECONDS: z.coerce.number().int().min(1).default(3600),
    COMMAND_STEPS_MAX_PROCESSES: z.coerce.number().int().min(8).max(100_000).default(256),
    COMMAND_STEPS_OUTPUT_MB: z.coerce.number().int().min(1).default(2048),
    COMMAND_STEPS_TMP_MB: z.coerce.number().int().min(1).default(256),
    /** Instance settings an operator pins (they win over Settings › Instance, which shows them locked). */
    SIGNUP: z.enum(["open", "closed"], { error: "must be open or closed" }).optional(),
    /** Comma-separated e-mail domains sign-up is limited to (example.com,example.org). */
    SIGNUP_DOMAINS: z.string().optional(),
    WORKSPACE_CREATION: z.enum(["anyone", "admins"], { error: "must be anyone or admins" }).optional(),
    /** Uploaded datasets with more columns are refused before they are profiled. */
    DATASET_MAX_COLUMNS: z.coerce.number().int().min(1).max(100_000).default(500),
    /** The dataset profiler's child process is killed past this many seconds or MiB of memory. */
    DATASET_PROFILE_TIMEOUT_SECONDS: z.coerce.number().int().min(1).default(120),
    DATASET_PROFILE_MEMORY_MB: z.coerce.number().int().min(256).default(2048),
  },
  client: {},
  runtimeEnv: {
    NODE_ENV: process.env.NODE_ENV,
    DATABASE_URL: process.env.DATABASE_URL,
    // Code that needs one session secret (next-auth, socket handshakes) reads the ring's signing secret.
    AUTH_SECRET: firstSecret(process.env.AUTH_SECRETS) ?? process.env.AUTH_SECRET,
    AUTH_SECRETS: process.env.AUTH_SECRETS,
    INTERNAL_SECRETS: process.env.INTERNAL_SECRETS,
    INTERNAL_SECRET: process.env.INTERNAL_SECRET,
    NEXTAUTH_URL: process.env.NEXTAUTH_URL,
    ALLOWED_ORIGINS: process.env.ALLOWED_ORIGINS,
    PORT: process.env.PORT,
    OIDC_ISSUER: process.env.OIDC_ISSUER,
    OIDC_CLIENT_ID: process.env.OIDC_CLIENT_ID,
    OIDC_CLIENT_SECRET: process.env.OIDC_CLIENT_SECRET,
    OIDC_NAME: process.env.OIDC_NAME,
    TRUST_PROXY: process.env.TRUST_PROXY,
    LOG_LEVEL: process.env.LOG_LEVEL,
    WORKER_HEALTH_PORT: process.env.WORKER_HEALTH_PORT,
    ARTIFACT_DIR: process.env.ARTIFACT_DIR,
    ARTIFACT_STORE: process.env.ARTIFACT_STORE,
    S3_ENDPOINT: process.env.S3_ENDPOINT,
    S3_REGION: process.env.S3_REGION,
    S3_FORCE_PATH_STYLE: process.env.S3_FORCE_PATH_STYLE,
    UPLOAD_LIMIT_BYTES: process.env.UPLOAD_LIMIT_BYTES,
    COMMAND_STEPS: process.env.COMMAND_STEPS,
    COMMAND_STEPS_NETWORK: process.env.COMMAND_STEPS_NETWORK,
    COMMAND_STEPS_UID_BASE: process.env.COMMAND_STEPS_UID_BASE,
    COMMAND_STEPS_UID_COUNT: process.env.COMMAND_STEPS_UID_COUNT,
    COMMAND_STEPS_MEMORY_MB: process.env.COMMAND_STEPS_MEMORY_MB,
    COMMAND_STEPS_CPU_SECONDS: process.env.COMMAND_STEPS_CPU_SECONDS,
    COMMAND_STEPS_MAX_PROCESSES: process.env.COMMAND_STEPS_MAX_PROCESSES,
    COMMAND_STEPS_OUTPUT_MB: process.env.COMMAND_STEPS_OUTPUT_MB,
    COMMAND_STEPS_TMP_MB: process.env.COMMAND_STEPS_TMP_MB,
    SIGNUP: process.env.SIGNUP,
    SIGNUP_DOMAINS: process.env.SIGNUP_DOMAINS,
    WORKSPACE_CREATION: process.env.WORKSPACE_CREATION,
    DATASET_MAX_COLUMNS: process.env.DATASET_MAX_COLUMNS,
    DATASET_PROFILE_TIMEOUT_SECONDS: process.env.DATASET_PROFILE_TIMEOUT_SECONDS,
    DATASET_PROFILE_MEMORY_MB: process.env.DATASET_PROFILE_MEMORY_MB,
    SMTP_URL: process.env.SMTP_URL,
    SMTP_FROM: process.env.SMTP_FROM,
    WEBHOOK_ALLOW_PRIVATE: process.env.WEBHOOK_ALLOW_PRIVATE,
    PIPELINE_CONCURRENCY: process.env.PIPELINE_CONCURRENCY,
    PIPELINE_LEASE_SECONDS: process.env.PIPELINE_LEASE_SECONDS,
    JOBS_LISTEN: process.env.JOBS_LISTEN,
    INFERENCE_PORT: process.env.INFERENCE_PORT,
    INFERENCE_URL: process.env.INFERENCE_URL,
    INFERENCE_THREADS: process.env.INFERENCE_THREADS,
    INFERENCE_MEMORY_LIMIT_BYTES: process.env.INFERENCE_MEMORY_LIMIT_BYTES,
    ROLLOUT_TIMEOUT_SECONDS: process.env.ROLLOUT_TIMEOUT_SECONDS,
    INFERENCE_MAX_BODY_BYTES: process.env.INFERENCE_MAX_BODY_BYTES,
    INFERENCE_METRICS_TOKEN: process.env.INFERENCE_METRICS_TOKEN,
    INFERENCE_METRICS_PORT: process.env.INFERENCE_METRICS_PORT,
    PREDICTION_LOG_BUFFER: process.env.PREDICTION_LOG_BUFFER,
    INFERENCE_CREDENTIAL_TTL_SECONDS: process.env.INFERENCE_CREDENTIAL_TTL_SECONDS,
    INFERENCE_CREDENTIAL_GRACE_SECONDS: process.env.INFERENCE_CREDENTIAL_GRACE_SECONDS,
    DB_STATEMENT_TIMEOUT_SECONDS: process.env.DB_STATEMENT_TIMEOUT_SECONDS,
    DB_BULK_CONNECTIONS: process.env.DB_BULK_CONNECTIONS,
    AUDIT_SIGNING_KEY: process.env.AUDIT_SIGNING_KEY,
    AUDIT_SIGNING_KEY_FILE: process.env.AUDIT_SIGNING_KEY_FILE,
    AUDIT_VERIFY_KEYS: process.env.AUDIT_VERIFY_KEYS,
    AUDIT_VERIFY_KEYS_FILE: process.env.AUDIT_VERIFY_KEYS_FILE,
    AUDIT_CHECKPOINT_MINUTES: process.env.AUDIT_CHECKPOINT_MINUTES,
    MONITORING_INTERVAL_SECONDS: process.env.MONITORING_INTERVAL_SECONDS,
  },
  emptyStringAsUndefined: true,
  skipValidation: !!process.env.SKIP_ENV_VALIDATION,
  onValidationError: (issues) => {
    const lines = issues.map((i) => `  - ${(i.path ?? []).map((k) => String(typeof k === "object" ? k.key : k)).join(".") || "(root)"}: ${i.message}`);
    const message = `Invalid configuration:\n${lines.join("\n")}`;
    console.error(message);
    throw new Error(message);
  },
});

export const oidcEnabled = Boolean(env.OIDC_ISSUER && env.OIDC_CLIENT_ID && env.OIDC_CLIENT_SECRET);

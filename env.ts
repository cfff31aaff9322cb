import { createEnv } from "@t3-oss/env-nextjs";
import { z } from "zod";

/**
 * The one place that reads process.env. `npm start` fills in DATABASE_URL (embedded
 * Postgres), AUTH_SECRET and NEXTAUTH_URL before it starts the web and worker processes,
 * so every process validates the same, complete configuration at start-up.
 */
export const env = createEnv({
  server: {
    NODE_ENV: z.enum(["development", "test", "production"]).default("production"),
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// connection URL"),
    AUTH_SECRET: z.string().min(32, "must be at least 32 characters (openssl rand -base64 32)"),
    NEXTAUTH_URL: z.url("must be the public URL of Steward, e.g. http://localhost:3000").optional(),
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
    INFERENCE_MAX_BODY_BYTES: z.coerce.number().int().positive().default(16 * 1024 ** 2),
    /** Prediction-log records held in memory before new ones are dropped (and counted). */
    PREDICTION_LOG_BUFFER: z.coerce.number().int().min(100).default(50_000),
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
  },
  client: {},
  runtimeEnv: {
    NODE_ENV: process.env.NODE_ENV,
    DATABASE_URL: process.env.DATABASE_URL,
    AUTH_SECRET: process.env.AUTH_SECRET,
    NEXTAUTH_URL: process.env.NEXTAUTH_URL,
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
    SMTP_URL: process.env.SMTP_URL,
    SMTP_FROM: process.env.SMTP_FROM,
    WEBHOOK_ALLOW_PRIVATE: process.env.WEBHOOK_ALLOW_PRIVATE,
    PIPELINE_CONCURRENCY: process.env.PIPELINE_CONCURRENCY,
    PIPELINE_LEASE_SECONDS: process.env.PIPELINE_LEASE_SECONDS,
    JOBS_LISTEN: process.env.JOBS_LISTEN,
    INFERENCE_PORT: process.env.INFERENCE_PORT,
    INFERENCE_URL: process.env.INFERENCE_URL,
    INFERENCE_THREADS: process.env.INFERENCE_THREADS,
    INFERENCE_MAX_BODY_BYTES: process.env.INFERENCE_MAX_BODY_BYTES,
    PREDICTION_LOG_BUFFER: process.env.PREDICTION_LOG_BUFFER,
    AUDIT_SIGNING_KEY: process.env.AUDIT_SIGNING_KEY,
    AUDIT_SIGNING_KEY_FILE: process.env.AUDIT_SIGNING_KEY_FILE,
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

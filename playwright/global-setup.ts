import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { buildIsStale, buildWebApp } from "../bin/lib/build";
import { freePort, startEmbeddedPostgres } from "../bin/lib/embedded-pg";
import { runMigrations } from "../db/migrate";
import { startOidcIssuer } from "./oidc-issuer";

const root = path.resolve(import.meta.dirname, "..");

function startProcess(name: string, entry: string, env: Record<string, string>, readyLine: RegExp) {
  const child = spawn(process.execPath, ["--import", "tsx", "--import", "./bin/hooks/register.js", entry], {
    cwd: root,
    env: { ...process.env, ...env, NODE_ENV: "production", NEXT_TELEMETRY_DISABLED: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const log: string[] = [];
  return new Promise<ChildProcess>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      log.push(text);
      if (process.env.E2E_VERBOSE) process.stdout.write(`[${name}] ${text}`);
      if (readyLine.test(text)) resolve(child);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => reject(new Error(`${name} exited with ${code} before it was ready:\n${log.join("")}`)));
  });
}

/**
 * Builds if needed, starts a throwaway embedded Postgres (or uses DATABASE_URL, local
 * only), migrates, then two web processes on two ports and one worker.
 */
export default async function globalSetup() {
  if (buildIsStale(root)) {
    console.log("[e2e] building the web app…");
    if ((await buildWebApp(root)) !== 0) throw new Error("next build failed");
  }
  let url = process.env.DATABASE_URL;
  let stopPg: (() => Promise<void>) | undefined;
  let dir: string | undefined;
  if (url) {
    if (!/@(localhost|127\.0\.0\.1|\[::1\])[:/]/.test(url)) throw new Error("Refusing to run e2e tests against a non-local DATABASE_URL.");
  } else {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "steward-e2e-pg-"));
    fs.chmodSync(dir, 0o755);
    const pg = await startEmbeddedPostgres({ dir: path.join(dir, "pg"), password: "steward-e2e" });
    url = pg.url;
    stopPg = pg.stop;
  }
  await runMigrations(url);

  const [portA, portB, portOidc, portInference] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const oidc = await startOidcIssuer(
    portOidc,
    [portA, portB].flatMap((p) => [`http://localhost:${p}/api/auth/callback/oidc`, `http://localhost:${p}/api/esign/callback`]),
  );
  const common = {
    DATABASE_URL: url,
    AUTH_SECRET: "e2e-secret-e2e-secret-e2e-secret-0123456",
    AUDIT_SIGNING_KEY: generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    OIDC_ISSUER: oidc.issuer,
    OIDC_CLIENT_ID: oidc.clientId,
    OIDC_CLIENT_SECRET: oidc.clientSecret,
    OIDC_NAME: "Acme SSO",
    INFERENCE_PORT: String(portInference),
    INFERENCE_URL: `http://127.0.0.1:${portInference}`,
    // Rollups and alert evaluation every few seconds, so an alert fires within a test.
    MONITORING_INTERVAL_SECONDS: "3",
    // The journeys sign up fresh accounts on an instance that already has an administrator.
    SIGNUP: "open",
  };
  // The first account of a fresh instance is its administrator: make that a known one.
  const seeded = execFileSync(process.execPath, ["--import", "tsx", "--import", "./bin/hooks/register.js", path.join("playwright", "seed-admin.ts")], {
    cwd: root,
    env: { ...process.env, ...common, NODE_ENV: "production" },
    encoding: "utf8",
  });
  const admin = JSON.parse(seeded.trim().split("\n").pop()!) as { email: string; password: string; slug: string };
  process.env.E2E_ADMIN_EMAIL = admin.email;
  process.env.E2E_ADMIN_PASSWORD = admin.password;
  process.env.E2E_ADMIN_SLUG = admin.slug;
  const children = await Promise.all([
    startProcess("web-a", "server.ts", { ...common, PORT: String(portA), NEXTAUTH_URL: `http://localhost:${portA}` }, /\[web\] ready/),
    startProcess("web-b", "server.ts", { ...common, PORT: String(portB), NEXTAUTH_URL: `http://localhost:${portB}` }, /\[web\] ready/),
    startProcess("worker", path.join("workers", "worker", "index.ts"), common, /\[worker\] .* ready/),
    startProcess("inference", path.join("workers", "inference", "index.ts"), common, /\[inference\] .* ready/),
  ]);
  process.env.E2E_BASE_URL_A = `http://localhost:${portA}`;
  process.env.E2E_BASE_URL_B = `http://localhost:${portB}`;
  // For helper processes a spec starts (seeding, the traffic simulator).
  process.env.E2E_DATABASE_URL = url;
  process.env.E2E_AUTH_SECRET = common.AUTH_SECRET;
  process.env.E2E_INFERENCE_URL = common.INFERENCE_URL;

  return async () => {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null) return resolve();
            c.once("exit", () => resolve());
            c.kill("SIGTERM");
            setTimeout(() => c.kill("SIGKILL"), 10_000).unref();
          }),
      ),
    );
    await oidc.close();
    await stopPg?.();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  };
}

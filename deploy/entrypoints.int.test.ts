import { spawn, spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { freePort } from "~/bin/lib/embedded-pg";

/** The image's entrypoint roles, run as the container would run them, without Docker. */
const root = path.resolve(import.meta.dirname, "..");
const baseEnv = (): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  DATABASE_URL: process.env.DATABASE_URL!,
  AUTH_SECRET: "entrypoint-secret-entrypoint-secret-0000",
  AUDIT_SIGNING_KEY: generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  NODE_ENV: "production" as const,
});

describe("container entrypoints", () => {
  it("migrate applies migrations and exits 0 (idempotent)", () => {
    const r = spawnSync("sh", ["bin/docker-entrypoint.sh", "migrate"], { cwd: root, env: baseEnv(), encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("Migrations applied.");
    const bad = spawnSync("sh", ["bin/docker-entrypoint.sh", "frobnicate"], { cwd: root, env: baseEnv(), encoding: "utf8" });
    expect(bad.status).toBe(64);
  });

  it("worker serves its health endpoint and stops cleanly on SIGTERM", async () => {
    const port = await freePort();
    const child = spawn("sh", ["bin/docker-entrypoint.sh", "worker"], { cwd: root, env: { ...baseEnv(), WORKER_HEALTH_PORT: String(port) } });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", () => out.includes("ready:") && resolve());
      child.on("exit", () => reject(new Error(`worker exited early:\n${out}`)));
    });
    const res = await fetch(`http://127.0.0.1:${port}/`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true });
    const code = await new Promise<number | null>((resolve) => {
      child.on("exit", (c) => resolve(c));
      child.kill("SIGTERM");
    });
    expect(code, out).toBe(0);
    expect(out).toContain("[worker] stopped");
  });
});

import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

/** Loads env.ts in a fresh process, as every Steward process does at start-up. */
function load(vars: Record<string, string | undefined>) {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: "production" };
  for (const [k, v] of Object.entries(vars)) if (v !== undefined) env[k] = v;
  return spawnSync(process.execPath, ["--import", "tsx", "-e", 'await import("./env.ts"); console.log("config ok")'], {
    cwd: import.meta.dirname,
    env,
    encoding: "utf8",
  });
}

const good = { DATABASE_URL: "postgres://u:p@127.0.0.1:5432/steward", AUTH_SECRET: "x".repeat(32) };

describe("configuration", () => {
  it("takes the session secret from an AUTH_SECRETS ring alone (its first key signs)", () => {
    const r = load({ DATABASE_URL: good.DATABASE_URL, AUTH_SECRETS: `k2:${"b".repeat(32)},k1:${"a".repeat(32)}` });
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("config ok");
  });

  it("accepts a complete configuration", () => {
    const r = load(good);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("config ok");
  });

  it.each([
    [{ ...good, DATABASE_URL: "mysql://localhost/x" }, /DATABASE_URL: must be a postgres:\/\/ or postgresql:\/\/ connection URL/],
    [{ ...good, DATABASE_URL: undefined }, /DATABASE_URL:/],
    [{ ...good, AUTH_SECRET: "short" }, /AUTH_SECRET: must be at least 32 characters/],
    [{ ...good, PORT: "99999" }, /PORT:/],
    [{ ...good, OIDC_ISSUER: "not a url" }, /OIDC_ISSUER: must be the issuer URL/],
    [{ ...good, AUTH_SECRETS: `k2:short,k1:${"a".repeat(32)}` }, /AUTH_SECRETS: the secret of key "k2" must be at least 32 characters/],
    [{ ...good, INTERNAL_SECRETS: "no-key-id" }, /INTERNAL_SECRETS: each entry must be kid:secret/],
  ])("stops start-up naming the bad variable (%#)", (vars, message) => {
    const r = load(vars);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Invalid configuration/);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).not.toContain("config ok");
  });
});

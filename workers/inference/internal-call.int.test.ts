import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "~/bin/lib/embedded-pg";
import { parseSecretRing } from "~/server/platform/key-ring";
import { INTERNAL_HEADER, signInternalCall } from "~/server/platform/keys";

/*
 * Rotating the web → inference call secret against the real inference process: during the
 * overlap (INTERNAL_SECRETS="new:…,old:…") a call signed with the old secret is accepted;
 * once the old one is retired (INTERNAL_SECRETS="new:…") it is refused.
 */
const root = path.resolve(import.meta.dirname, "../..");
const OLD = "old:" + "o".repeat(40);
const NEW = "new:" + "n".repeat(40);
const children: ChildProcess[] = [];

async function start(internalSecrets: string) {
  const port = await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", "--import", "./bin/hooks/register.js", "workers/inference/index.ts"], {
    cwd: root,
    env: { ...process.env, INFERENCE_PORT: String(port), INFERENCE_THREADS: "1", INTERNAL_SECRETS: internalSecrets, NODE_ENV: "production" },
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  children.push(child);
  let out = "";
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("ready:")) resolve();
    });
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    child.on("exit", (c) => reject(new Error(`inference exited (${c}):\n${out}`)));
  });
  return `http://127.0.0.1:${port}`;
}

let overlap: string;
let retired: string;
beforeAll(async () => {
  [overlap, retired] = await Promise.all([start(`${NEW},${OLD}`), start(NEW)]);
});
afterAll(() => {
  for (const c of children) c.kill("SIGKILL");
});

/** A call signed with `ring`'s first key; 404 means the signature was accepted (the deployment does not exist), 401 that it was not. */
async function call(base: string, ring: string, deployment = "nope") {
  const header = signInternalCall({ workspaceId: randomUUID(), userId: randomUUID(), deployment }, parseSecretRing(ring));
  const res = await fetch(`${base}/v1/deployments/${deployment}/predict`, {
    method: "POST",
    headers: { "content-type": "application/json", [INTERNAL_HEADER]: header },
    body: "{}",
  });
  return { status: res.status, body: await res.text() };
}

describe("rotating the internal call secret", () => {
  it("accepts the old secret during the overlap and the new one throughout; refuses the old one after retirement", async () => {
    expect((await call(overlap, OLD)).status).toBe(404);
    expect((await call(overlap, NEW)).status).toBe(404);
    expect((await call(retired, NEW)).status).toBe(404);
    const old = await call(retired, OLD);
    expect(old.status).toBe(401);
    expect(old.body).toMatch(/internal signature is invalid or expired/);
  });

  it("refuses a signature made for another deployment, a forged key id and the old AUTH_SECRET-keyed format", async () => {
    const ws = randomUUID();
    const user = randomUUID();
    const forOther = signInternalCall({ workspaceId: ws, userId: user, deployment: "other" }, parseSecretRing(NEW));
    const send = (header: string) =>
      fetch(`${overlap}/v1/deployments/nope/predict`, {
        method: "POST",
        headers: { "content-type": "application/json", [INTERNAL_HEADER]: header },
        body: "{}",
      }).then((r) => r.status);
    expect(await send(forOther)).toBe(401);
    expect(await send(forOther.replace(".new.", ".gone."))).toBe(401);
    expect(await send(`${ws}.${user}.${Date.now()}.${"0".repeat(64)}`)).toBe(401);
  });
});

import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { Readable } from "node:stream";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { freePort } from "~/bin/lib/embedded-pg";
import { getDb } from "~/db/client";
import { predictionLogs } from "~/db/schema";
import { createWorkspace } from "~/db/seed/factories";
import { logisticRegressionOnnx } from "~/db/seed/onnx-builder";
import { uploadModelVersion } from "~/server/registry/models.service";
import { createDeployment, createKey } from "~/server/serving/deployments.service";

/*
 * A rolling restart of the inference replicas under continuous load, at small scale, the
 * way Kubernetes does it (deploy/k8s/base/inference.yaml: maxSurge 1, maxUnavailable 0):
 * start a new replica, wait until it is ready, take an old one out of the endpoints, send
 * it SIGTERM. The load generator plays the Service: it sends only to replicas in the
 * endpoints. Nothing may fail, and every answered prediction must be in the log.
 */
const root = path.resolve(import.meta.dirname, "..");

type Replica = { port: number; child: ChildProcess; out: string };
async function startReplica(): Promise<Replica> {
  const port = await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", "--import", "./bin/hooks/register.js", "workers/inference/index.ts"], {
    cwd: root,
    env: { ...process.env, INFERENCE_PORT: String(port), INFERENCE_THREADS: "1", NODE_ENV: "production" },
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  const r: Replica = { port, child, out: "" };
  child.stdout!.on("data", (d: Buffer) => (r.out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (r.out += d.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", () => r.out.includes("ready:") && resolve());
    child.on("exit", (c) => reject(new Error(`replica exited (${c}):\n${r.out}`)));
  });
  // Ready = what the readiness probe checks.
  expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
  return r;
}
const stopped = (r: Replica) =>
  new Promise<number | null>((resolve) => (r.child.exitCode !== null ? resolve(r.child.exitCode) : r.child.once("exit", (c) => resolve(c))));

describe("rolling restart of the inference replicas", () => {
  it("answers every request and logs every answered prediction while each replica is replaced", async () => {
    const ws = await createWorkspace();
    const features = ["a", "b"];
    await uploadModelVersion(
      ws.owner.wsActor,
      { name: "m", filename: "m.onnx" },
      Readable.from([Buffer.from(logisticRegressionOnnx({ weights: [0.5, -0.25], bias: 0.1, featureNames: features }))]),
    );
    const d = await createDeployment(ws.owner.wsActor, { name: "m-prod", environment: "prod", model: "m", alias: "dev", version: 1 });
    const { key } = await createKey(ws.owner.wsActor, { name: "m-prod", keyName: "load" });

    const endpoints: Replica[] = [await startReplica(), await startReplica()];
    const all = [...endpoints];
    let next = 0;
    let ok = 0;
    const failures: string[] = [];
    let running = true;
    const client = async () => {
      while (running) {
        const r = endpoints[next++ % endpoints.length]!;
        try {
          const res = await fetch(`http://127.0.0.1:${r.port}/v1/deployments/m-prod/predict`, {
            method: "POST",
            headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
            body: JSON.stringify({ instances: [{ a: Math.random(), b: Math.random() }] }),
          });
          if (res.status === 200) ok++;
          else failures.push(`${res.status} ${await res.text()}`);
        } catch (err) {
          failures.push(`port ${r.port}: ${(err as Error).message}`);
        }
      }
    };
    const clients = Array.from({ length: 4 }, client);
    const waitFor = async (n: number) => {
      const target = ok + n;
      while (ok < target && failures.length === 0) await new Promise((r) => setImmediate(r));
    };
    await waitFor(100);

    // Replace each replica in turn: surge one, then drain and stop an old one.
    for (let i = 0; i < 2; i++) {
      const fresh = await startReplica();
      all.push(fresh);
      endpoints.push(fresh);
      await waitFor(50);
      const old = endpoints.shift()!;
      await waitFor(20); // requests already sent to the old one are still in flight
      old.child.kill("SIGTERM");
      expect(await stopped(old), old.out).toBe(0);
      expect(old.out).toMatch(/stopped \(\d+ prediction\(s\) logged, 0 dropped\)/);
      await waitFor(50);
    }
    running = false;
    await Promise.all(clients);
    for (const r of endpoints) r.child.kill("SIGTERM");
    for (const r of endpoints) expect(await stopped(r), r.out).toBe(0);

    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(300);
    // Every answered prediction was written before its replica exited.
    const [{ n }] = (await getDb().execute<{ n: number }>(
      sql`select count(*)::int as n from ${predictionLogs} where ${predictionLogs.deploymentId} = ${d.id}`,
    )) as unknown as [{ n: number }];
    expect(n).toBe(ok);
    const logged = all.map((r) => Number(/stopped \((\d+) prediction/.exec(r.out)?.[1] ?? -1));
    expect(logged.reduce((a, b) => a + b, 0)).toBe(ok);
  }, 120_000);
});

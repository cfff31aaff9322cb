import fs from "node:fs";
import { afterAll } from "vitest";
import { faultEnv, startCluster, type Cluster } from "./cluster";

/*
 * Runs in the test's own process before its imports: the cluster must exist, and
 * DATABASE_URL point at it, before env.ts is first read.
 */
const logs: string[] = [];
const cluster = await startCluster((m) => logs.push(m));
Object.assign(process.env, faultEnv(cluster.url));
(globalThis as unknown as { __faultCluster: Cluster & { logs: string[] } }).__faultCluster = Object.assign(cluster, { logs });
afterAll(async () => {
  await cluster.destroy();
  fs.rmSync(process.env.ARTIFACT_DIR!, { recursive: true, force: true });
});

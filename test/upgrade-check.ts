/*
 * A child process for test/upgrade.int.test.ts: against the upgraded instance at DATABASE_URL
 * (artifacts in ARTIFACT_DIR), with the current code, it
 *   1. verifies every audit chain from genesis against its signed and published checkpoints,
 *   2. signs a new checkpoint on every chain (a state change: it re-verifies the events since
 *      the last checkpoint and appends its own event), then verifies again,
 *   3. loads what each active deployment serves from the artifact store into onnxruntime and
 *      runs it once with zeros,
 * and prints one JSON line. Run with: node --import tsx --import ./bin/hooks/register.js test/upgrade-check.ts
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { createHash } from "node:crypto";
import { eq } from "drizzle-orm";
import * as ort from "onnxruntime-node";
import { closeDb, getDb } from "~/db/client";
import { auditEvents, deployments, modelVersions } from "~/db/schema";
import { verifyChain } from "~/server/audit/audit.service";
import { signCheckpoint } from "~/server/audit/checkpoints.service";
import { env } from "~/env";

const db = getDb();
const chains = [...new Set((await db.selectDistinct({ w: auditEvents.workspaceId }).from(auditEvents)).map((r) => r.w))];
const before = await Promise.all(chains.map(async (w) => ({ chain: w ?? "instance", ...(await verifyChain(w)) })));
for (const w of chains) await signCheckpoint({ type: "system", job: "audit.checkpoint" }, w);
const after = await Promise.all(chains.map(async (w) => ({ chain: w ?? "instance", ...(await verifyChain(w)) })));

const served = [];
for (const d of await db.select().from(deployments).where(eq(deployments.status, "active"))) {
  const [v] = await db.select().from(modelVersions).where(eq(modelVersions.id, d.primaryVersionId));
  const bytes = await readFile(path.join(env.ARTIFACT_DIR, "sha256", v!.sha256.slice(0, 2), v!.sha256));
  const session = await ort.InferenceSession.create(bytes);
  const feeds: Record<string, ort.Tensor> = {};
  for (const i of v!.signature.inputs) {
    const shape = (i.shape ?? [1]).map((x) => (typeof x === "number" && x > 0 ? x : 1));
    const n = shape.reduce((a, b) => a * b, 1);
    feeds[i.name] = i.elemType === "float" ? new ort.Tensor("float32", new Float32Array(n), shape) : new ort.Tensor("int64", new BigInt64Array(n), shape);
  }
  const out = await session.run(feeds);
  served.push({
    deployment: d.name,
    version: v!.version,
    sha256Matches: createHash("sha256").update(bytes).digest("hex") === v!.sha256,
    outputs: Object.keys(out).sort(),
  });
}
await closeDb();
process.stdout.write(`${JSON.stringify({ before, after, served })}\n`);

import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { createWorkspace } from "~/db/seed/factories";
import { logisticRegressionOnnx } from "~/db/seed/onnx-builder";
import { uploadModelVersion } from "~/server/registry/models.service";
import { createDeployment } from "~/server/serving/deployments.service";
import { formatBytes } from "~/server/shared/format";
import { LiveRegistry, type ReloadReporter } from "./live";
import { InferencePool } from "./pool";

/*
 * What a replica reports when a revision cannot be loaded, for the causes production has:
 * the blob gone from the artifact store, and a model past the replica's memory budget
 * (the sha256 mismatch is tested end to end in inference.int.test.ts). The registry runs
 * in this process with a real onnxruntime pool.
 */
const pool = new InferencePool(1);
afterAll(() => pool.close());

function recorder() {
  const seen: { served: number[]; failed: { revision: number; reason: string; serving: number | null }[] } = { served: [], failed: [] };
  const reporter: ReloadReporter = {
    serving: async (d) => void seen.served.push(d.revision),
    failed: async (d, reason, serving) => void seen.failed.push({ revision: d.revision, reason, serving }),
  };
  return { seen, reporter };
}

async function deployed(weights: number[]) {
  const ws = await createWorkspace();
  const v = await uploadModelVersion(
    ws.owner.wsActor,
    { name: "m", filename: "m.onnx" },
    Readable.from([Buffer.from(logisticRegressionOnnx({ weights, bias: 0, featureNames: ["a", "b"] }))]),
  );
  const d = await createDeployment(ws.owner.wsActor, { name: "m-dev", environment: "dev", model: "m", alias: "dev", follow: false, version: 1 });
  return { ws, v, d };
}

describe("a replica that cannot load a revision", () => {
  it("reports the memory budget it would exceed, and serves nothing it could not load", async () => {
    const { d, v } = await deployed([Math.random(), 1]);
    const { seen, reporter } = recorder();
    const live = new LiveRegistry(pool, () => undefined, reporter, Math.floor(v.sizeBytes / 2));
    await live.reload(d.id);
    expect(seen.served).toEqual([]);
    expect(seen.failed).toEqual([
      {
        revision: d.revision,
        serving: null,
        reason: `v1 needs ${formatBytes(v.sizeBytes)} of model memory; this replica holds 0 bytes of its ${formatBytes(Math.floor(v.sizeBytes / 2))} limit (INFERENCE_MEMORY_LIMIT_BYTES)`,
      },
    ]);
    expect(live.byIdGet(d.id)).toBeNull();
    // With room for it, the same revision loads and is reported as served.
    const roomy = new LiveRegistry(pool, () => undefined, reporter, v.sizeBytes * 4);
    await roomy.reload(d.id);
    expect(seen.served).toEqual([d.revision]);
    expect(roomy.byIdGet(d.id)?.primary.version).toBe(1);
  });

  it("reports a blob missing from the artifact store", async () => {
    const { d, v } = await deployed([Math.random(), 2]);
    fs.rmSync(path.join(process.env.ARTIFACT_DIR!, "sha256", v.sha256.slice(0, 2), v.sha256));
    const { seen, reporter } = recorder();
    await new LiveRegistry(pool, () => undefined, reporter).reload(d.id);
    expect(seen.failed).toHaveLength(1);
    expect(seen.failed[0]!.reason).toMatch(/^v1's artifact is missing from the artifact store \(ENOENT\)$/);
  });
});

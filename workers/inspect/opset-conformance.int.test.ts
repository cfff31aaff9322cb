import { Readable } from "node:stream";
import { InferenceSession } from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { createWorkspace } from "~/db/seed/factories";
import { encodeModel } from "~/db/seed/onnx-builder";
import { uploadModelVersion } from "~/server/registry/models.service";
import { runtimeReason } from "./onnx-parse";

/*
 * Steward has no opset or IR range of its own: what onnxruntime loads is registered, what it
 * refuses is refused with its reason. Small models for every opset from 1 to past the
 * runtime's newest, each asked of the runtime directly and then uploaded.
 */
const OPSETS = [1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 17, 19, 21, 22, 23, 24, 25, 26, 27, 28, 30];
// The IR version each opset was released with (onnx/docs/Versioning.md), capped where the runtime stops.
const irFor = (opset: number) => (opset <= 8 ? 3 : opset <= 10 ? 5 : opset <= 12 ? 7 : opset <= 17 ? 8 : opset <= 19 ? 9 : opset <= 22 ? 10 : 11);

function model(opset: number, opType = "Relu") {
  const vi = (name: string) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: "n" }] } } } });
  return encodeModel({
    irVersion: irFor(opset),
    opsetImport: [{ domain: "", version: opset }],
    producerName: "conformance",
    graph: { name: `relu_${opset}`, node: [{ opType, input: ["x"], output: ["y"] }], input: [vi("x")], output: [vi("y")] },
  });
}

async function runtimeVerdict(bytes: Uint8Array): Promise<{ loads: true } | { loads: false; reason: string }> {
  try {
    const s = await InferenceSession.create(bytes, { graphOptimizationLevel: "disabled", executionProviders: ["cpu"], logSeverityLevel: 3 });
    await s.release();
    return { loads: true };
  } catch (err) {
    return { loads: false, reason: runtimeReason(err) };
  }
}

describe("opset conformance with onnxruntime", () => {
  it("registers every opset the runtime loads and refuses the others with the runtime's reason", { timeout: 120_000 }, async () => {
    const ws = await createWorkspace();
    const verdicts: Record<number, "registered" | "refused"> = {};
    const upload = async (opset: number, bytes: Uint8Array) => {
      const expected = await runtimeVerdict(bytes);
      const result = await uploadModelVersion(ws.owner.wsActor, { name: `opset-${opset}`, filename: "m.onnx" }, Readable.from([Buffer.from(bytes)])).then(
        (r) => ({ ok: true as const, r }),
        (err: Error & { code?: string }) => ({ ok: false as const, err }),
      );
      if (expected.loads) {
        expect(result.ok, `opset ${opset}: the runtime loads it, Steward must register it (${result.ok ? "" : result.err.message})`).toBe(true);
        if (result.ok) expect(result.r).toMatchObject({ created: true, loadable: true, version: 1 });
      } else {
        expect(result.ok, `opset ${opset}: the runtime refuses it (${expected.reason}), so must Steward`).toBe(false);
        if (!result.ok) {
          expect(result.err.code).toBe("INVALID");
          expect(result.err.message).toBe(`onnxruntime cannot load this model, so it was not registered: ${expected.reason}`);
        }
      }
      verdicts[opset] = expected.loads ? "registered" : "refused";
    };
    // Two at a time: each upload spawns an inspection process.
    for (let i = 0; i < OPSETS.length; i += 2) await Promise.all(OPSETS.slice(i, i + 2).map((o) => upload(o, model(o))));
    // An opset-1 model whose operator the runtime still implements at that version is registered too.
    const identity = await runtimeVerdict(model(1, "Identity"));
    await upload(101, model(1, "Identity"));
    expect(verdicts[101]).toBe(identity.loads ? "registered" : "refused");
    const registered = OPSETS.filter((o) => verdicts[o] === "registered");
    // The old opsets the runtime still runs (6 and 1–5's Relu are both asked), the newest ones, and refusals past them.
    expect(registered).toContain(6);
    expect(registered).toContain(24);
    expect(OPSETS.filter((o) => verdicts[o] === "refused")).toContain(30);
    console.log(`[conformance] registered opsets ${registered[0]}–${registered.at(-1)}; refused ${OPSETS.filter((o) => verdicts[o] === "refused").join(", ")}`);
  });
});

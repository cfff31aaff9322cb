import "server-only";
import { randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import type { OnnxSignature } from "~/db/schema/registry";
import { BundleRefused, findModel, unpackBundle, writeNormalisedTar, type BundleKind } from "~/server/artifacts/bundle";
import type { Staged } from "~/server/artifacts/store";
import { AppError } from "~/server/errors";
import { inspectOnnxBundle } from "./onnx-inspect";

const refused = (err: BundleRefused) =>
  new AppError("INVALID", `The bundle was refused, and nothing was stored: ${err.message}`, { field: "file", cause: err });

/**
 * An uploaded bundle, checked and normalised before anything reaches the store: unpacked
 * into a private folder beside the staging file (names, entry types, counts, sizes and
 * ratios checked as the bytes stream — server/artifacts/bundle.ts), the model found, every
 * external-data location checked and the model loaded by onnxruntime in the inspector
 * child, then written as the normalised tar whose sha256 is the version's address. The
 * unpacked folder is removed whatever happens.
 */
export async function prepareBundle(uploaded: Staged, kind: BundleKind): Promise<{ staged: Staged; inspected: OnnxSignature }> {
  const dir = path.dirname(uploaded.path);
  const work = path.join(dir, `${randomUUID()}.bundle`);
  try {
    let files: Map<string, number>;
    let model: string;
    try {
      ({ files } = await unpackBundle(uploaded.path, kind, work));
      model = findModel(files.keys());
    } catch (err) {
      throw err instanceof BundleRefused ? refused(err) : err;
    }
    const total = [...files.values()].reduce((a, b) => a + b, 0);
    const { signature, data } = await inspectOnnxBundle(work, model, total).catch((err: unknown) => {
      if (err instanceof AppError)
        throw new AppError("INVALID", `The bundle was refused, and nothing was stored: ${err.message}`, { field: "file", cause: err });
      throw err;
    });
    const out = path.join(dir, `${randomUUID()}.tar`);
    try {
      const { sha256, size } = await writeNormalisedTar(path.join(work, path.posix.dirname(model)), path.posix.basename(model), data, out);
      return { staged: { sha256, size, path: out, discard: () => fs.rm(out, { force: true }) }, inspected: signature };
    } catch (err) {
      await fs.rm(out, { force: true });
      throw err;
    }
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

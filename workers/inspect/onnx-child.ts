/* ---------------------------------------------------------------------------
 * Runs in its own process, with a memory and time limit set by its parent
 * (server/registry/onnx-inspect.ts): a hostile model can crash or exhaust this
 * process, never the web server. Prints one JSON line.
 * ------------------------------------------------------------------------- */
import fs from "node:fs";
import { InferenceSession } from "onnxruntime-node";
import { OnnxRejected, parseOnnx } from "./onnx-parse";

const file = process.argv[2];
function reply(v: unknown) {
  process.stdout.write(`${JSON.stringify(v)}\n`, () => process.exit(0));
}

try {
  const bytes = fs.readFileSync(file!);
  const signature = parseOnnx(bytes);
  let runtime: { loadable: boolean; error?: string; inputNames?: string[]; outputNames?: string[] };
  try {
    // From bytes, never from a path: onnxruntime then has no folder to read anything from.
    const session = await InferenceSession.create(bytes, { graphOptimizationLevel: "disabled", executionProviders: ["cpu"] });
    runtime = { loadable: true, inputNames: [...session.inputNames], outputNames: [...session.outputNames] };
    await session.release();
  } catch (err) {
    runtime = { loadable: false, error: (err instanceof Error ? err.message : String(err)).split("\n")[0]!.slice(0, 300) };
  }
  reply({ ok: true, signature: { ...signature, runtime } });
} catch (err) {
  reply({
    ok: false,
    message: err instanceof OnnxRejected ? err.message : "The file is not a valid ONNX model: it could not be read.",
  });
}

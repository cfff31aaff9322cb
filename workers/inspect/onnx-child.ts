/* ---------------------------------------------------------------------------
 * Runs in its own process, with a memory and time limit set by its parent
 * (server/registry/onnx-inspect.ts): a hostile model can crash or exhaust this
 * process, never the web server. Prints one JSON line.
 *
 *   onnx-child.ts <file.onnx>                 a single model, loaded from its bytes
 *   onnx-child.ts --bundle <dir> <model>      an unpacked bundle: <model> relative to <dir>
 * ------------------------------------------------------------------------- */
import fs from "node:fs";
import path from "node:path";
import { InferenceSession } from "onnxruntime-node";
import { checkExternalRefs, OnnxRejected, parseOnnx, runtimeReason, type ExternalRef } from "./onnx-parse";

function reply(v: unknown) {
  process.stdout.write(`${JSON.stringify(v)}\n`, () => process.exit(0));
}

/** The regular files under `dir` (relative paths) and their sizes; anything else is refused. */
function listFiles(dir: string) {
  const files = new Map<string, number>();
  const walk = (rel: string) => {
    for (const d of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      const st = fs.lstatSync(path.join(dir, r));
      if (st.isDirectory()) walk(r);
      else if (st.isFile()) files.set(r, st.size);
      else throw new OnnxRejected(`${JSON.stringify(r)} is not a regular file.`);
    }
  };
  walk("");
  return files;
}

const options = { graphOptimizationLevel: "disabled", executionProviders: ["cpu"], logSeverityLevel: 3 } as const;

async function inspect() {
  const bundle = process.argv[2] === "--bundle" ? { dir: process.argv[3]!, model: process.argv[4]! } : null;
  const file = bundle ? path.join(bundle.dir, bundle.model) : process.argv[2]!;
  let bytes: Buffer;
  let signature: ReturnType<typeof parseOnnx>;
  let data: string[] = [];
  try {
    bytes = fs.readFileSync(file);
    const external: ExternalRef[] | null = bundle ? [] : null;
    signature = parseOnnx(bytes, external);
    if (bundle) {
      // Every location resolves to a regular file of the bundle, and every other file is one a location names.
      const files = listFiles(bundle.dir);
      const modelDir = path.posix.dirname(bundle.model) === "." ? "" : path.posix.dirname(bundle.model);
      const used = checkExternalRefs(external!, modelDir, files);
      const full = (f: string) => (modelDir ? `${modelDir}/${f}` : f);
      const usedFull = new Set([...used].map(full));
      const extra = [...files.keys()].filter((f) => f !== bundle.model && !usedFull.has(f));
      if (extra.length) {
        throw new OnnxRejected(
          `The bundle holds ${extra.length === 1 ? "a file" : `${extra.length} files`} the model does not reference (${extra
            .slice(0, 5)
            .map((f) => JSON.stringify(f))
            .join(", ")}${extra.length > 5 ? ", …" : ""}): a bundle holds the model and its external data files only.`,
        );
      }
      data = [...used];
    }
  } catch (err) {
    return { ok: false, message: err instanceof OnnxRejected ? err.message : "The file is not a valid ONNX model: it could not be read." };
  }
  let session: InferenceSession;
  try {
    // A single model from its bytes, never from a path: onnxruntime then has no folder to read anything from.
    // A bundle from its path, so that its (checked) locations resolve inside the unpacked folder.
    session = bundle ? await InferenceSession.create(file, options) : await InferenceSession.create(bytes, options);
  } catch (err) {
    // The runtime judges what runs (IR version, opsets, operators, types), and its reason is the one given.
    return { ok: false, message: `onnxruntime cannot load this model, so it was not registered: ${runtimeReason(err)}` };
  }
  const runtime = { loadable: true, inputNames: [...session.inputNames], outputNames: [...session.outputNames] };
  await session.release();
  return { ok: true, signature: { ...signature, runtime }, data };
}

reply(await inspect());

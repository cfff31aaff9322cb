import "server-only";
import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import type { OnnxSignature } from "~/db/schema/registry";
import { AppError } from "~/server/errors";

export const INSPECT_LIMITS = { timeoutMs: 30_000, rssBytes: 1536 * 1024 ** 2, heapMb: 1024 };

async function rssOf(pid: number) {
  const status = await fs.readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
  const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
  return kb ? Number(kb) * 1024 : 0;
}

/**
 * Inspects an ONNX file in a separate process with a time and memory limit (not a
 * worker thread: a crash inside onnxruntime takes its whole process down). `file` is a
 * staging path Steward created; no path from a client or a model is ever opened.
 */
export async function inspectOnnx(file: string): Promise<OnnxSignature> {
  const root = process.cwd();
  const child = spawn(
    process.execPath,
    [`--max-old-space-size=${INSPECT_LIMITS.heapMb}`, "--import", "tsx", "--import", "./bin/hooks/register.js", path.join("workers", "inspect", "onnx-child.ts"), file],
    // The child gets no configuration or secrets: only PATH.
    // eslint-disable-next-line no-restricted-properties
    { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { PATH: process.env.PATH, NODE_ENV: "production" } },
  );
  let out = "";
  let err = "";
  let killedFor = null as string | null;
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString().slice(0, 4000)));
  const timer = setTimeout(() => {
    killedFor = "took longer than 30 seconds to inspect";
    child.kill("SIGKILL");
  }, INSPECT_LIMITS.timeoutMs);
  const watch = setInterval(() => {
    void rssOf(child.pid!).then((rss) => {
      if (rss > INSPECT_LIMITS.rssBytes && !killedFor) {
        killedFor = "needed more memory than allowed to inspect";
        child.kill("SIGKILL");
      }
    });
  }, 100);
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  clearTimeout(timer);
  clearInterval(watch);
  if (killedFor) throw new AppError("INVALID", `The model ${killedFor}; it was rejected.`, { field: "file" });
  const last = out.trim().split("\n").pop();
  let result: { ok: boolean; message?: string; signature?: OnnxSignature } | undefined;
  try {
    result = last ? (JSON.parse(last) as typeof result) : undefined;
  } catch {
    result = undefined;
  }
  if (!result) {
    console.error(`[onnx-inspect] child exited with ${code}: ${err}`);
    throw new AppError("INVALID", "The model crashed the inspector; it was rejected as unreadable.", { field: "file" });
  }
  if (!result.ok) throw new AppError("INVALID", result.message ?? "The file is not a valid ONNX model.", { field: "file" });
  return result.signature!;
}

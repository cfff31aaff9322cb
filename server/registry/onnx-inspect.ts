import "server-only";
import { spawn } from "node:child_process";
import { existsSync, lstatSync, readlinkSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import type { OnnxSignature } from "~/db/schema/registry";
import { AppError } from "~/server/errors";

/**
 * The inspector's limits. Memory: 1.5 GiB, or for a large model 4× its size — the file's bytes,
 * onnxruntime's copy of the model and its initializers (measured: 3.04× for a 1 GB model) —
 * so a 1 GiB model can be inspected while a small hostile one that balloons is still
 * stopped at 1.5 GiB.
 */
export const INSPECT_LIMITS = { timeoutMs: 30_000, rssBytes: 1536 * 1024 ** 2, rssPerFileByte: 4, heapMb: 1024 };

async function rssOf(pid: number) {
  const status = await fs.readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
  const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
  return kb ? Number(kb) * 1024 : 0;
}

/** The RSS of a process and its descendants (in the sandbox, node runs under bwrap and its reaper). */
async function treeRss(pid: number, depth = 0): Promise<number> {
  let total = await rssOf(pid);
  if (depth > 4) return total;
  const tasks = await fs.readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
  for (const t of tasks) {
    const kids = await fs.readFile(`/proc/${pid}/task/${t}/children`, "utf8").catch(() => "");
    for (const k of kids.split(" ").filter(Boolean)) total += await treeRss(Number(k), depth + 1);
  }
  return total;
}

/** Project paths the child needs to start (read-only inside the sandbox): its code, its dependencies, the loader hooks. */
const CHILD_PATHS = ["node_modules", "package.json", "tsconfig.json", "bin/hooks", "workers/inspect", "server", "db"];
const ETC = ["/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime"];

function systemLink(p: string): string[] {
  try {
    const st = lstatSync(p);
    if (st.isSymbolicLink()) return ["--symlink", readlinkSync(p), p];
    if (st.isDirectory()) return ["--ro-bind", p, p];
  } catch {
    // absent on this system
  }
  return [];
}

/**
 * The bubblewrap wrapper around the inspector: no network, no other namespaces, an empty
 * environment, a read-only view of the system, of node, of the child's own code and
 * dependencies, and of `reads` (the staged file or the unpacked bundle) — not the artifact
 * store, the project's other files or its configuration; a private /tmp. Null when bwrap
 * is missing or cannot start here (no unprivileged user namespaces): the child then runs
 * as a plain process, as it did before, and a warning is logged once.
 */
function sandboxArgs(root: string, reads: string[]): string[] {
  const nodeDir = path.dirname(path.dirname(process.execPath));
  return [
    "--unshare-all",
    "--die-with-parent",
    "--new-session",
    "--clearenv",
    "--setenv",
    "PATH",
    "/usr/bin:/bin",
    "--setenv",
    "NODE_ENV",
    "production",
    // First: a bind below /tmp (a staging folder there) must come after the private /tmp, not be hidden by it.
    "--proc",
    "/proc",
    "--dev",
    "/dev",
    "--tmpfs",
    "/tmp",
    "--ro-bind",
    "/usr",
    "/usr",
    ...["/bin", "/sbin", "/lib", "/lib32", "/lib64"].flatMap(systemLink),
    ...ETC.flatMap((p) => ["--ro-bind-try", p, p]),
    ...(nodeDir.startsWith("/usr/") || nodeDir === "/usr" ? [] : ["--ro-bind", nodeDir, nodeDir]),
    ...CHILD_PATHS.flatMap((p) => ["--ro-bind-try", path.join(root, p), path.join(root, p)]),
    ...reads.flatMap((p) => ["--ro-bind", p, p]),
    "--remount-ro",
    "/",
    "--chdir",
    root,
    "--",
  ];
}

const BWRAP = ["/usr/bin/bwrap", "/bin/bwrap"].find((p) => existsSync(p)) ?? null;
let sandboxUsable: Promise<boolean> | undefined;
/** Whether bwrap starts node here (probed once). */
function canSandbox(root: string) {
  return (sandboxUsable ??= new Promise<boolean>((resolve) => {
    if (!BWRAP) return resolve(false);
    const p = spawn(BWRAP, [...sandboxArgs(root, []), process.execPath, "-e", "0"], { stdio: "ignore", env: {} as NodeJS.ProcessEnv });
    p.on("error", () => resolve(false));
    p.on("close", (code) => resolve(code === 0));
  }).then((ok) => {
    if (!ok)
      console.warn(
        "[onnx-inspect] bubblewrap is missing or cannot start here: the ONNX inspector runs as a plain child process (install bubblewrap, allow unprivileged user namespaces)",
      );
    return ok;
  }));
}

/**
 * Inspects an ONNX file in a separate process with a time and memory limit (not a
 * worker thread: a crash inside onnxruntime takes its whole process down). `file` is a
 * staging path Steward created; no path from a client or a model is ever opened.
 */
export async function inspectOnnx(file: string): Promise<OnnxSignature> {
  return (await runInspector([file], (await fs.stat(file)).size, [file])).signature;
}

/**
 * Inspects an unpacked bundle: `model` (relative to `dir`) is parsed, every external-data
 * location checked against the bundle's files, and onnxruntime loads it from its path.
 * Returns the signature and the data files the model references (relative to its folder).
 */
export async function inspectOnnxBundle(dir: string, model: string, totalBytes: number): Promise<{ signature: OnnxSignature; data: string[] }> {
  // The unpacked folder is bound read-only into the sandbox: onnxruntime reads the data files from it and can write nothing.
  return runInspector(["--bundle", dir, model], totalBytes, [dir]);
}

/** How `argv` is started: under bwrap with `reads` bound read-only when it works here, else as it is. */
export async function inspectorCommand(argv: string[], reads: string[]): Promise<{ file: string; args: string[]; sandboxed: boolean }> {
  const root = process.cwd();
  if (await canSandbox(root)) return { file: BWRAP!, args: [...sandboxArgs(root, reads), ...argv], sandboxed: true };
  return { file: argv[0]!, args: argv.slice(1), sandboxed: false };
}

async function runInspector(args: string[], sizeBytes: number, reads: string[]): Promise<{ signature: OnnxSignature; data: string[] }> {
  const root = process.cwd();
  const rssLimit = Math.max(INSPECT_LIMITS.rssBytes, INSPECT_LIMITS.rssPerFileByte * sizeBytes);
  const argv = [
    process.execPath,
    `--max-old-space-size=${INSPECT_LIMITS.heapMb}`,
    "--import",
    "tsx",
    "--import",
    "./bin/hooks/register.js",
    path.join("workers", "inspect", "onnx-child.ts"),
    ...args,
  ];
  const cmd = await inspectorCommand(argv, reads);
  const child = spawn(
    cmd.file,
    cmd.args,
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
    void treeRss(child.pid!).then((rss) => {
      if (rss > rssLimit && !killedFor) {
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
  let result: { ok: boolean; message?: string; signature?: OnnxSignature; data?: string[] } | undefined;
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
  return { signature: result.signature!, data: result.data ?? [] };
}

import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { freePort } from "../../bin/lib/embedded-pg";

/** One Steward process a bench started: its kind, port, child and the tail of its output. */
export type Proc = { kind: Kind; port: number; child: ChildProcess; out: string };
export type Kind = "web" | "worker" | "inference";

const root = path.resolve(import.meta.dirname, "..", "..");
const entry: Record<Kind, string> = { web: "server.ts", worker: "workers/worker/index.ts", inference: "workers/inference/index.ts" };
const readyLine: Record<Kind, RegExp> = { web: /\[web\] ready/, worker: /\[worker\] .* ready/, inference: /\[inference\] .* ready/ };

/** Starts a production process on a free port and resolves once it says it is ready. */
export async function startProcess(kind: Kind, extraEnv: Record<string, string> = {}): Promise<Proc> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: "production" as const,
    PORT: String(port),
    INFERENCE_PORT: String(port),
    INFERENCE_THREADS: "1",
    WORKER_HEALTH_PORT: String(port),
    NEXTAUTH_URL: `http://localhost:${port}`,
    ...extraEnv,
  };
  const child = spawn(process.execPath, ["--import", "tsx", "--import", "./bin/hooks/register.js", entry[kind]], {
    cwd: root,
    env,
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  const p: Proc = { kind, port, child, out: "" };
  // The tail is enough to find the ready line and to show why a process died.
  const keep = (d: Buffer) => (p.out = (p.out + d.toString()).slice(-20_000));
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", () => readyLine[kind].test(p.out) && resolve());
    child.on("exit", (c) => reject(new Error(`${kind} exited (${c}):\n${p.out.slice(-2000)}`)));
  });
  return p;
}

/** SIGTERM, and the exit code once it has drained. */
export function stopProcess(p: Proc) {
  return new Promise<number | null>((resolve) => {
    if (p.child.exitCode !== null) return resolve(p.child.exitCode);
    p.child.once("exit", (c) => resolve(c));
    p.child.kill("SIGTERM");
  });
}

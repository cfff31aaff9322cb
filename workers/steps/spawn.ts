import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import type { StepContext, StepOutput } from "./steps";

export type Emit = (stream: "stdout" | "stderr" | "system", line: string) => void;
export type ProcessOutcome = { ok: true; output: StepOutput } | { ok: false; reason: string };

/** Kills a whole process group (the step and anything it started). */
function killGroup(pid: number | undefined) {
  if (!pid) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/** Runs a model-testing step in its own Node process; `stop` ends it early (timeout, cancel, lost lease). */
export async function runModelStep(ctx: StepContext, emit: Emit, timeoutMs: number, stop: AbortSignal): Promise<ProcessOutcome> {
  const child = spawn(
    process.execPath,
    ["--max-old-space-size=4096", "--import", "tsx", "--import", "./bin/hooks/register.js", path.join("workers", "steps", "step-child.ts")],
    // eslint-disable-next-line no-restricted-properties
    { cwd: process.cwd(), stdio: ["ignore", "pipe", "pipe", "ipc"], detached: true, env: { PATH: process.env.PATH, NODE_ENV: "production" } },
  );
  let outcome: ProcessOutcome | null = null;
  let killedFor: string | null = null;
  child.on("message", (m: { kind: string; line?: string; result?: StepOutput; reason?: string }) => {
    if (m.kind === "log") emit("system", m.line!);
    else if (m.kind === "done") outcome = { ok: true, output: m.result! };
    else if (m.kind === "failed") outcome = { ok: false, reason: m.reason! };
  });
  readline.createInterface({ input: child.stderr! }).on("line", (l) => emit("stderr", l));
  readline.createInterface({ input: child.stdout! }).on("line", (l) => emit("stdout", l));
  const onStop = () => {
    killedFor = String(stop.reason ?? "stopped");
    killGroup(child.pid);
  };
  stop.addEventListener("abort", onStop, { once: true });
  const timer = setTimeout(() => {
    killedFor = `It ran longer than its timeout of ${Math.round(timeoutMs / 1000)} s and was stopped.`;
    killGroup(child.pid);
  }, timeoutMs);
  child.send(ctx);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on("close", (c, s) => resolve([c, s])));
  clearTimeout(timer);
  stop.removeEventListener("abort", onStop);
  if (killedFor) return { ok: false, reason: killedFor };
  if (outcome) return outcome;
  return { ok: false, reason: `The step process died before reporting a result (${signal ? `signal ${signal}` : `exit code ${code}`}); onnxruntime may have crashed on this model.` };
}

export type CommandOutcome = { exitCode: number | null; reason: string | null; outputDir: string; cleanup: () => Promise<void> };

/**
 * Runs an admin-defined shell command in its own process group with a timeout, an
 * environment of its own (PATH and what the pipeline sets, never the worker's secrets),
 * a working folder and an output folder; stdout and stderr become log lines.
 */
export async function runCommand(
  opts: { run: string; env: Record<string, string>; workdir?: string; timeoutMs: number },
  emit: Emit,
  stop: AbortSignal,
): Promise<CommandOutcome> {
  const base = await fs.mkdtemp(path.join(os.tmpdir(), "steward-step-"));
  const outputDir = path.join(base, "output");
  const scratch = path.join(base, "work");
  await fs.mkdir(outputDir);
  await fs.mkdir(scratch);
  const cwd = opts.workdir ?? scratch;
  const child = spawn("/bin/sh", ["-c", opts.run], {
    cwd,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    // eslint-disable-next-line no-restricted-properties
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: scratch, LANG: "C.UTF-8", NODE_ENV: "production", ...opts.env, STEWARD_OUTPUT_DIR: outputDir, STEWARD_WORKDIR: cwd },
  });
  readline.createInterface({ input: child.stdout }).on("line", (l) => emit("stdout", l));
  readline.createInterface({ input: child.stderr }).on("line", (l) => emit("stderr", l));
  let reason: string | null = null;
  const onStop = () => {
    reason = String(stop.reason ?? "stopped");
    killGroup(child.pid);
  };
  stop.addEventListener("abort", onStop, { once: true });
  const timer = setTimeout(() => {
    reason = `The command ran longer than its timeout of ${Math.round(opts.timeoutMs / 1000)} s and was stopped.`;
    killGroup(child.pid);
  }, opts.timeoutMs);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
    child.on("error", (err) => {
      reason = `The command could not start: ${err.message}`;
      resolve([null, null]);
    });
    child.on("close", (c, s) => resolve([c, s]));
  });
  clearTimeout(timer);
  stop.removeEventListener("abort", onStop);
  // Whatever the command left running in its group goes too.
  killGroup(child.pid);
  if (!reason && code !== 0) reason = signal ? `The command was killed by ${signal}.` : `The command exited with code ${code}.`;
  return { exitCode: code, reason, outputDir, cleanup: () => fs.rm(base, { recursive: true, force: true }) };
}

/** Files under `dir`, relative paths, at most `max`. */
export async function listFiles(dir: string, max = 200): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await fs.readdir(d, { withFileTypes: true })) {
      if (out.length >= max) return;
      const full = path.join(d, e.name);
      if (e.isDirectory()) await walk(full);
      else if (e.isFile()) out.push(path.relative(dir, full));
    }
  };
  await walk(dir);
  return out.sort();
}

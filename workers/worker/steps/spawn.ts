import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import readline from "node:readline";
import type { Readable } from "node:stream";
import { env } from "~/env";
import { commandStepRefusal } from "~/server/instance/settings.service";
import {
  EMPTY_ENV,
  findTools,
  folderUsage,
  isRoot,
  killGroup,
  MAX_ENTRIES,
  missingToolsMessage,
  prepareFolders,
  probeSandbox,
  SANDBOX_INPUTS,
  SANDBOX_OUTPUT,
  SANDBOX_PATH,
  SANDBOX_WORK,
  sandboxArgv,
  SandboxRefusal,
  sandboxInit,
  UidPool,
  type SandboxLimits,
  type SandboxSettings,
  type StepFolders,
} from "./sandbox";
import type { StepContext, StepOutput } from "./context";

export type Emit = (stream: "stdout" | "stderr" | "system", line: string) => void;
export type ProcessOutcome = { ok: true; output: StepOutput } | { ok: false; reason: string };

/** Runs a model-testing step in its own Node process; `stop` ends it early (timeout, cancel, lost lease). */
export async function runModelStep(ctx: StepContext, emit: Emit, timeoutMs: number, stop: AbortSignal): Promise<ProcessOutcome> {
  const child = spawn(
    process.execPath,
    ["--max-old-space-size=4096", "--import", "tsx", "--import", "./bin/hooks/register.js", path.join("workers", "worker", "steps", "step-child.ts")],
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
  return {
    ok: false,
    reason: `The step process died before reporting a result (${signal ? `signal ${signal}` : `exit code ${code}`}); onnxruntime may have crashed on this model.`,
  };
}

export type CommandOutcome = {
  exitCode: number | null;
  reason: string | null;
  outputDir: string;
  /** What its outputs may hold in all (COMMAND_STEPS_OUTPUT_MB), for storing them. */
  outputLimitBytes: number;
  cleanup: () => Promise<void>;
};

export type CommandOptions = {
  /** The workspace whose pipeline runs the step: the instance may allow command steps in some workspaces only. */
  workspaceId: string;
  run: string;
  /** The step's declared variables; STEWARD_* ones are set by the worker and win. */
  env: Record<string, string>;
  /** A folder under the step's work folder. */
  workdir?: string;
  timeoutMs: number;
  /** The step asks for the network (it gets it only where the instance allows it). */
  network?: boolean;
  /** Files the step may read, copied into its inputs folder under `name`. */
  inputs?: { name: string; file: string }[];
  /** Instead of the instance's settings (tests set small limits). */
  settings?: Partial<Omit<SandboxSettings, "limits">> & { limits?: Partial<SandboxLimits> };
};

function instanceSettings(): SandboxSettings {
  return {
    network: env.COMMAND_STEPS_NETWORK,
    uidBase: env.COMMAND_STEPS_UID_BASE,
    uidCount: env.COMMAND_STEPS_UID_COUNT,
    limits: {
      memoryMb: env.COMMAND_STEPS_MEMORY_MB,
      cpuSeconds: env.COMMAND_STEPS_CPU_SECONDS,
      maxProcesses: env.COMMAND_STEPS_MAX_PROCESSES,
      outputMb: env.COMMAND_STEPS_OUTPUT_MB,
      tmpMb: env.COMMAND_STEPS_TMP_MB,
    },
  };
}

const pools = new Map<string, UidPool>();
const poolFor = (s: SandboxSettings) => {
  const key = `${s.uidBase}:${s.uidCount}`;
  let pool = pools.get(key);
  if (!pool) pools.set(key, (pool = new UidPool(s.uidBase, s.uidCount)));
  return pool;
};
let probed: Promise<string | null> | null = null;

/**
 * Runs an admin-defined shell command in its own sandbox (see sandbox.ts): an unprivileged
 * per-step uid, only the system's programs, its folders and its inputs, no network unless
 * declared and allowed, capped CPU, memory, processes and output, its own process group
 * and a timeout. stdout and stderr become log lines. The one place command steps start:
 * COMMAND_STEPS=disabled, a workspace the instance does not allow them in (Settings › Instance),
 * or a machine without bubblewrap, refuses here.
 */
export async function runCommand(opts: CommandOptions, emit: Emit, stop: AbortSignal): Promise<CommandOutcome> {
  if (env.COMMAND_STEPS === "disabled") {
    throw new SandboxRefusal("Command steps are disabled on this instance (COMMAND_STEPS=disabled); ask its administrator, or use the built-in step types.");
  }
  const refused = await commandStepRefusal(opts.workspaceId);
  if (refused) throw new SandboxRefusal(refused);
  const found = findTools();
  if ("missing" in found) throw new SandboxRefusal(missingToolsMessage(found.missing));
  const base = instanceSettings();
  const settings: SandboxSettings = { ...base, ...opts.settings, limits: { ...base.limits, ...opts.settings?.limits } };
  const { limits } = settings;
  const slot = isRoot() ? await poolFor(settings).acquire() : null;
  const uid = slot?.uid ?? null;
  let folders: StepFolders;
  try {
    folders = await prepareFolders(uid, opts.inputs ?? []);
  } catch (err) {
    await slot?.release();
    throw err;
  }
  const cleanup = async () => {
    await fs.rm(folders.base, { recursive: true, force: true });
    await slot?.release();
  };
  try {
    probed ??= probeSandbox({ tools: found.tools, uid, folders, limits });
    const problem = await probed;
    // A failed probe is tried again next time (bubblewrap may have been fixed meanwhile).
    if (problem) {
      probed = null;
      throw new SandboxRefusal(problem);
    }
    const network = !!opts.network && settings.network === "allow";
    if (opts.network && !network)
      emit("system", "This step asks for the network, but the instance does not allow it (COMMAND_STEPS_NETWORK=deny): it runs without.");
    const cwd = opts.workdir ? path.posix.join(SANDBOX_WORK, opts.workdir) : SANDBOX_WORK;
    if (!cwd.startsWith(`${SANDBOX_WORK}/`) && cwd !== SANDBOX_WORK)
      throw new SandboxRefusal("workdir is a folder inside the step's work folder: a relative path without '..'.");
    if (cwd !== SANDBOX_WORK) {
      const host = path.join(folders.work, path.posix.relative(SANDBOX_WORK, cwd));
      await fs.mkdir(host, { recursive: true });
      if (uid !== null) for (let d = host; d !== folders.work; d = path.dirname(d)) await fs.chown(d, uid, uid);
    }
    const stepEnv: Record<string, string> = {
      PATH: SANDBOX_PATH,
      HOME: SANDBOX_WORK,
      TMPDIR: "/tmp",
      LANG: "C.UTF-8",
      ...opts.env,
      STEWARD_OUTPUT_DIR: SANDBOX_OUTPUT,
      STEWARD_WORKDIR: cwd,
      STEWARD_INPUTS_DIR: SANDBOX_INPUTS,
    };
    const { file, args } = sandboxArgv({ tools: found.tools, uid, folders, cwd, env: stepEnv, network, limits, run: opts.run, infoFd: 3 });
    // An empty environment: bwrap's own /proc/1/environ is readable inside the sandbox.
    const child = spawn(file, args, { cwd: "/", detached: true, stdio: ["ignore", "pipe", "pipe", "pipe"], env: EMPTY_ENV });
    let init: ReturnType<typeof sandboxInit> | null = null;
    let info = "";
    (child.stdio[3] as Readable).on("data", (d: Buffer) => {
      info += d.toString();
      const pid = /"child-pid":\s*(\d+)/.exec(info)?.[1];
      if (pid && !init) init = sandboxInit(Number(pid));
    });
    readline.createInterface({ input: child.stdout! }).on("line", (l) => emit("stdout", l));
    readline.createInterface({ input: child.stderr! }).on("line", (l) => emit("stderr", l));
    let reason: string | null = null;
    const kill = (why: string) => {
      reason ??= why;
      killGroup(child.pid);
    };
    const onStop = () => kill(String(stop.reason ?? "stopped"));
    stop.addEventListener("abort", onStop, { once: true });
    const timer = setTimeout(() => kill(`The command ran longer than its timeout of ${Math.round(opts.timeoutMs / 1000)} s and was stopped.`), opts.timeoutMs);
    // The folders' size, checked while it runs (RLIMIT_FSIZE bounds one file, this the sum).
    const capBytes = limits.outputMb * 1024 * 1024;
    const overCap = (u: { bytes: number; entries: number }) =>
      u.bytes > capBytes
        ? `The command wrote more than ${limits.outputMb} MiB to its work and output folders (COMMAND_STEPS_OUTPUT_MB) and was stopped; its outputs were discarded.`
        : u.entries > MAX_ENTRIES
          ? `The command left more than ${MAX_ENTRIES} files and folders in its work and output folders and was stopped; its outputs were discarded.`
          : null;
    let overflow: string | null = null;
    let measuring = false;
    const meter = setInterval(() => {
      if (measuring) return;
      measuring = true;
      void folderUsage([folders.work, folders.output])
        .then((u) => {
          const why = overCap(u);
          if (why) {
            overflow = why;
            kill(why);
          }
        })
        .finally(() => (measuring = false));
    }, 500);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
      child.on("error", (err) => {
        reason ??= `The command could not start: ${err.message}`;
        resolve([null, null]);
      });
      child.on("close", (c, s) => resolve([c, s]));
    });
    clearTimeout(timer);
    clearInterval(meter);
    stop.removeEventListener("abort", onStop);
    // Whatever the command left running goes too (bwrap's pid namespace dies with it), and
    // nothing of it is left when the worker reads its outputs.
    killGroup(child.pid);
    await (init as ReturnType<typeof sandboxInit> | null)?.gone();
    overflow ??= overCap(await folderUsage([folders.work, folders.output]));
    if (overflow) {
      reason = overflow;
      await fs.rm(folders.output, { recursive: true, force: true });
      await fs.mkdir(folders.output, { mode: 0o700 });
    }
    if (!reason && code !== 0) {
      reason = signal
        ? `The command was killed by ${signal}.`
        : code === 128 + 25
          ? `The command exited with code ${code}: a file grew past the limit of ${limits.outputMb} MiB (SIGXFSZ).`
          : code === 128 + 24
            ? `The command exited with code ${code}: a process used more than ${limits.cpuSeconds} s of CPU time (SIGXCPU).`
            : `The command exited with code ${code}.`;
    }
    return { exitCode: overflow ? (code === 0 ? -1 : code) : code, reason, outputDir: folders.output, outputLimitBytes: capBytes, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
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

import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import { constants as fsConstants, existsSync, lstatSync, readFileSync, readlinkSync, type Dirent } from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";

/*
 * The sandbox a pipeline `command` step runs in. A command step is code from a workspace
 * admin — on a shared instance, from anyone who signed up — so it runs:
 *
 *   prlimit (rlimits) → setpriv (drop to a per-step uid, no groups, no capabilities)
 *     → bwrap (new user, mount, pid, ipc, uts, net namespaces) → /bin/sh -c <run>
 *
 * Privileges are dropped *before* bwrap starts: run as root, `bwrap --uid 65534` only looks
 * like nobody and still opens root-only files. The per-step uid (COMMAND_STEPS_UID_BASE + n)
 * needs no /etc/passwd entry; setpriv and the kernel take any number. Each concurrent step
 * gets its own uid, so RLIMIT_NPROC (counted per uid) bounds one step's processes without
 * touching another's.
 *
 * Inside, the step sees /usr (and the /bin, /lib, /lib64, /sbin links), a few files under
 * /etc that programs need, read-only; its work folder (HOME) and output folder, writable;
 * its inputs (copies, read-only); a private /tmp and /dev/shm of bounded size; its own
 * /proc and a minimal /dev. The root of that tree is remounted read-only, so nothing else
 * can be written. No network unless the step declares it and the instance allows it.
 * bwrap is started with an empty environment (its /proc/1/environ is visible inside).
 *
 * A worker that is not root cannot pick uids: it runs bwrap as itself (unprivileged user
 * namespaces must be allowed). The mount namespace is then the only wall between the step
 * and the worker's files, and the process limit counts the worker user's processes too.
 */

export type SandboxLimits = {
  /** RLIMIT_AS, MiB, per process. */
  memoryMb: number;
  /** RLIMIT_CPU, seconds, per process. */
  cpuSeconds: number;
  /** RLIMIT_NPROC: processes and threads of the step's uid. */
  maxProcesses: number;
  /** Bytes (MiB) the step may leave in its work and output folders together; also RLIMIT_FSIZE. */
  outputMb: number;
  /** Size of the private /tmp (and /dev/shm), MiB, held in memory. */
  tmpMb: number;
};

export type SandboxSettings = {
  /** The instance's COMMAND_STEPS_NETWORK. */
  network: "allow" | "deny";
  uidBase: number;
  uidCount: number;
  limits: SandboxLimits;
};

/** A command step refused before it started; the message is for the run's page, verbatim. */
export class SandboxRefusal extends Error {}

export const SANDBOX_ROOT = "/steward";
export const SANDBOX_WORK = `${SANDBOX_ROOT}/work`;
export const SANDBOX_OUTPUT = `${SANDBOX_ROOT}/output`;
export const SANDBOX_INPUTS = `${SANDBOX_ROOT}/inputs`;
export const SANDBOX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/** Files and folders a step may leave before it is stopped, whatever their size (inodes are a resource too). */
export const MAX_ENTRIES = 10_000;

const TOOL_DIRS = ["/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin"];

export type SandboxTools = { bwrap: string; setpriv: string; prlimit: string };

/** The sandbox programs, looked up in the system folders (never the worker's PATH). */
export function findTools(dirs = TOOL_DIRS): { tools: SandboxTools } | { missing: string[] } {
  const find = (name: string) => dirs.map((d) => path.join(d, name)).find((p) => existsSync(p));
  const bwrap = find("bwrap");
  const setpriv = find("setpriv");
  const prlimit = find("prlimit");
  if (bwrap && setpriv && prlimit) return { tools: { bwrap, setpriv, prlimit } };
  return { missing: [!bwrap && "bwrap", !setpriv && "setpriv", !prlimit && "prlimit"].filter((x): x is string => !!x) };
}

export function missingToolsMessage(missing: string[]) {
  const pkgs = [missing.includes("bwrap") && "bubblewrap", (missing.includes("setpriv") || missing.includes("prlimit")) && "util-linux"]
    .filter(Boolean)
    .join(" ");
  return `Command steps run in a bubblewrap sandbox, and this worker lacks ${missing.join(", ")}. Install it on the worker's machine (Debian/Ubuntu: apt-get install ${pkgs}) and restart the worker; command steps never run unsandboxed.`;
}

export const isRoot = () => typeof process.getuid === "function" && process.getuid() === 0;

/** How a system folder appears inside: its symlink (merged /usr), a read-only bind, or nothing. */
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

/** /etc pieces programs need to start (the dynamic loader's cache, alternatives such as awk). */
const ETC_ALWAYS = ["/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime"];
/** …and to resolve names and check certificates, only when the step has the network. */
const ETC_NETWORK = [
  "/etc/resolv.conf",
  "/etc/hosts",
  "/etc/nsswitch.conf",
  "/etc/host.conf",
  "/etc/gai.conf",
  "/etc/ssl/certs",
  "/etc/ca-certificates",
  "/etc/ssl/openssl.cnf",
];

export type SandboxPlan = {
  tools: SandboxTools;
  /** Drop to this uid/gid with setpriv (the worker is root); null: run bwrap as the worker's own user. */
  uid: number | null;
  folders: StepFolders;
  /** Inside the sandbox: a folder under the work folder. */
  cwd: string;
  env: Record<string, string>;
  network: boolean;
  limits: SandboxLimits;
  run: string;
  /** A descriptor bwrap writes `{"child-pid": N}` to: the host pid of the sandbox's init. */
  infoFd?: number;
};

const MiB = 1024 * 1024;
/** What bwrap is started with: nothing (the project's ProcessEnv type insists on NODE_ENV). */
export const EMPTY_ENV = {} as NodeJS.ProcessEnv;

/** The argv that starts one sandboxed command. Pure: the unit tests read it. */
export function sandboxArgv(plan: SandboxPlan): { file: string; args: string[] } {
  const { tools, limits } = plan;
  const rlimits = [
    `--as=${limits.memoryMb * MiB}`,
    `--cpu=${limits.cpuSeconds}`,
    `--nproc=${limits.maxProcesses}`,
    `--fsize=${limits.outputMb * MiB}`,
    "--core=0",
  ];
  const drop =
    plan.uid === null
      ? []
      : [tools.setpriv, `--reuid=${plan.uid}`, `--regid=${plan.uid}`, "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"];
  const bwrap = [
    tools.bwrap,
    "--unshare-all",
    "--unshare-user",
    ...(plan.network ? ["--share-net"] : []),
    "--disable-userns",
    "--die-with-parent",
    "--new-session",
    ...(plan.infoFd ? ["--info-fd", String(plan.infoFd)] : []),
    "--clearenv",
    "--hostname",
    "steward-step",
    "--ro-bind",
    "/usr",
    "/usr",
    ...["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"].flatMap(systemLink),
    ...[...ETC_ALWAYS, ...(plan.network ? ETC_NETWORK : [])].flatMap((p) => ["--ro-bind-try", p, p]),
    "--ro-bind",
    plan.folders.passwd,
    "/etc/passwd",
    "--ro-bind",
    plan.folders.group,
    "/etc/group",
    "--proc",
    "/proc",
    "--dev",
    "/dev",
    "--size",
    String(limits.tmpMb * MiB),
    "--tmpfs",
    "/dev/shm",
    "--size",
    String(limits.tmpMb * MiB),
    "--tmpfs",
    "/tmp",
    "--bind",
    plan.folders.work,
    SANDBOX_WORK,
    "--bind",
    plan.folders.output,
    SANDBOX_OUTPUT,
    "--ro-bind",
    plan.folders.inputs,
    SANDBOX_INPUTS,
    // Nothing else is writable: bwrap's root and /dev are tmpfs of half the RAM otherwise.
    "--remount-ro",
    "/dev",
    "--remount-ro",
    "/",
    "--chdir",
    plan.cwd,
    ...Object.entries(plan.env).flatMap(([k, v]) => ["--setenv", k, v]),
    "--",
    "/bin/sh",
    "-c",
    plan.run,
  ];
  return { file: tools.prlimit, args: [...rlimits, "--", ...drop, ...bwrap] };
}

export type StepFolders = { base: string; work: string; output: string; inputs: string; passwd: string; group: string };

/**
 * The step's folders on the worker: base (root's, 0711: passable, not listable) holding
 * work and output (the step uid's, 0700) and inputs (root's, read-only copies).
 */
export async function prepareFolders(uid: number | null, inputs: { name: string; file: string }[]): Promise<StepFolders> {
  const base = await fs.mkdtemp(path.join(os.tmpdir(), "steward-step-"));
  const f: StepFolders = {
    base,
    work: path.join(base, "work"),
    output: path.join(base, "output"),
    inputs: path.join(base, "inputs"),
    passwd: path.join(base, "passwd"),
    group: path.join(base, "group"),
  };
  await fs.chmod(base, 0o711);
  if (uid !== null) {
    // bwrap runs as the step's uid: it must be able to pass through every folder above.
    for (let p = path.dirname(base); ; p = path.dirname(p)) {
      if (((await fs.stat(p)).mode & 0o001) === 0) {
        await fs.rm(base, { recursive: true, force: true });
        throw new SandboxRefusal(
          `Command steps' folders are made under ${os.tmpdir()}, but ${p} is closed to other users, so the step's uid cannot reach them. Point TMPDIR at a folder like /tmp for the worker.`,
        );
      }
      if (p === path.dirname(p)) break;
    }
  }
  for (const d of [f.work, f.output]) {
    await fs.mkdir(d, { mode: 0o700 });
    if (uid !== null) await fs.chown(d, uid, uid);
  }
  await fs.mkdir(f.inputs, { mode: 0o755 });
  for (const i of inputs) {
    // A copy, not a bind of the blob: the artifact store is not readable by step uids.
    const dest = path.join(f.inputs, path.basename(i.name));
    await fs.copyFile(i.file, dest, fsConstants.COPYFILE_FICLONE);
    await fs.chmod(dest, 0o444);
  }
  const id = uid ?? process.getuid?.() ?? 65534;
  await fs.writeFile(
    f.passwd,
    `root:x:0:0:root:/root:/usr/sbin/nologin\nstep:x:${id}:${id}:Steward command step:${SANDBOX_WORK}:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n`,
    { mode: 0o444 },
  );
  await fs.writeFile(f.group, `root:x:0:\nstep:x:${id}:\nnogroup:x:65534:\n`, { mode: 0o444 });
  return f;
}

/** Bytes and entries under the given folders (lstat: links are not followed); stops counting past MAX_ENTRIES. */
export async function folderUsage(dirs: string[]): Promise<{ bytes: number; entries: number }> {
  let bytes = 0;
  let entries = 0;
  const walk = async (d: string): Promise<void> => {
    let list: Dirent[];
    try {
      list = await fs.readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of list) {
      if (++entries > MAX_ENTRIES) return;
      const full = path.join(d, e.name);
      if (e.isDirectory()) await walk(full);
      else {
        try {
          // Allocated blocks, not the apparent size: a sparse file costs what it holds.
          const st = await fs.lstat(full);
          bytes += Math.min(st.size, st.blocks * 512);
        } catch {
          // gone meanwhile
        }
      }
    }
  };
  for (const d of dirs) await walk(d);
  return { bytes, entries };
}

/**
 * Per-step uids, one per running step. In-process set plus a lock file per uid under a
 * root-only folder, so two workers on one machine do not hand out the same uid; a lock
 * whose process is gone is taken over.
 */
export class UidPool {
  private inUse = new Set<number>();
  private next: number;
  constructor(
    private base: number,
    private count: number,
    private lockDir = path.join(os.tmpdir(), "steward-sandbox-uids"),
  ) {
    this.next = Math.floor(Math.random() * count);
  }

  async acquire(): Promise<{ uid: number; release: () => Promise<void> }> {
    await fs.mkdir(this.lockDir, { recursive: true, mode: 0o700 });
    for (let i = 0; i < this.count; i++) {
      const uid = this.base + ((this.next + i) % this.count);
      if (this.inUse.has(uid)) continue;
      const lock = path.join(this.lockDir, String(uid));
      if (!(await this.lock(lock))) continue;
      this.inUse.add(uid);
      this.next = (uid - this.base + 1) % this.count;
      return {
        uid,
        release: async () => {
          this.inUse.delete(uid);
          await fs.rm(lock, { force: true });
        },
      };
    }
    throw new SandboxRefusal(
      `Every one of the ${this.count} sandbox uids (COMMAND_STEPS_UID_COUNT) is in use by a running command step; this one will need to wait for another run.`,
    );
  }

  private async lock(file: string): Promise<boolean> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await fs.writeFile(file, String(process.pid), { flag: "wx", mode: 0o600 });
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        const holder = Number(await fs.readFile(file, "utf8").catch(() => "0"));
        if (holder && holder !== process.pid && alive(holder)) return false;
        if (holder === process.pid) return false;
        await fs.rm(file, { force: true });
      }
    }
    return false;
  }
}

function alive(pid: number) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Field 22 of /proc/<pid>/stat (start time), and its state; null when there is no such process. */
function procStat(pid: number): { state: string; start: string } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { state: rest[0]!, start: rest[19]! };
  } catch {
    return null;
  }
}

/**
 * Watches the sandbox's init (bwrap's pid-namespace pid 1, from --info-fd). Its death takes
 * every process of the sandbox with it, and the kernel finishes that before init turns
 * zombie; `gone()` waits for it, killing init if it lingers. Outputs are read only after: a
 * process that outlived its stdout could otherwise swap an output file for a link to a
 * worker file between listing and storing. The start time guards against a reused pid.
 */
export function sandboxInit(pid: number) {
  const first = procStat(pid);
  const isOurs = () => {
    const st = procStat(pid);
    return !!st && !!first && st.start === first.start && st.state !== "Z";
  };
  return {
    async gone(timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      while (isOurs()) {
        if (Date.now() > until) throw new Error(`the sandbox's init (pid ${pid}) did not exit`);
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // exited meanwhile
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

/** Kills a whole process group (prlimit → setpriv → bwrap share one; bwrap's children die with it). */
export function killGroup(pid: number | undefined) {
  if (!pid) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/**
 * Starts the sandbox once with `true`, so a machine where bwrap cannot create its
 * namespaces (unprivileged user namespaces disabled, a container's seccomp profile) is
 * told so in words, instead of every step failing with bwrap's own message.
 */
export async function probeSandbox(plan: Omit<SandboxPlan, "run" | "env" | "cwd" | "network">): Promise<string | null> {
  const { file, args } = sandboxArgv({ ...plan, run: "true", env: { PATH: SANDBOX_PATH }, cwd: SANDBOX_WORK, network: false });
  const child = spawn(file, args, { cwd: "/", env: EMPTY_ENV, stdio: ["ignore", "ignore", "pipe"], detached: true });
  const lines: string[] = [];
  readline.createInterface({ input: child.stderr }).on("line", (l) => lines.push(l));
  const code = await new Promise<number | null>((resolve) => {
    child.on("error", (err) => {
      lines.push(err.message);
      resolve(null);
    });
    child.on("close", (c) => resolve(c));
  });
  if (code === 0) return null;
  return `The command-step sandbox could not start on this worker: ${lines.join(" ").trim() || `exit code ${code}`}. bubblewrap needs unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0; in a container, a seccomp profile that allows them). Command steps never run unsandboxed.`;
}

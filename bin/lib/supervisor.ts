import type { ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";

/*
 * Keeps the processes of `npm start` running: a process that exits without being asked to
 * is started again after a delay that doubles with each crash in the window (1 s, 2 s,
 * 4 s …), and one that crashes `crashLimit.count` times within `crashLimit.windowMs` is
 * left stopped, with a message, instead of looping. `stop()` (Ctrl-C) ends everything and
 * starts nothing again.
 */

export type ExitRecord = {
  process: string;
  pid: number | null;
  exitCode: number | null;
  signal: string | null;
  /** Null when the process is not started again (the crash limit was reached). */
  restartInMs: number | null;
  gaveUp: boolean;
  /** Exits of this process within the crash window, this one included. */
  crashesInWindow: number;
  at: Date;
};

export type SupervisorOptions = {
  backoff?: { initialMs: number; maxMs: number };
  crashLimit?: { count: number; windowMs: number };
  /** How long `stop()` waits after SIGTERM before SIGKILL. */
  stopTimeoutMs?: number;
  /** Stores an exit (Settings › System shows them); a failure is printed, never thrown. */
  record?: (exit: ExitRecord) => Promise<void>;
  log?: (message: string) => void;
  warn?: (message: string) => void;
};

export type ProcessState = "running" | "restarting" | "gave-up" | "stopped";

type Entry = {
  start: () => ChildProcess;
  child?: ChildProcess;
  timer?: NodeJS.Timeout;
  crashes: number[];
  state: ProcessState;
};

const seconds = (ms: number) => (ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${ms} ms`);

/**
 * Events: `spawn` (name, child) each time a process starts; `exit` (ExitRecord) for an
 * unexpected exit, once the decision is made; `recorded` (ExitRecord) or `record-failed`
 * (ExitRecord, error) once `record` settles; `gave-up` (name); `idle` when nothing runs or
 * waits to run any more.
 */
export class Supervisor extends EventEmitter {
  private readonly entries = new Map<string, Entry>();
  private stopping: Promise<void> | undefined;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly crashLimit: { count: number; windowMs: number };
  private readonly log: (m: string) => void;
  private readonly warn: (m: string) => void;

  constructor(private readonly options: SupervisorOptions = {}) {
    super();
    this.backoff = options.backoff ?? { initialMs: 1000, maxMs: 30_000 };
    this.crashLimit = options.crashLimit ?? { count: 5, windowMs: 60_000 };
    this.log = options.log ?? ((m) => console.log(m));
    this.warn = options.warn ?? ((m) => console.error(m));
  }

  /** Starts `name` now and keeps it running. */
  add(name: string, start: () => ChildProcess) {
    if (this.entries.has(name)) throw new Error(`${name} is already supervised`);
    const entry: Entry = { start, crashes: [], state: "running" };
    this.entries.set(name, entry);
    this.spawn(name, entry);
  }

  state(name: string): ProcessState | undefined {
    return this.entries.get(name)?.state;
  }

  /** The running child of `name`, if any. */
  child(name: string): ChildProcess | undefined {
    return this.entries.get(name)?.child;
  }

  /** The delay before restart number `n` (1-based) within the window. */
  delayFor(n: number) {
    return Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** Math.max(0, n - 1));
  }

  private spawn(name: string, entry: Entry) {
    entry.timer = undefined;
    const child = entry.start();
    entry.child = child;
    entry.state = "running";
    // A spawn failure (ENOENT, EACCES) surfaces as 'error' and then 'exit' or 'close'.
    child.on("error", (err) => this.warn(`the ${name} process could not run: ${err.message}`));
    child.once("exit", (code, signal) => this.onExit(name, entry, child, code, signal));
    this.emit("spawn", name, child);
  }

  private onExit(name: string, entry: Entry, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null) {
    if (entry.child === child) entry.child = undefined;
    if (this.stopping) {
      entry.state = "stopped";
      this.checkIdle();
      return;
    }
    const now = Date.now();
    entry.crashes = [...entry.crashes.filter((t) => now - t < this.crashLimit.windowMs), now];
    const n = entry.crashes.length;
    const gaveUp = n >= this.crashLimit.count;
    const restartInMs = gaveUp ? null : this.delayFor(n);
    const how = signal ?? `code ${code}`;
    const exit: ExitRecord = { process: name, pid: child.pid ?? null, exitCode: code, signal, restartInMs, gaveUp, crashesInWindow: n, at: new Date(now) };
    if (gaveUp) {
      entry.state = "gave-up";
      this.warn(
        `the ${name} process exited (${how}) — its ${n}th exit within ${seconds(this.crashLimit.windowMs)}: it is not restarted again. ` +
          `Read its output above, fix the cause, then restart Steward (Ctrl-C, npm start).`,
      );
    } else {
      entry.state = "restarting";
      this.warn(
        `the ${name} process exited unexpectedly (${how}); restarting it in ${seconds(restartInMs!)} ` +
          `(exit ${n} within ${seconds(this.crashLimit.windowMs)}; at ${this.crashLimit.count} it stays stopped).`,
      );
      entry.timer = setTimeout(() => {
        if (!this.stopping) {
          this.log(`restarting the ${name} process.`);
          this.spawn(name, entry);
        }
      }, restartInMs!);
    }
    this.emit("exit", exit);
    if (gaveUp) this.emit("gave-up", name);
    if (this.options.record) {
      this.options.record(exit).then(
        () => this.emit("recorded", exit),
        (err: unknown) => {
          this.warn(`could not record the ${name} process's exit: ${err instanceof Error ? err.message : String(err)}`);
          this.emit("record-failed", exit, err);
        },
      );
    }
    this.checkIdle();
  }

  private checkIdle() {
    if ([...this.entries.values()].every((e) => !e.child && !e.timer)) this.emit("idle");
  }

  /** SIGTERM to every process, SIGKILL after `stopTimeoutMs`; nothing is restarted any more. */
  stop(): Promise<void> {
    return (this.stopping ??= new Promise<void>((resolve) => {
      const waiting: Promise<void>[] = [];
      for (const entry of this.entries.values()) {
        if (entry.timer) clearTimeout(entry.timer);
        entry.timer = undefined;
        const child = entry.child;
        if (!child) {
          if (entry.state !== "gave-up") entry.state = "stopped";
          continue;
        }
        waiting.push(new Promise<void>((done) => (child.exitCode !== null || child.signalCode !== null ? done() : child.once("exit", () => done()))));
        child.kill("SIGTERM");
      }
      const killer = setTimeout(() => {
        for (const e of this.entries.values()) e.child?.kill("SIGKILL");
      }, this.options.stopTimeoutMs ?? 15_000);
      killer.unref();
      void Promise.all(waiting).then(() => {
        clearTimeout(killer);
        resolve();
      });
    }));
  }
}

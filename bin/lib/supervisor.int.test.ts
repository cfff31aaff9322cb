import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import os from "node:os";
import { randomUUID } from "node:crypto";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { getDb } from "~/db/client";
import { processExits } from "~/db/schema";
import { recordProcessExit } from "~/server/system/heartbeat.service";
import { systemStatus } from "~/server/system/system.service";
import { type ExitRecord, Supervisor } from "./supervisor";

/*
 * The supervisor of `npm start` with real child processes: each says "ready" over IPC once
 * it runs, and exits when told to (or at once, for the one that always crashes). Every wait
 * is on an event of the supervisor or a child, never on time.
 */
const READY_AND_WAIT = `process.send({ type: "ready", pid: process.pid }); process.on("message", (m) => { if (m.exit !== undefined) process.exit(m.exit); }); process.on("SIGTERM", () => process.exit(0)); setInterval(() => {}, 1 << 30);`;
const CRASH_AT_ONCE = `process.exit(7);`;

function node(code: string): ChildProcess {
  return spawn(process.execPath, ["-e", code], { stdio: ["ignore", "ignore", "inherit", "ipc"] });
}

/** The next `spawn` of `name` whose child has said it is ready. */
function nextReady(sup: Supervisor, name: string): Promise<ChildProcess> {
  return new Promise((resolve) => {
    const onSpawn = (n: string, child: ChildProcess) => {
      if (n !== name) return;
      sup.off("spawn", onSpawn);
      child.once("message", () => resolve(child));
    };
    sup.on("spawn", onSpawn);
  });
}

function nextEvent<T extends unknown[]>(sup: Supervisor, event: string, match: (...args: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const on = (...args: T) => {
      if (!match(...args)) return;
      sup.off(event, on);
      resolve(args);
    };
    sup.on(event, on);
  });
}

const supervisors: Supervisor[] = [];
afterEach(async () => {
  await Promise.all(supervisors.splice(0).map((s) => s.stop()));
});

function supervisor(opts: ConstructorParameters<typeof Supervisor>[0] = {}) {
  const quiet = () => undefined;
  const s = new Supervisor({
    backoff: { initialMs: 20, maxMs: 200 },
    record: (exit) => recordProcessExit({ ...exit, hostname: os.hostname() }),
    log: quiet,
    warn: quiet,
    ...opts,
  });
  supervisors.push(s);
  return s;
}

describe("npm start's supervisor", () => {
  it("restarts a SIGKILLed process after its backoff and records the exit with its signal", async () => {
    const name = `web-${randomUUID().slice(0, 8)}`;
    const sup = supervisor();
    const firstReady = nextReady(sup, name);
    sup.add(name, () => node(READY_AND_WAIT));
    const first = await firstReady;

    const secondReady = nextReady(sup, name);
    const recorded = nextEvent<[ExitRecord]>(sup, "recorded", (e) => e.process === name);
    first.kill("SIGKILL");
    const second = await secondReady;
    const [exit] = await recorded;

    expect(second.pid).not.toBe(first.pid);
    expect(sup.state(name)).toBe("running");
    expect(exit).toMatchObject({ pid: first.pid, signal: "SIGKILL", exitCode: null, restartInMs: 20, gaveUp: false, crashesInWindow: 1 });
    const rows = await getDb().select().from(processExits).where(eq(processExits.process, name));
    expect(rows).toEqual([expect.objectContaining({ pid: first.pid, signal: "SIGKILL", restartInMs: 20, gaveUp: false, hostname: os.hostname() })]);
    // Settings › System reads it.
    const status = await systemStatus();
    expect(status.processExits.find((e) => e.process === name)).toMatchObject({ reason: "SIGKILL", gaveUp: false, restartInMs: 20 });

    // A second crash in the window waits twice as long, and names the exit code.
    const thirdReady = nextReady(sup, name);
    const recordedAgain = nextEvent<[ExitRecord]>(sup, "recorded", (e) => e.process === name);
    second.send({ exit: 3 });
    await thirdReady;
    const [again] = await recordedAgain;
    expect(again).toMatchObject({ pid: second.pid, exitCode: 3, signal: null, restartInMs: 40, crashesInWindow: 2 });
    expect((await systemStatus()).processExits.find((e) => e.pid === second.pid)).toMatchObject({ process: name, reason: "code 3" });
  });

  it("stops restarting a process that keeps crashing, and says so", async () => {
    const name = `inference-${randomUUID().slice(0, 8)}`;
    const warnings: string[] = [];
    const sup = supervisor({ crashLimit: { count: 4, windowMs: 60_000 }, warn: (m) => warnings.push(m) });
    let spawned = 0;
    const gaveUp = nextEvent<[string]>(sup, "gave-up", (n) => n === name);
    const allRecorded = new Promise<void>((resolve) => {
      let n = 0;
      sup.on("recorded", (e: ExitRecord) => {
        if (e.process === name && ++n === 4) resolve();
      });
    });
    const idle = once(sup, "idle");
    sup.add(name, () => {
      spawned++;
      return node(CRASH_AT_ONCE);
    });
    await gaveUp;
    await allRecorded;
    await idle;

    expect(spawned).toBe(4);
    expect(sup.state(name)).toBe("gave-up");
    expect(sup.child(name)).toBeUndefined();
    expect(warnings.at(-1)).toMatch(new RegExp(`the ${name} process exited \\(code 7\\) — its 4th exit within 60 s: it is not restarted again`));
    const rows = await getDb().select().from(processExits).where(eq(processExits.process, name)).orderBy(processExits.crashesInWindow);
    expect(rows.map((r) => [r.crashesInWindow, r.exitCode, r.restartInMs, r.gaveUp])).toEqual([
      [1, 7, 20, false],
      [2, 7, 40, false],
      [3, 7, 80, false],
      [4, 7, null, true],
    ]);
  });

  it("Ctrl-C stops every process with SIGTERM, records nothing and restarts nothing", async () => {
    const a = `worker-${randomUUID().slice(0, 8)}`;
    const b = `pending-${randomUUID().slice(0, 8)}`;
    // b's restart is pending (a long backoff) when the supervisor stops: it must never start.
    const sup = supervisor({ backoff: { initialMs: 60_000, maxMs: 60_000 } });
    const readyA = nextReady(sup, a);
    const readyB = nextReady(sup, b);
    sup.add(a, () => node(READY_AND_WAIT));
    let bSpawns = 0;
    sup.add(b, () => {
      bSpawns++;
      return node(READY_AND_WAIT);
    });
    const childA = await readyA;
    const childB = await readyB;
    const bExited = nextEvent<[ExitRecord]>(sup, "recorded", (e) => e.process === b);
    childB.send({ exit: 1 });
    await bExited;
    expect(sup.state(b)).toBe("restarting");

    const aExit = once(childA, "exit");
    await sup.stop();
    const [code, signal] = (await aExit) as [number | null, string | null];
    expect([code, signal]).toEqual([0, null]); // it handled SIGTERM itself
    expect(sup.state(a)).toBe("stopped");
    expect(sup.state(b)).toBe("stopped");
    expect(bSpawns).toBe(1);
    expect(await getDb().select().from(processExits).where(eq(processExits.process, a))).toEqual([]);
  });
});

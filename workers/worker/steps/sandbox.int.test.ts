import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWorkspace } from "~/db/seed/factories";
import { storeFile } from "~/server/artifacts/store";
import { savePipeline } from "~/server/pipelines/definitions.service";
import { startManualRun } from "~/server/pipelines/runs.service";
import { callerFor } from "~/test/helpers";
import { drive } from "~/test/pipelines";
import { EMPTY_ENV, findTools, isRoot, prepareFolders, SANDBOX_PATH, SANDBOX_WORK, sandboxArgv } from "./sandbox";
import { listFiles, runCommand, type CommandOptions } from "./spawn";

/*
 * The hostile pipeline: command steps that try to get out. Each runs through the real
 * runCommand (the worker's one way to start a command step) with real bwrap, under small
 * limits so the attempts are quick; the last test runs a hostile pipeline through the
 * step handler, as the worker does.
 */

const found = findTools();
const absent = "missing" in found;
if (absent) console.warn(`[sandbox.int.test] skipped: ${found.missing.join(", ")} not installed (apt-get install bubblewrap util-linux).`);

const SECRET = `worker-secret-${process.pid}-${Date.now()}`;
const limits = { memoryMb: 384, cpuSeconds: 20, maxProcesses: 48, outputMb: 8, tmpMb: 16 };

type Ran = Awaited<ReturnType<typeof runCommand>> & { lines: string[]; text: string; files: Record<string, string>; bytes: number };

async function run(script: string, opts: Partial<CommandOptions> = {}): Promise<Ran> {
  const lines: string[] = [];
  const out = await runCommand(
    { workspaceId: randomUUID(), run: script, env: {}, timeoutMs: 25_000, settings: { limits }, ...opts },
    (_s, l) => lines.push(l),
    new AbortController().signal,
  );
  try {
    const files: Record<string, string> = {};
    let bytes = 0;
    for (const f of await listFiles(out.outputDir)) {
      files[f] = fs.readFileSync(path.join(out.outputDir, f), "utf8").slice(0, 200);
      bytes += fs.statSync(path.join(out.outputDir, f)).size;
    }
    if (process.env.SANDBOX_TEST_VERBOSE) console.log(`$ ${script}\n${lines.join("\n")}\n→ exit ${out.exitCode}: ${out.reason}`);
    return { ...out, lines, text: lines.join("\n"), files, bytes };
  } finally {
    await out.cleanup();
  }
}

/** Living (not zombie) processes of a uid, from the host's /proc. */
function processesOf(uid: number) {
  return fs.readdirSync("/proc").filter((p) => {
    if (!/^\d+$/.test(p)) return false;
    try {
      const status = fs.readFileSync(`/proc/${p}/status`, "utf8");
      return new RegExp(`^Uid:\\s+${uid}\\s`, "m").test(status) && !/^State:\s+Z/m.test(status);
    } catch {
      return false;
    }
  });
}

describe.skipIf(absent)("command-step sandbox: hostile steps", () => {
  let dataDir: string;
  let blob: string;
  let server: net.Server;
  let port: number;
  let connections = 0;

  beforeAll(async () => {
    process.env.STEWARD_SANDBOX_TEST_SECRET = SECRET;
    // A data folder like npm start's: secrets.json (0600) beside the artifact store.
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "steward-sbx-data-"));
    fs.writeFileSync(path.join(dataDir, "secrets.json"), JSON.stringify({ authSecret: SECRET }), { mode: 0o600 });
    // Another workspace's dataset, in the real artifact store.
    const src = path.join(dataDir, "other.csv");
    fs.writeFileSync(src, `name,salary\nalice,${SECRET}\n`);
    const stored = await storeFile(src);
    blob = path.join(path.resolve(process.env.ARTIFACT_DIR!), "sha256", stored.sha256.slice(0, 2), stored.sha256);
    expect(fs.readFileSync(blob, "utf8")).toContain(SECRET);
    server = net.createServer((s) => {
      connections++;
      s.end("hello from the host\n");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as net.AddressInfo).port;
  });

  afterAll(async () => {
    delete process.env.STEWARD_SANDBOX_TEST_SECRET;
    fs.rmSync(dataDir, { recursive: true, force: true });
    await new Promise((resolve) => server?.close(resolve));
  });

  it("a well-behaved step runs as an unprivileged uid, reads its input, and its output is collected", async () => {
    const input = path.join(dataDir, "model.onnx");
    fs.writeFileSync(input, "model bytes");
    const r = await run(
      `id -u; cat "$STEWARD_INPUTS_DIR/model.onnx" > "$STEWARD_OUTPUT_DIR/copy.txt"; echo '{"score": 1}' > "$STEWARD_OUTPUT_DIR/metrics.json"; pwd; echo "$HOME"`,
      {
        inputs: [{ name: "model.onnx", file: input }],
      },
    );
    expect(r.reason).toBeNull();
    expect(r.exitCode).toBe(0);
    const uid = Number(r.lines[0]);
    if (isRoot()) expect(uid).toBeGreaterThanOrEqual(200_000);
    expect(uid).not.toBe(0);
    expect(r.lines.slice(1)).toEqual([SANDBOX_WORK, SANDBOX_WORK]);
    expect(r.files).toEqual({ "copy.txt": "model bytes", "metrics.json": '{"score": 1}\n' });
  });

  it("cannot read the data folder, secrets.json or another workspace's blob in the artifact store", async () => {
    const r = await run(`for f in "$DATA/secrets.json" "$BLOB"; do cat "$f" && echo "READ $f"; done; ls "$DATA" "$ARTIFACTS" && echo LISTED; exit 1`, {
      env: { DATA: dataDir, BLOB: blob, ARTIFACTS: path.resolve(process.env.ARTIFACT_DIR!) },
    });
    expect(r.text).not.toContain(SECRET);
    expect(r.text).not.toMatch(/READ|LISTED/);
    expect(r.text).toMatch(/No such file or directory/);
  });

  it("cannot write anywhere but its own folders: not /usr, not /, not /etc/passwd, not its inputs", async () => {
    const input = path.join(dataDir, "in.txt");
    fs.writeFileSync(input, "original");
    const r = await run(
      `for f in /usr/pwned /pwned /etc/passwd /steward/pwned "$STEWARD_INPUTS_DIR/in.txt"; do (echo x > "$f") 2>/dev/null && echo "WROTE $f"; done; echo done`,
      {
        inputs: [{ name: "in.txt", file: input }],
      },
    );
    expect(r.exitCode).toBe(0);
    expect(r.text).not.toContain("WROTE");
    expect(fs.readFileSync(input, "utf8")).toBe("original");
  });

  it("privileges are dropped before bwrap: a root-only (0600) file bound into the sandbox stays unreadable", async () => {
    // Lower level than runCommand, to put a root-only file where the step can name it.
    const { tools } = found as Exclude<typeof found, { missing: string[] }>;
    const uid = isRoot() ? 209_999 : null;
    const folders = await prepareFolders(uid, []);
    try {
      fs.writeFileSync(path.join(folders.inputs, "root-only"), SECRET, { mode: 0o600 });
      const { file, args } = sandboxArgv({
        tools,
        uid,
        folders,
        cwd: SANDBOX_WORK,
        env: { PATH: SANDBOX_PATH },
        network: false,
        limits,
        run: "id -u; cat /steward/inputs/root-only",
      });
      const child = spawn(file, args, { cwd: "/", env: EMPTY_ENV, stdio: ["ignore", "pipe", "pipe"] });
      const lines: string[] = [];
      readline.createInterface({ input: child.stdout }).on("line", (l) => lines.push(l));
      readline.createInterface({ input: child.stderr }).on("line", (l) => lines.push(l));
      const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
      if (!isRoot()) return; // the worker's own file: nothing to drop from
      expect(lines[0]).toBe("209999");
      expect(code).not.toBe(0);
      expect(lines.join("\n")).toMatch(/Permission denied/);
      expect(lines.join("\n")).not.toContain(SECRET);
    } finally {
      fs.rmSync(folders.base, { recursive: true, force: true });
    }
  });

  it("cannot read the worker's environment, directly or through /proc/1/environ or any /proc/*/environ", async () => {
    const r = await run(`env; cat /proc/1/environ /proc/*/environ 2>/dev/null | tr '\\0' '\\n'; ls /proc | grep -c '^[0-9]'`);
    expect(r.text).not.toContain(SECRET);
    expect(r.text).not.toMatch(/DATABASE_URL|AUTH_SECRET|STEWARD_SANDBOX_TEST_SECRET/);
    expect(r.text).toMatch(/^PATH=\/usr\/local\/sbin/m);
    // Its own pid namespace: a handful of processes, never the worker's.
    expect(Number(r.lines.at(-1))).toBeLessThan(10);
  });

  it("has no network: a TCP server on the host's 127.0.0.1 is unreachable; the same step reaches it only when declared and allowed", async () => {
    const probe = `exec 3<>/dev/tcp/127.0.0.1/${port} && head -n1 <&3`;
    const denied = await run(`bash -c '${probe}'`);
    expect(denied.exitCode).not.toBe(0);
    expect(denied.text).toMatch(/Connection refused|Network is unreachable|connect/i);
    const declaredButInstanceDenies = await run(`bash -c '${probe}'`, { network: true, settings: { limits, network: "deny" } });
    expect(declaredButInstanceDenies.exitCode).not.toBe(0);
    expect(declaredButInstanceDenies.text).toMatch(/the instance does not allow it/);
    expect(connections).toBe(0);
    // The control: with both, the same probe connects (so the failures above are the sandbox's doing).
    const allowed = await run(`bash -c '${probe}'`, { network: true, settings: { limits, network: "allow" } });
    expect(allowed.text).toContain("hello from the host");
    expect(connections).toBe(1);
  });

  it("a fork bomb hits the process limit, fails, and leaves nothing running; the next step runs", async () => {
    const r = await run(`id -u; while :; do sleep 1000 & done`);
    expect(r.exitCode).not.toBe(0);
    expect(r.text).toMatch(/Cannot fork|Resource temporarily unavailable/);
    const uid = Number(r.lines[0]);
    if (isRoot()) expect(processesOf(uid)).toEqual([]);
    const next = await run(`echo still here`);
    expect(next).toMatchObject({ exitCode: 0, reason: null });
    expect(next.lines).toEqual(["still here"]);
  });

  it("a process that closes its output and lingers is gone before the outputs are read; links among them are never followed", async () => {
    const r = await run(
      `id -u; echo real > "$STEWARD_OUTPUT_DIR/a.txt"; ln -s "$DATA/secrets.json" "$STEWARD_OUTPUT_DIR/link.txt"; (exec </dev/null >/dev/null 2>&1; while :; do ln -sfn "$DATA/secrets.json" "$STEWARD_OUTPUT_DIR/a.txt"; done) & exit 0`,
      {
        env: { DATA: dataDir },
      },
    );
    if (isRoot()) expect(processesOf(Number(r.lines[0]))).toEqual([]);
    expect(JSON.stringify(r.files)).not.toContain(SECRET);
    expect(Object.keys(r.files)).not.toContain("link.txt");
  });

  it("cannot fill the disk: one big file stops at the file-size limit, many files at the folder cap, /tmp at its size; outputs are discarded", async () => {
    const big = await run(`head -c 100000000 /dev/zero > "$STEWARD_OUTPUT_DIR/big"`);
    expect(big.exitCode).toBe(153);
    expect(big.reason).toMatch(/a file grew past the limit of 8 MiB/);
    expect(big.bytes).toBeLessThanOrEqual(8 * 1024 * 1024);
    const many = await run(`for i in $(seq 1 40); do head -c 1000000 /dev/zero > "$STEWARD_OUTPUT_DIR/f$i" || exit 9; done`);
    expect(many.reason).toMatch(/wrote more than 8 MiB .* its outputs were discarded/);
    expect(Object.keys(many.files)).toEqual([]);
    const tmp = await run(`head -c 100000000 /dev/zero > /tmp/big`);
    expect(tmp.exitCode).not.toBe(0);
  });

  it("cannot exceed its memory limit", async () => {
    const hog = fs.existsSync("/usr/bin/python3")
      ? `python3 -c 'b = bytearray(1 << 30); print("ALLOCATED")'`
      : `node -e 'Buffer.alloc(2 ** 30).fill(1); console.log("ALLOCATED")'`;
    const r = await run(hog);
    expect(r.exitCode).not.toBe(0);
    expect(r.text).not.toContain("ALLOCATED");
  });
});

describe.skipIf(absent)("command-step sandbox: a hostile pipeline through the step handler", () => {
  it("the attempts fail, the well-behaved step passes with its artifact, and the worker goes on", async () => {
    const { workspace, owner } = await createWorkspace();
    await savePipeline(owner.wsActor, {
      name: "hostile",
      yaml: `steps:
  snoop:
    type: command
    required: false
    env: { ART: "${path.resolve(process.env.ARTIFACT_DIR!)}" }
    run: 'ls -R "$ART" && cat /proc/1/environ'
  bomb:
    type: command
    required: false
    run: 'while :; do sleep 1000 & done'
  good:
    type: command
    run: 'echo ok > "$STEWARD_OUTPUT_DIR/result.txt"'
`,
    });
    const started = await startManualRun(owner.wsActor, { pipeline: "hostile" });
    await drive(started.id);
    const run = await callerFor(owner).runs.get({ workspaceId: workspace.id, runId: started.id });
    expect(run.status).toBe("warned");
    expect(Object.fromEntries(run.steps.map((s) => [s.key, s.status]))).toEqual({ snoop: "failed", bomb: "failed", good: "passed" });
    expect(run.artifacts.map((a) => a.path)).toEqual(["result.txt"]);
    const logs = await callerFor(owner).runs.logs({ workspaceId: workspace.id, stepRunId: run.steps.find((s) => s.key === "snoop")!.id });
    expect(logs.map((l) => l.line).join("\n")).toMatch(/No such file or directory/);
  }, 60_000);
});

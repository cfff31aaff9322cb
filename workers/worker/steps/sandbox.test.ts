import { describe, expect, it, vi } from "vitest";
import { findTools, missingToolsMessage, sandboxArgv, SANDBOX_WORK, SandboxRefusal, type SandboxPlan } from "./sandbox";

const mocked = vi.hoisted(() => ({ env: { COMMAND_STEPS: "enabled" } }));
vi.mock("~/env", () => mocked);

const plan = (over: Partial<SandboxPlan> = {}): SandboxPlan => ({
  tools: { bwrap: "/usr/bin/bwrap", setpriv: "/usr/bin/setpriv", prlimit: "/usr/bin/prlimit" },
  uid: 200_123,
  folders: { base: "/tmp/s", work: "/tmp/s/work", output: "/tmp/s/output", inputs: "/tmp/s/inputs", passwd: "/tmp/s/passwd", group: "/tmp/s/group" },
  cwd: SANDBOX_WORK,
  env: { PATH: "/usr/bin:/bin", STEWARD_OUTPUT_DIR: "/steward/output" },
  network: false,
  limits: { memoryMb: 512, cpuSeconds: 60, maxProcesses: 64, outputMb: 100, tmpMb: 32 },
  run: "echo hi",
  ...over,
});

/** The value after a flag, for flags with one argument. */
const after = (args: string[], flag: string) => args.flatMap((a, i) => (a === flag ? [args[i + 1]] : []));

describe("sandboxArgv", () => {
  it("sets the rlimits, then drops to the step's uid with setpriv, and only then starts bwrap", () => {
    const { file, args } = sandboxArgv(plan());
    expect(file).toBe("/usr/bin/prlimit");
    const sep = args.indexOf("--");
    expect(args.slice(0, sep)).toEqual([`--as=${512 * 1024 * 1024}`, "--cpu=60", "--nproc=64", `--fsize=${100 * 1024 * 1024}`, "--core=0"]);
    expect(args.slice(sep + 1, sep + 9)).toEqual([
      "/usr/bin/setpriv",
      "--reuid=200123",
      "--regid=200123",
      "--clear-groups",
      "--inh-caps=-all",
      "--bounding-set=-all",
      "--no-new-privs",
      "/usr/bin/bwrap",
    ]);
  });

  it("without a uid (the worker is not root) runs bwrap directly, still under the rlimits", () => {
    const { args } = sandboxArgv(plan({ uid: null }));
    expect(args).not.toContain("/usr/bin/setpriv");
    expect(args[args.indexOf("--") + 1]).toBe("/usr/bin/bwrap");
  });

  it("binds /usr and the step's folders, never / itself, and leaves the rest read-only", () => {
    const { args } = sandboxArgv(plan());
    expect(after(args, "--ro-bind")).toEqual(expect.arrayContaining(["/usr", "/tmp/s/inputs", "/tmp/s/passwd"]));
    expect(after(args, "--bind")).toEqual(["/tmp/s/work", "/tmp/s/output"]);
    expect([...after(args, "--bind"), ...after(args, "--ro-bind"), ...after(args, "--ro-bind-try")]).not.toContain("/");
    expect(after(args, "--ro-bind-try")).not.toContain("/etc/resolv.conf");
    expect(after(args, "--remount-ro")).toEqual(["/dev", "/"]);
    expect(args).toEqual(expect.arrayContaining(["--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session", "--clearenv"]));
    expect(args.slice(-4)).toEqual(["--", "/bin/sh", "-c", "echo hi"]);
  });

  it("has no network unless the plan says so; then it also sees resolv.conf", () => {
    expect(sandboxArgv(plan()).args).not.toContain("--share-net");
    const { args } = sandboxArgv(plan({ network: true }));
    expect(args).toContain("--share-net");
    expect(after(args, "--ro-bind-try")).toContain("/etc/resolv.conf");
  });

  it("passes exactly the plan's environment", () => {
    const { args } = sandboxArgv(plan());
    expect(after(args, "--setenv")).toEqual(["PATH", "STEWARD_OUTPUT_DIR"]);
  });
});

describe("refusals", () => {
  it("names the missing programs and how to install them", () => {
    const r = findTools(["/nonexistent"]);
    expect(r).toEqual({ missing: ["bwrap", "setpriv", "prlimit"] });
    expect(missingToolsMessage(["bwrap"])).toMatch(/lacks bwrap\. Install it .*apt-get install bubblewrap\b.*never run unsandboxed/);
  });

  it("COMMAND_STEPS=disabled fails the step before anything starts", async () => {
    mocked.env.COMMAND_STEPS = "disabled";
    const { runCommand } = await import("./spawn");
    const started = runCommand(
      { workspaceId: "00000000-0000-4000-8000-000000000000", run: "echo hi", env: {}, timeoutMs: 1000 },
      () => undefined,
      new AbortController().signal,
    );
    await expect(started).rejects.toBeInstanceOf(SandboxRefusal);
    await expect(started).rejects.toThrow(/Command steps are disabled on this instance \(COMMAND_STEPS=disabled\)/);
  });
});

describe("the pipeline spec's sandbox fields", async () => {
  const { parsePipelineYaml } = await import("~/server/shared/pipeline-spec");
  const messages = (yaml: string) => {
    const r = parsePipelineYaml(yaml);
    return r.ok ? [] : r.issues.map((i) => i.message);
  };

  it("takes network: true on a command step, and nowhere else", () => {
    expect(messages("steps:\n  c:\n    type: command\n    run: 'true'\n    network: true\n")).toEqual([]);
    expect(messages("steps:\n  e:\n    type: evaluate\n    network: true\n")).toEqual(["`network` is only for command steps."]);
  });

  it("keeps workdir inside the step's work folder", () => {
    expect(messages("steps:\n  c:\n    type: command\n    run: 'true'\n    workdir: src/app\n")).toEqual([]);
    for (const w of ["/etc", "../x", "a/../../b"]) {
      expect(messages(`steps:\n  c:\n    type: command\n    run: 'true'\n    workdir: "${w}"\n`)).toEqual([
        "workdir is a folder inside the step's work folder: a relative path without '..'.",
      ]);
    }
  });
});

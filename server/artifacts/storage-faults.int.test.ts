import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";

/*
 * The artifact store's disk fills up or fails under an upload. Where this process may mount
 * (root, as on the development machine and CI), the store is a real 2 MiB tmpfs and a 3 MiB
 * upload fills it; a write error is also injected mid-stream (the test hook in store.ts),
 * which works anywhere. Either way: no half file, no blob, no version row, and an error
 * that says the store is full (507) or unavailable (503).
 * The configuration is set before any Steward module loads.
 */
const mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), "steward-full-disk-"));
let mounted = false;
try {
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", mountPoint], { stdio: "ignore" });
  mounted = true;
  process.env.ARTIFACT_DIR = mountPoint;
} catch {
  // Not allowed to mount here: the injected failures below still run.
}

afterAll(() => {
  if (mounted) execFileSync("umount", [mountPoint]);
  fs.rmSync(mountPoint, { recursive: true, force: true });
});

async function setup() {
  const { createWorkspace } = await import("~/db/seed/factories");
  const { createToken } = await import("~/server/tokens/tokens.service");
  const { workspace, owner } = await createWorkspace();
  const { token } = await createToken(owner.wsActor, { workspaceId: workspace.id, name: "faults", role: "owner" });
  return { workspace, token };
}

/** Every file under the store, except the published audit checkpoints. */
async function filesInStore() {
  const { env } = await import("~/env");
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.existsSync(d) ? fs.readdirSync(d, { withFileTypes: true }) : []) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        if (p !== path.join(env.ARTIFACT_DIR, "checkpoints")) walk(p);
      } else out.push(path.relative(env.ARTIFACT_DIR, p));
    }
  };
  walk(env.ARTIFACT_DIR);
  return out.sort();
}

async function versionRows(workspaceId: string) {
  const { getDb } = await import("~/db/client");
  const { sql } = await import("drizzle-orm");
  const rows = await getDb().execute<{ n: number }>(sql`
    select (select count(*) from dataset_versions v join datasets d on d.id = v.dataset_id where d.workspace_id = ${workspaceId})
         + (select count(*) from model_versions v join models m on m.id = v.model_id where m.workspace_id = ${workspaceId}) as n`);
  return Number(rows[0]!.n);
}

/** A CSV of about `bytes` bytes that profiles cleanly. */
function csv(bytes: number) {
  const lines = ["id,amount,label"];
  let size = lines[0]!.length + 1;
  for (let i = 0; size < bytes; i++) {
    const line = `${i},${(i * 7919) % 100_000},${i % 2}`;
    lines.push(line);
    size += line.length + 1;
  }
  return `${lines.join("\n")}\n`;
}

afterEach(async () => {
  const { failStagingWritesForTest } = await import("./store");
  failStagingWritesForTest(undefined);
});

describe("uploads when the artifact store's disk is full or failing", () => {
  it.skipIf(!mounted)("a 3 MiB upload to a 2 MiB filesystem: 507, nothing stored, and the store works again after", async () => {
    const { rest, form } = await import("~/test/rest-client");
    const { workspace, token } = await setup();
    const before = await filesInStore();
    const free = fs.statfsSync(mountPoint).bavail;

    const r = await rest("POST", `/workspaces/${workspace.slug}/datasets/big/versions`, { token, form: form(csv(3 * 1024 * 1024), "big.csv") });
    expect(r.status).toBe(507);
    expect(r.data.error).toMatchObject({ code: "STORAGE_FULL", message: expect.stringMatching(/^The artifact store is full, so nothing was stored\./) });
    expect(await filesInStore()).toEqual(before);
    expect(fs.statfsSync(mountPoint).bavail).toBe(free); // the half-written staging file is gone
    expect(await versionRows(workspace.id)).toBe(0);

    const small = await rest("POST", `/workspaces/${workspace.slug}/datasets/small/versions`, { token, form: form(csv(4000), "small.csv") });
    expect(small.status).toBe(201);
    expect(await filesInStore()).toEqual([...before, `sha256/${(small.data.sha256 as string).slice(0, 2)}/${small.data.sha256 as string}`].sort());
    expect(await versionRows(workspace.id)).toBe(1);
  });

  it("a write that fails mid-stream with ENOSPC: 507 for a model upload, no half blob, no version row", async () => {
    const { rest, form } = await import("~/test/rest-client");
    const { failStagingWritesForTest } = await import("./store");
    const { workspace, token } = await setup();
    const before = await filesInStore();
    failStagingWritesForTest({ afterBytes: 64 * 1024, code: "ENOSPC" });

    const r = await rest("POST", `/workspaces/${workspace.slug}/models/m/versions`, { token, form: form(randomBytes(256 * 1024), "m.onnx", {}) });
    expect(r.status).toBe(507);
    expect(r.data.error).toMatchObject({ code: "STORAGE_FULL" });
    expect(await filesInStore()).toEqual(before);
    expect(await versionRows(workspace.id)).toBe(0);
  });

  it("a failing disk (EIO) mid-write: 503 'cannot be written', nothing stored; step outputs fail the same way", async () => {
    const { rest, form } = await import("~/test/rest-client");
    const { failStagingWritesForTest, storeFile } = await import("./store");
    const { workspace, token } = await setup();
    const before = await filesInStore();
    failStagingWritesForTest({ afterBytes: 1000, code: "EIO" });

    const r = await rest("POST", `/workspaces/${workspace.slug}/datasets/d/versions`, { token, form: form(csv(20_000), "d.csv") });
    expect(r.status).toBe(503);
    expect(r.data.error).toMatchObject({
      code: "STORAGE_UNAVAILABLE",
      message: expect.stringMatching(/^The artifact store cannot be written to at the moment, so nothing was stored\./),
    });
    expect(await filesInStore()).toEqual(before);
    expect(await versionRows(workspace.id)).toBe(0);

    // A pipeline step's output goes through the same staging.
    const output = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "steward-step-")), "report.json");
    fs.writeFileSync(output, JSON.stringify({ rows: Array.from({ length: 500 }, (_, i) => i) }));
    await expect(storeFile(output)).rejects.toMatchObject({ code: "STORAGE_UNAVAILABLE" });
    expect(await filesInStore()).toEqual(before);
  });

  it("an upload the client breaks off is still the client's 400, not the store's fault", async () => {
    const { Readable } = await import("node:stream");
    const { stage } = await import("./store");
    const before = await filesInStore();
    const broken = new Readable({
      read() {
        this.push(Buffer.alloc(1024));
        this.destroy(new Error("aborted"));
      },
    });
    await expect(stage(broken)).rejects.toMatchObject({ code: "INVALID", message: expect.stringMatching(/interrupted/) });
    expect(await filesInStore()).toEqual(before);
  });
});

import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWorkspace } from "~/db/seed/factories";
import { writeLargeOnnx } from "~/db/seed/onnx-builder";
import { env } from "~/env";
import { sweepUploadSessions } from "~/server/registry/upload-sessions";
import { createToken } from "~/server/tokens/tokens.service";
import { restServer } from "~/test/cli";
import { auditFor } from "~/test/helpers";

/*
 * Resumable uploads over real HTTP (restEntry, as app/api/v1 serves it): a ~40 MB model
 * staged in chunks, cut off, resumed, registered once; the CLI does the same after its
 * process is killed mid-upload.
 */
let server: Awaited<ReturnType<typeof restServer>>;
let url: string;
let token: string;
let otherToken: string;
let ws: Awaited<ReturnType<typeof createWorkspace>>;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "steward-resume-"));
const model = path.join(dir, "model.onnx");
let bytes: Buffer;
let sha = "";
/** Called after each PATCH is answered: the CLI test kills the client there. */
let onPatch: ((offset: string | null) => void) | null = null;
let patchedBytes = 0;

const api = (p: string, init: RequestInit & { token?: string } = {}) =>
  fetch(`${url}/api/v1/workspaces/${ws.workspace.slug}${p}`, {
    ...init,
    headers: { authorization: `Bearer ${init.token ?? token}`, ...(init.headers as Record<string, string>) },
  });
const json = (body: unknown) => ({ method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
const patch = (id: string, offset: number, body: Uint8Array, t?: string) =>
  api(`/uploads/${id}`, {
    method: "PATCH",
    token: t,
    body: body as unknown as BodyInit,
    headers: { "content-type": "application/offset+octet-stream", "upload-offset": String(offset) },
  });

async function open(name: string, size = bytes.length, sha256 = sha) {
  const r = await api("/uploads", json({ kind: "model", name, filename: "model.onnx", size, sha256 }));
  expect(r.status).toBe(201);
  return (await r.json()) as { id: string; offset: number; expiresAt: string };
}

beforeAll(async () => {
  ws = await createWorkspace({ members: [{ role: "ml_engineer" }] });
  token = (await createToken(ws.owner.wsActor, { workspaceId: ws.workspace.id, name: "t", role: "owner" })).token;
  otherToken = (await createToken(ws.members[0]!.wsActor, { workspaceId: ws.workspace.id, name: "m", role: "ml_engineer" })).token;
  server = await restServer({
    onRequest: (req) => {
      if (req.method === "PATCH") patchedBytes += Number(req.headers["content-length"] ?? 0);
    },
    onAnswer: (req, answer) => {
      if (req.method === "PATCH") onPatch?.(answer.headers.get("upload-offset"));
    },
  });
  url = server.url;
  await writeLargeOnnx(model, 40e6);
  bytes = fs.readFileSync(model);
  sha = createHash("sha256").update(bytes).digest("hex");
}, 30_000);

const readState = () => JSON.parse(fs.readFileSync(path.join(dir, "cfg", "uploads.json"), "utf8")) as unknown;

afterAll(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The CLI as a child process, its config (and uploads.json) in `dir`. */
function cli(args: string[], onChild?: (kill: () => void) => void) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [path.resolve("bin/steward.mjs"), ...args], {
      cwd: dir,
      env: {
        PATH: process.env.PATH,
        HOME: dir,
        STEWARD_CONFIG: path.join(dir, "cfg", "config.json"),
        STEWARD_URL: url,
        STEWARD_TOKEN: token,
        STEWARD_WORKSPACE: ws.workspace.slug,
        STEWARD_UPLOAD_CHUNK_BYTES: String(8 * 1024 * 1024),
        NODE_ENV: "production",
      },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    onChild?.(() => child.kill("SIGKILL"));
  });
}

describe("resumable uploads", () => {
  it("steward models push --resumable, killed after its first chunk, resumes from the server's offset on the next run", { timeout: 30_000 }, async () => {
    let kill: () => void = () => undefined;
    onPatch = () => kill();
    const cut = await cli(["--json", "models", "push", model, "--name", "cli", "--resumable", "--tag", "x"], (k) => (kill = k));
    onPatch = null;
    expect(cut.code).not.toBe(0);
    const state = JSON.parse(fs.readFileSync(path.join(dir, "cfg", "uploads.json"), "utf8")) as Record<string, { id: string }>;
    expect(Object.keys(state)).toHaveLength(1);
    patchedBytes = 0;
    const resumed = await cli(["--json", "models", "push", model, "--name", "cli", "--resumable", "--tag", "x"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/^resuming at \d+ MiB of 38 MiB/);
    expect(patchedBytes).toBeLessThan(bytes.length - 8 * 1024 * 1024 + 1);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ created: true, version: 1, sha256: sha, sizeBytes: bytes.length });
    expect(await (await api("/models/cli")).json()).toMatchObject({ versions: [expect.objectContaining({ version: 1, tags: ["x"] })] });
    expect(readState()).toEqual({});
    // --no-resume with the same bytes: a new session, the existing version answered.
    const again = await cli(["--json", "models", "push", model, "--name", "cli", "--resumable", "--no-resume"]);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ created: false, version: 1 });
  });

  it("stages chunks, refuses a wrong offset with the current one, resumes and registers once", { timeout: 30_000 }, async () => {
    const s = await open("resumed");
    expect(s.offset).toBe(0);
    const first = 16 * 1024 * 1024;
    expect((await patch(s.id, 0, bytes.subarray(0, first))).status).toBe(200);
    // A wrong offset: 409 with where the upload stands.
    const wrong = await patch(s.id, 5, bytes.subarray(5, 10));
    expect(wrong.status).toBe(409);
    expect(wrong.headers.get("upload-offset")).toBe(String(first));
    expect(await wrong.json()).toMatchObject({ offset: first, error: { code: "CONFLICT", field: "Upload-Offset" } });
    // Another user of the same workspace, and another workspace: 404.
    expect((await api(`/uploads/${s.id}`, { token: otherToken })).status).toBe(404);
    expect((await patch(s.id, first, bytes.subarray(first), otherToken)).status).toBe(404);
    const other = await createWorkspace();
    const foreign = (await createToken(other.owner.wsActor, { workspaceId: other.workspace.id, name: "o", role: "owner" })).token;
    const r404 = await fetch(`${url}/api/v1/workspaces/${other.workspace.slug}/uploads/${s.id}`, { headers: { authorization: `Bearer ${foreign}` } });
    expect(r404.status).toBe(404);
    // Completing early names the size.
    const early = await api(`/uploads/${s.id}/complete`, json({}));
    expect(early.status).toBe(400);
    expect(await early.json()).toMatchObject({ error: { field: "size" } });
    // The client asks where to resume, and sends the rest.
    const head = await api(`/uploads/${s.id}`);
    expect(await head.json()).toMatchObject({ offset: first, size: bytes.length });
    // Bytes past the end are refused whole.
    const past = await patch(s.id, first, Buffer.concat([bytes.subarray(first), Buffer.from("xx")]));
    expect(past.status).toBe(400);
    expect(await past.json()).toMatchObject({ error: { field: "body" } });
    const rest = await patch(s.id, first, bytes.subarray(first));
    expect(await rest.json()).toMatchObject({ offset: bytes.length });
    const done = await api(`/uploads/${s.id}/complete`, json({ description: "resumed", tags: ["big"] }));
    expect(done.status).toBe(201);
    expect(await done.json()).toMatchObject({ created: true, version: 1, sha256: sha, sizeBytes: bytes.length });
    const registered = await auditFor(ws.workspace.id, "model.version_registered");
    expect(registered.filter((e) => (e.metadata as { name?: string } | null)?.name === "resumed")).toHaveLength(1);
    // The session is gone with its staging file.
    expect((await api(`/uploads/${s.id}`)).status).toBe(404);
    expect(fs.existsSync(path.join(env.ARTIFACT_DIR, "upload-sessions", `${s.id}.part`))).toBe(false);
  });

  it("refuses bytes that do not match the announced sha256 (400 naming it, no version, session kept)", { timeout: 20_000 }, async () => {
    const altered = Buffer.from(bytes);
    altered.writeUInt8(altered.readUInt8(altered.length - 1) ^ 1, altered.length - 1);
    const s = await open("mismatch");
    expect((await patch(s.id, 0, altered)).status).toBe(200);
    const r = await api(`/uploads/${s.id}/complete`, json({}));
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({ error: { field: "sha256" } });
    expect((await api("/models/mismatch")).status).toBe(404);
    // The session stays, emptied: the right bytes from 0 register.
    expect(await (await api(`/uploads/${s.id}`)).json()).toMatchObject({ offset: 0 });
    expect((await patch(s.id, 0, bytes)).status).toBe(200);
    expect((await api(`/uploads/${s.id}/complete`, json({}))).status).toBe(201);
  });

  it("steward datasets push --resumable registers a dataset version through a session", { timeout: 20_000 }, async () => {
    const csv = path.join(dir, "d.csv");
    fs.writeFileSync(csv, "a,b\n1,2\n3,4\n");
    const r = await cli(["--json", "datasets", "push", csv, "--name", "resumed-d", "--resumable", "--description", "via a session"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ created: true, version: 1, rows: 2 });
  });

  it("refuses a size over the limit early, naming it; sweeps expired sessions", async () => {
    const r = await api("/uploads", json({ kind: "dataset", name: "d", filename: "d.csv", size: env.UPLOAD_LIMIT_BYTES + 1, sha256: sha }));
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({ error: { field: "size" } });
    const s = await open("swept", 10);
    expect(await sweepUploadSessions(Date.now() + 25 * 3600 * 1000)).toBeGreaterThanOrEqual(1);
    expect((await api(`/uploads/${s.id}`)).status).toBe(404);
  });
});

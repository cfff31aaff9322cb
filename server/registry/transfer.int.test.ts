import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { env } from "~/env";
import { createWorkspace } from "~/db/seed/factories";
import { writeLargeOnnx } from "~/db/seed/onnx-builder";
import { setViewerDownloads } from "~/server/identity/workspaces.service";
import { createToken } from "~/server/tokens/tokens.service";
import { restoreContentLength } from "~/server/web/rest/content-length";
import { restEntry } from "~/server/web/rest/entry";
import { auditFor } from "~/test/helpers";

/*
 * Large files in and out over real HTTP, through the handler app/api/v1/[...path]/route.ts
 * serves (restEntry) — with no Next.js proxy in front, as in production since proxy.ts leaves
 * /api/v1 out (proxy.test.ts). A ~300 MB model generated here goes up with the CLI and comes
 * back with `steward models pull`; ranges, digests, the early size refusal, viewers.
 */
const SIZE = 300e6;
let server: Server;
let url: string;
let token: string;
let viewerToken: string;
let ws: Awaited<ReturnType<typeof createWorkspace>>;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "steward-transfer-"));
const big = path.join(dir, "big.onnx");
let bigSha = "";
let peakRss = 0;

function cli(args: string[]) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [path.resolve("bin/steward.mjs"), ...args], {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: dir, STEWARD_URL: url, STEWARD_TOKEN: token, STEWARD_WORKSPACE: ws.workspace.slug, NODE_ENV: "production" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function sha256Of(file: string) {
  const h = createHash("sha256");
  for await (const c of fs.createReadStream(file)) h.update(c as Buffer);
  return h.digest("hex");
}

beforeAll(async () => {
  ws = await createWorkspace({ members: [{ role: "viewer" }] });
  token = (await createToken(ws.owner.wsActor, { workspaceId: ws.workspace.id, name: "t", role: "owner" })).token;
  viewerToken = (await createToken(ws.members[0]!.wsActor, { workspaceId: ws.workspace.id, name: "v", role: "viewer" })).token;
  const handler = restEntry(async () => null);
  server = createServer((req, res) => {
    const body = req.method === "GET" || req.method === "HEAD" ? undefined : (Readable.toWeb(req) as ReadableStream<Uint8Array>);
    const r = new Request(`http://localhost${req.url}`, {
      method: req.method,
      headers: req.headers as Record<string, string>,
      body,
      duplex: "half",
    } as RequestInit);
    // As server.ts and Next.js answer: Next drops Content-Length (and the encodings) from a
    // route handler's headers and streams the body; server.ts restores the length.
    restoreContentLength(res);
    void handler(r).then((answer) => {
      res.statusCode = answer.status;
      answer.headers.forEach((value, name) => {
        if (!["content-length", "content-encoding", "transfer-encoding"].includes(name)) res.appendHeader(name, value);
      });
      if (!answer.body) return res.end();
      Readable.fromWeb(answer.body as WebReadableStream<Uint8Array>).pipe(res);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await writeLargeOnnx(big, SIZE);
  bigSha = await sha256Of(big);
}, 60_000);

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("large uploads and downloads over HTTP", () => {
  it("pushes a ~300 MB model with the CLI and pulls it back byte for byte, memory flat", { timeout: 120_000 }, async () => {
    const base = process.memoryUsage().rss;
    const watch = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss - base)), 50);
    const push = await cli(["--json", "models", "push", big, "--name", "big"]);
    expect(push.stderr).toBe("");
    expect(push.code).toBe(0);
    expect(JSON.parse(push.stdout)).toMatchObject({ created: true, version: 1, sha256: bigSha, sizeBytes: fs.statSync(big).size, loadable: true });
    const pull = await cli(["--json", "models", "pull", "big@1", "-o", "back.onnx"]);
    clearInterval(watch);
    expect(pull.code, pull.stderr).toBe(0);
    expect(JSON.parse(pull.stdout)).toMatchObject({ file: "back.onnx", sha256: bigSha, verified: true });
    expect(await sha256Of(path.join(dir, "back.onnx"))).toBe(bigSha);
    fs.rmSync(path.join(dir, "back.onnx"));
    // The server side of both transfers ran in this process: a buffered body would have added ≥ 300 MB.
    expect(peakRss).toBeLessThan(200 * 1024 ** 2);
    console.log(`[transfer] 300 MB up and down: peak RSS growth of the serving process ${(peakRss / 1024 ** 2).toFixed(0)} MiB`);
    expect(await auditFor(ws.workspace.id, "model.version_downloaded")).toHaveLength(1);
  });

  it("answers with length, sha256 digests, ETag, and byte ranges", async () => {
    const file = `${url}/api/v1/workspaces/${ws.workspace.slug}/models/big/versions/1/file`;
    const auth = { authorization: `Bearer ${token}` };
    const head = await fetch(file, { headers: { ...auth, range: "bytes=100-199" } });
    expect(head.status).toBe(206);
    expect(head.headers.get("content-range")).toBe(`bytes 100-199/${fs.statSync(big).size}`);
    expect(head.headers.get("x-checksum-sha256")).toBe(bigSha);
    expect(head.headers.get("digest")).toBe(`sha-256=${Buffer.from(bigSha, "hex").toString("base64")}`);
    expect(head.headers.get("etag")).toBe(`"${bigSha}"`);
    expect([head.headers.get("content-length"), head.headers.get("x-steward-content-length")]).toEqual(["100", null]);
    const fd = fs.openSync(big, "r");
    const expected = Buffer.alloc(100);
    fs.readSync(fd, expected, 0, 100, 100);
    fs.closeSync(fd);
    expect(Buffer.from(await head.arrayBuffer())).toEqual(expected);
    const tail = await fetch(file, { headers: { ...auth, range: "bytes=-10" } });
    expect([tail.status, (await tail.arrayBuffer()).byteLength]).toEqual([206, 10]);
    const past = await fetch(file, { headers: { ...auth, range: `bytes=${SIZE * 2}-` } });
    expect([past.status, past.headers.get("content-range")]).toEqual([416, `bytes */${fs.statSync(big).size}`]);
    // If-Range with another ETag: the bytes changed under the client, so the whole file (not read here).
    const stale = await fetch(file, { headers: { ...auth, range: "bytes=0-9", "if-range": '"0000"' } });
    expect([stale.status, stale.headers.get("content-length")]).toEqual([200, String(fs.statSync(big).size)]);
    await stale.body?.cancel();
    // Each answered download is recorded (the pull, two ranges, the whole file); a 416 sends nothing and records nothing.
    expect(await auditFor(ws.workspace.id, "model.version_downloaded")).toHaveLength(4);
  });

  it("refuses an upload announced over the limit before reading it, naming the limit", async () => {
    const status = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${url}/api/v1/workspaces/${ws.workspace.slug}/models/huge/versions`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "multipart/form-data; boundary=x",
          "content-length": String(env.UPLOAD_LIMIT_BYTES + 64 * 1024 ** 2),
        },
      });
      req.on("response", (res) => {
        let body = "";
        res.on("data", (d: Buffer) => (body += d.toString()));
        res.on("end", () => resolve({ status: res.statusCode!, body }));
      });
      req.on("error", reject);
      req.write("--x\r\n"); // a few bytes of a body that would be 2 GiB: the answer comes without the rest
    });
    expect(status.status).toBe(413);
    const answer = JSON.parse(status.body) as { error: { code: string; field: string; message: string } };
    expect(answer.error).toMatchObject({ code: "PAYLOAD_TOO_LARGE", field: "file" });
    expect(answer.error.message).toMatch(/larger than the limit of 2.0 GiB/);
  });

  it("pushes a ~50 MB CSV with the CLI: profiled over every row, pulled back byte for byte", { timeout: 120_000 }, async () => {
    // 1,500,000 rows of a date, an amount, a category and a flag, written as a stream.
    const csv = path.join(dir, "transactions.csv");
    const out = fs.createWriteStream(csv);
    out.write("day,amount,region,flagged\n");
    const ROWS = 1_500_000;
    for (let i = 0; i < ROWS; i++) {
      const line = `2026-${String(1 + (i % 12)).padStart(2, "0")}-${String(1 + (i % 28)).padStart(2, "0")},${((i * 7919) % 100000) / 100},region-${i % 17},${i % 13 === 0}\n`;
      if (!out.write(line)) await new Promise<void>((r) => out.once("drain", () => r()));
    }
    await new Promise<void>((r) => out.end(r));
    expect(fs.statSync(csv).size).toBeGreaterThan(48e6);
    const sha = await sha256Of(csv);
    const push = await cli(["--json", "datasets", "push", csv, "--name", "transactions"]);
    expect(push.code, push.stderr).toBe(0);
    const pushed = JSON.parse(push.stdout) as { sha256: string; rowCount?: number; rows?: number };
    expect(pushed.sha256).toBe(sha);
    expect(pushed.rowCount ?? pushed.rows).toBe(ROWS);
    const pulled = await cli(["--json", "datasets", "pull", "transactions@1"]);
    expect(pulled.code, pulled.stderr).toBe(0);
    expect(await sha256Of(path.join(dir, "transactions-v1.csv"))).toBe(sha);
  });

  it("lets viewers download only while the workspace allows it; datasets too", async () => {
    fs.writeFileSync(path.join(dir, "d.csv"), "a,b\n1,2\n3,4\n");
    expect((await cli(["--json", "datasets", "push", path.join(dir, "d.csv"), "--name", "d"])).code).toBe(0);
    const file = `${url}/api/v1/workspaces/${ws.workspace.slug}/datasets/d/versions/1/file`;
    const asViewer = () => fetch(file, { headers: { authorization: `Bearer ${viewerToken}` } });
    const allowed = await asViewer();
    expect([allowed.status, await allowed.text()]).toEqual([200, "a,b\n1,2\n3,4\n"]);
    await setViewerDownloads(ws.owner.wsActor, { workspaceId: ws.workspace.id, viewerDownloads: false });
    const refused = await asViewer();
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/does not let viewers download/);
    expect(await auditFor(ws.workspace.id, "workspace.downloads_changed")).toHaveLength(1);
    const pulled = await cli(["--json", "datasets", "pull", "d@1"]);
    expect(pulled.code, pulled.stderr).toBe(0);
    expect(fs.readFileSync(path.join(dir, "d-v1.csv"), "utf8")).toBe("a,b\n1,2\n3,4\n");
    expect((await auditFor(ws.workspace.id, "dataset.version_downloaded")).filter((e) => (e.metadata as { name?: string }).name === "d")).toHaveLength(2);
  });
});

import { spawn } from "node:child_process";
import fs from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { DuckDBInstance } from "@duckdb/node-api";
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getDb } from "~/db/client";
import { datasets, datasetVersions, deployments, modelVersions, models } from "~/db/schema";
import { createWorkspace } from "~/db/seed/factories";
import { logisticRegressionOnnx } from "~/db/seed/onnx-builder";
import { uploadModelVersion } from "~/server/registry/models.service";
import { createToken } from "~/server/tokens/tokens.service";
import { callerFor, expectTrpcError } from "~/test/helpers";
import { handleRest } from "./rest";
import { REST_ROUTES } from "./routes";

/*
 * Requests from the security review, replayed through the REST API on a real port (and the
 * CLI as a child process): UTF-8 file names, a CSV holding a NUL byte, explicit nulls.
 */
let server: Server;
let base: string;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "steward-inputs-"));
const UTF8_NAME = "modèle-数据.onnx";
const onnx = Buffer.from(logisticRegressionOnnx({ weights: [0.5], bias: 0 }));

beforeAll(async () => {
  server = createServer((req, res) => {
    const body = req.method === "GET" ? undefined : (Readable.toWeb(req) as ReadableStream<Uint8Array>);
    const request = new Request(`http://localhost${req.url}`, {
      method: req.method,
      headers: req.headers as Record<string, string>,
      body,
      ...(body ? { duplex: "half" } : {}),
    });
    void handleRest(request, REST_ROUTES, new URL(request.url).pathname, async () => null).then(async (r) => {
      res.writeHead(r.status, Object.fromEntries(r.headers));
      res.end(Buffer.from(await r.arrayBuffer()));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  fs.rmSync(dir, { recursive: true, force: true });
});

async function setup() {
  const ws = await createWorkspace({ members: [{ role: "ml_engineer" }, { role: "ops" }] });
  const { token } = await createToken(ws.members[0]!.wsActor, { workspaceId: ws.workspace.id, name: "inputs", role: "ml_engineer" });
  const { token: opsToken } = await createToken(ws.members[1]!.wsActor, { workspaceId: ws.workspace.id, name: "ops", role: "ops" });
  return { ...ws, token, opsToken };
}

/** A multipart body as a browser builds it: the file name as raw UTF-8 in filename="…". */
function multipart(filename: string, content: Buffer) {
  const boundary = "----stewardtest7f3a";
  const body = Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
      "utf8",
    ),
    content,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { body, type: `multipart/form-data; boundary=${boundary}` };
}

type Answer = { error?: { message: string; field?: string } } & Record<string, unknown>;
async function upload(token: string, url: string, filename: string, content: Buffer) {
  const mp = multipart(filename, content);
  const r = await fetch(`${base}${url}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": mp.type }, body: mp.body });
  return { status: r.status, body: (await r.json()) as Answer };
}

const storedModelFilename = async (workspaceId: string, name: string) =>
  (
    await getDb()
      .select({ f: modelVersions.filename })
      .from(modelVersions)
      .innerJoin(models, eq(models.id, modelVersions.modelId))
      .where(and(eq(models.workspaceId, workspaceId), eq(models.name, name)))
  )[0]?.f;

describe("UTF-8 upload file names", () => {
  it("keeps modèle-数据.onnx through REST multipart (raw UTF-8, as browsers send it, and FormData)", async () => {
    const s = await setup();
    const raw = await upload(s.token, `/workspaces/${s.workspace.slug}/models/utf8/versions`, UTF8_NAME, onnx);
    expect(raw.status, JSON.stringify(raw.body)).toBe(201);
    expect(await storedModelFilename(s.workspace.id, "utf8")).toBe(UTF8_NAME);
    const form = new FormData();
    form.append("file", new Blob([onnx.subarray(0)]), "données-📊.onnx");
    const r = await fetch(`${base}/workspaces/${s.workspace.slug}/models/utf8-form/versions`, {
      method: "POST",
      headers: { authorization: `Bearer ${s.token}` },
      body: form,
    });
    expect(r.status).toBe(201);
    expect(await storedModelFilename(s.workspace.id, "utf8-form")).toBe("données-📊.onnx");
  });

  it("keeps it through the CLI's hand-built multipart body", async () => {
    const s = await setup();
    fs.writeFileSync(path.join(dir, UTF8_NAME), onnx);
    const run = await new Promise<{ code: number; out: string }>((resolve) => {
      const child = spawn(process.execPath, [path.resolve("bin/steward.mjs"), "models", "push", UTF8_NAME, "--name", "cli-utf8"], {
        cwd: dir,
        env: {
          PATH: process.env.PATH,
          HOME: dir,
          STEWARD_CONFIG: path.join(dir, "config.json"),
          NODE_ENV: "production",
          STEWARD_URL: base.replace(/\/api\/v1$/, ""),
          STEWARD_TOKEN: s.token,
          STEWARD_WORKSPACE: s.workspace.slug,
        },
      });
      let out = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.on("data", (d: Buffer) => (out += d.toString()));
      child.on("close", (code) => resolve({ code: code ?? -1, out }));
    });
    expect(run.code, run.out).toBe(0);
    expect(run.out).toContain(`uploading ${UTF8_NAME}`);
    expect(await storedModelFilename(s.workspace.id, "cli-utf8")).toBe(UTF8_NAME);
  });
});

describe("malformed uploads and explicit nulls answer 400 naming what is wrong", () => {
  it("refuses a CSV holding a NUL byte, naming its line, and stores nothing", async () => {
    const s = await setup();
    const csv = Buffer.from("age,label\n41,a\n52,b\u0000c\n", "utf8");
    const r = await upload(s.token, `/workspaces/${s.workspace.slug}/datasets/nul/versions`, "nul.csv", csv);
    expect(r.status, JSON.stringify(r.body)).toBe(400);
    expect(r.body.error).toMatchObject({ field: "file", message: expect.stringMatching(/NUL byte .*line 3/) });
    const stored = await getDb()
      .select()
      .from(datasetVersions)
      .innerJoin(datasets, eq(datasets.id, datasetVersions.datasetId))
      .where(eq(datasets.workspaceId, s.workspace.id));
    expect(stored).toHaveLength(0);
    // The same file without the NUL is fine.
    expect((await upload(s.token, `/workspaces/${s.workspace.slug}/datasets/nul/versions`, "ok.csv", Buffer.from("age,label\n41,a\n52,bc\n"))).status).toBe(
      201,
    );
  });

  it("refuses a Parquet file whose strings hold a NUL character (its profile could not be stored)", async () => {
    const s = await setup();
    const file = path.join(dir, "nul.parquet");
    const instance = await DuckDBInstance.create(":memory:");
    const con = await instance.connect();
    await con.run(`copy (select 1 as n, 'a' || chr(0) || 'b' as label) to '${file}' (format parquet)`);
    con.closeSync();
    instance.closeSync();
    const r = await upload(s.token, `/workspaces/${s.workspace.slug}/datasets/nul-pq/versions`, "nul.parquet", fs.readFileSync(file));
    expect(r.status, JSON.stringify(r.body)).toBe(400);
    expect(r.body.error).toMatchObject({ field: "file", message: expect.stringMatching(/^Column "label" holds a NUL character/) });
  });

  it("refuses NUL characters in JSON bodies and upload metadata, naming the field", async () => {
    const s = await setup();
    const mp = (meta: string) => {
      const boundary = "----stewardmeta";
      const body = Buffer.concat([
        Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n${meta}\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="m.onnx"\r\n\r\n`,
        ),
        onnx,
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ]);
      return fetch(`${base}/workspaces/${s.workspace.slug}/models/nul-meta/versions`, {
        method: "POST",
        headers: { authorization: `Bearer ${s.token}`, "content-type": `multipart/form-data; boundary=${boundary}` },
        body,
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as Answer }));
    };
    const meta = await mp(JSON.stringify({ description: "a\u0000b" }));
    expect(meta.status, JSON.stringify(meta.body)).toBe(400);
    expect(meta.body.error).toMatchObject({
      field: "metadata.description",
      message: "metadata.description holds a NUL character (\\u0000), which cannot be stored; remove it.",
    });
    const rollback = await fetch(`${base}/workspaces/${s.workspace.slug}/deployments/anything/rollback`, {
      method: "POST",
      headers: { authorization: `Bearer ${s.opsToken}`, "content-type": "application/json" },
      body: JSON.stringify({ reason: "broken \u0000 model" }),
    });
    const answer = (await rollback.json()) as Answer;
    expect(rollback.status, JSON.stringify(answer)).toBe(400);
    expect(answer.error).toMatchObject({ field: "reason", message: expect.stringMatching(/^reason holds a NUL character/) });
  });

  it("refuses alias: null and follow: null when creating a deployment, naming the field (REST and tRPC)", async () => {
    const s = await setup();
    await uploadModelVersion(s.members[0]!.wsActor, { name: "risk", filename: "risk.onnx" }, Readable.from([onnx]));
    const create = (body: Record<string, unknown>) =>
      fetch(`${base}/workspaces/${s.workspace.slug}/deployments`, {
        method: "POST",
        headers: { authorization: `Bearer ${s.opsToken}`, "content-type": "application/json", "x-steward-client": "test" },
        body: JSON.stringify(body),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as Answer }));
    const good = { name: "nulls", environment: "prod", model: "risk", version: 1, alias: "nulls-test", follow: false };
    for (const field of ["alias", "follow"] as const) {
      const r = await create({ ...good, [field]: null });
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body.error).toMatchObject({ field, message: expect.stringMatching(new RegExp(`^${field}: `)) });
      await expectTrpcError(callerFor(s.members[1]!).deployments.create({ workspaceId: s.workspace.id, ...good, [field]: null }), "BAD_REQUEST");
    }
    // Nothing was deployed, and "production" was never assumed for a null alias.
    expect(await getDb().select().from(deployments).where(eq(deployments.workspaceId, s.workspace.id))).toHaveLength(0);
    expect((await create(good)).status).toBe(201);
  });

  it("names the field of a bad JSON body as tRPC does, with every issue (REST and tRPC)", async () => {
    const s = await setup();
    await uploadModelVersion(s.members[0]!.wsActor, { name: "risk", filename: "risk.onnx" }, Readable.from([onnx]));
    const r = await fetch(`${base}/workspaces/${s.workspace.slug}/deployments`, {
      method: "POST",
      headers: { authorization: `Bearer ${s.opsToken}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "Not A Name!", environment: "prod", model: "risk", version: "one", alias: "production" }),
    });
    const body = (await r.json()) as {
      error: { code: string; message: string; field: string; issues: { path: string; message: string }[] };
      requestId: string;
    };
    expect(r.status, JSON.stringify(body)).toBe(400);
    expect(body).toMatchObject({ error: { code: "INVALID", field: "name", message: expect.stringMatching(/^name: /) }, requestId: expect.any(String) });
    expect(body.error.issues.map((i) => i.path)).toEqual(expect.arrayContaining(["name", "version"]));
    expect(body.error.issues[0]!.message).toBe(body.error.message.replace(/^name: /, ""));
    const trpc = (await callerFor(s.members[1]!)
      .deployments.create({ workspaceId: s.workspace.id, name: "Not A Name!", environment: "prod", model: "risk", version: "one", alias: "production" })
      .catch((e: unknown) => e)) as { code: string; message: string };
    expect(trpc).toMatchObject({ code: "BAD_REQUEST", message: body.error.message });
  });
});

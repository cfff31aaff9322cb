import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "~/db/client";
import { datasetVersions, modelVersions } from "~/db/schema";
import { encodeModel, logisticRegressionOnnx } from "~/db/seed/onnx-builder";
import { createWorkspace } from "~/db/seed/factories";
import { env } from "~/env";
import { createToken } from "~/server/tokens/tokens.service";
import { auditFor, callerFor, expectAudit, expectTrpcError } from "~/test/helpers";
import { form, rest } from "~/test/rest-client";

const CSV = "age,income,region,default\n41,52000.5,north,0\n35,,south,1\n29,31000,north,0\n52,88000,east,0\n";

async function setup(role: "ml_engineer" | "viewer" | "admin" = "ml_engineer") {
  const ws = await createWorkspace({ members: [{ role }] });
  const member = ws.members[0]!;
  const { token } = await createToken(member.wsActor, { workspaceId: ws.workspace.id, name: "ci", role });
  return { ...ws, member, token, base: `/workspaces/${ws.workspace.slug}` };
}

function blobCount() {
  const dir = path.join(path.resolve(env.ARTIFACT_DIR), "sha256");
  if (!fs.existsSync(dir)) return 0;
  return fs.readdirSync(dir).reduce((n, d) => n + fs.readdirSync(path.join(dir, d)).length, 0);
}

describe("datasets over REST", () => {
  it("uploads a CSV as version 1 with schema and profile; the same bytes again return it", async () => {
    const { base, token, workspace, owner } = await setup();
    const r1 = await rest("POST", `${base}/datasets/credit-train/versions`, { token, form: form(CSV, "train.csv", { description: "Training data" }) });
    expect(r1.status).toBe(201);
    expect(r1.data).toMatchObject({ name: "credit-train", version: 1, created: true, rows: 4, format: "csv" });
    const again = await rest("POST", `${base}/datasets/credit-train/versions`, { token, form: form(CSV, "copy.csv") });
    expect(again.status).toBe(200);
    expect(again.data).toMatchObject({ version: 1, created: false });
    const v = await callerFor(owner).datasets.version({ workspaceId: workspace.id, name: "credit-train", version: 1 });
    expect(v.schema.map((c) => [c.name, c.logical])).toEqual([
      ["age", "numeric"],
      ["income", "numeric"],
      ["region", "categorical"],
      ["default", "numeric"],
    ]);
    const income = v.profile.columns.find((c) => c.name === "income")!;
    expect(income).toMatchObject({ nulls: 1, count: 3, min: 31000, max: 88000 });
    expect(income.histogram!.counts.reduce((a, b) => a + b, 0)).toBe(3);
    expect(v.profile.columns.find((c) => c.name === "region")!.top![0]).toEqual({ value: "north", count: 2 });
    await expectAudit(workspace.id, { action: "dataset.version_created", targetId: v.id });
    const v2 = await rest("POST", `${base}/datasets/credit-train/versions`, { token, form: form(CSV + "60,1,west,1\n", "train.csv") });
    expect(v2.data).toMatchObject({ version: 2, created: true, rows: 5 });
  });

  it("registers the same bytes uploaded twice at once as one version with one audit event", async () => {
    const { base, token, workspace } = await setup();
    const model = logisticRegressionOnnx({ weights: [0.3, 0.3], bias: 0 });
    const [d1, d2, m1, m2] = await Promise.all([
      rest("POST", `${base}/datasets/twice/versions`, { token, form: form(CSV, "a.csv") }),
      rest("POST", `${base}/datasets/twice/versions`, { token, form: form(CSV, "b.csv") }),
      rest("POST", `${base}/models/twice/versions`, { token, form: form(model, "a.onnx") }),
      rest("POST", `${base}/models/twice/versions`, { token, form: form(model, "b.onnx") }),
    ]);
    expect([d1.data.created, d2.data.created].sort()).toEqual([false, true]);
    expect([m1.data.created, m2.data.created].sort()).toEqual([false, true]);
    expect(d1.data.version).toBe(1);
    expect(d2.data.version).toBe(1);
    expect(m1.data.version).toBe(m2.data.version);
    expect(await auditFor(workspace.id, "dataset.version_created")).toHaveLength(1);
    expect(await auditFor(workspace.id, "model.version_registered")).toHaveLength(1);
  });

  it("profiles a Parquet file", async () => {
    const { base, token } = await setup();
    const { DuckDBInstance } = await import("@duckdb/node-api");
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "pq-")), "d.parquet");
    const db = await DuckDBInstance.create(":memory:");
    const con = await db.connect();
    await con.run(
      `copy (select i as id, i * 0.5 as score, case when i % 3 = 0 then 'a' else 'b' end as grp, date '2026-01-01' + i::int as day from range(100) t(i)) to '${file}' (format parquet)`,
    );
    con.closeSync();
    db.closeSync();
    const r = await rest("POST", `${base}/datasets/pq/versions`, { token, form: form(fs.readFileSync(file), "d.parquet") });
    expect(r.status, JSON.stringify(r.data)).toBe(201);
    expect(r.data).toMatchObject({ format: "parquet", rows: 100 });
    const v = await rest("GET", `${base}/datasets/pq/versions/1`, { token });
    const cols = (v.data as { profile: { columns: { name: string; logical: string; max?: unknown; distinct?: number }[] } }).profile.columns;
    expect(cols.map((c) => [c.name, c.logical])).toEqual([
      ["id", "numeric"],
      ["score", "numeric"],
      ["grp", "categorical"],
      ["day", "temporal"],
    ]);
    expect(cols[1]!.max).toBe(49.5);
    expect(cols[3]!.max).toBe("2026-04-10");
  });

  it("profiles columns whose names collide with SQL words and aliases", async () => {
    const { base, token } = await setup();
    const r = await rest("POST", `${base}/datasets/odd/versions`, { token, form: form('b,n,"select","we""ird"\n1,2,x,3.5\n2,3,y,\n', "odd.csv") });
    expect(r.status, JSON.stringify(r.data)).toBe(201);
    const v = await rest("GET", `${base}/datasets/odd/versions/1`, { token });
    const cols = (v.data as { schema: { name: string }[] }).schema.map((c) => c.name);
    expect(cols).toEqual(["b", "n", "select", 'we"ird']);
  });

  it.each([
    ["ragged rows", "a,b\n1,2\n3\n", "x.csv", /Row 3 of the CSV file has 1 field, but the header has 2/],
    ["no header", "1,2\n3,4\n", "x.csv", /no header row/],
    ["duplicate columns", "a,a\n1,2\n", "x.csv", /names the column "a" twice/],
    ["invalid UTF-8", Buffer.from([0x61, 0x2c, 0x62, 0x0a, 0xff, 0xfe, 0x2c, 0x32, 0x0a]), "x.csv", /not valid UTF-8/],
    ["an empty file", "", "x.csv", /The file is empty/],
    ["header only", "a,b\n", "x.csv", /no rows/],
    ["corrupt Parquet", "PAR1 this is not really parquet", "x.parquet", /not a valid Parquet file/],
    ["another format", "a,b\n1,2\n", "x.xlsx", /Upload a \.csv or \.parquet file/],
  ])("rejects %s with a specific 400 and leaves no row or blob", async (_what, content, filename, message) => {
    const { base, token, workspace } = await setup();
    const blobs = blobCount();
    const r = await rest("POST", `${base}/datasets/bad/versions`, { token, form: form(content, filename) });
    expect(r.status).toBe(400);
    expect(r.data.error!.message).toMatch(message);
    expect(r.data.error!.field).toBe("file");
    const rows = await getDb().select().from(datasetVersions).where(eq(datasetVersions.workspaceId, workspace.id));
    expect(rows).toEqual([]);
    expect(blobCount()).toBe(blobs);
  });

  it.each(["a/b", ".hidden", "..x", "with space", "tab\there", "nul\u0000x", "x".repeat(101)])("rejects the name %j", async (name) => {
    const { base, token } = await setup();
    const r = await rest("POST", `${base}/datasets/${encodeURIComponent(name)}/versions`, { token, form: form(CSV, "a.csv") });
    expect(r.status).toBe(400);
    expect(r.data.error!.message).toMatch(/^name: Name/);
  });
});

describe("models over REST", () => {
  it("registers ONNX versions with metadata, lineage and a parent, reads the signature, compares", async () => {
    const { base, token, workspace, owner } = await setup();
    await rest("POST", `${base}/datasets/train/versions`, { token, form: form(CSV, "train.csv") });
    await rest("POST", `${base}/datasets/eval/versions`, { token, form: form(CSV.replace("north", "west"), "eval.csv") });
    const m1 = logisticRegressionOnnx({ weights: [0.1, 0.2, 0.3], bias: 0 });
    const r1 = await rest("POST", `${base}/models/credit-risk/versions`, {
      token,
      form: form(m1, "model.onnx", {
        description: "# First",
        metrics: { auc: 0.81, accuracy: 0.75 },
        params: { lr: 0.01, epochs: 200 },
        tags: ["baseline"],
        gitCommit: "abc1234",
        datasets: [
          { ref: "train@1", role: "train" },
          { ref: "eval@1", role: "eval" },
        ],
      }),
    });
    expect(r1.status).toBe(201);
    expect(r1.data).toMatchObject({ version: 1, created: true, loadable: true });
    const m2 = logisticRegressionOnnx({ weights: [0.1, 0.2, 0.3, 0.4], bias: 1 });
    const r2 = await rest("POST", `${base}/models/credit-risk/versions`, {
      token,
      form: form(m2, "model.onnx", { metrics: { auc: 0.86 }, parent: 1, datasets: [{ ref: "train@1", role: "train" }] }),
    });
    expect(r2.data).toMatchObject({ version: 2 });
    const same = await rest("POST", `${base}/models/credit-risk/versions`, { token, form: form(m2, "again.onnx") });
    expect(same).toMatchObject({ status: 200, data: { version: 2, created: false } });

    const v1 = await rest("GET", `${base}/models/credit-risk/versions/1`, { token });
    const sig = (v1.data as { signature: { inputs: unknown; outputs: unknown; opCounts: unknown; runtime: unknown } }).signature;
    expect(sig.inputs).toEqual([{ name: "features", elemType: "float", shape: ["batch", 3] }]);
    expect(sig.outputs).toEqual([
      { name: "probability", elemType: "float", shape: ["batch", 1] },
      { name: "label", elemType: "int64", shape: ["batch", 1] },
    ]);
    expect(sig.opCounts).toMatchObject({ MatMul: 1, Sigmoid: 1 });
    expect(sig.runtime).toMatchObject({ loadable: true, inputNames: ["features"] });

    const model = await callerFor(owner).models.byName({ workspaceId: workspace.id, name: "credit-risk" });
    expect(model.versions.map((v) => v.version)).toEqual([2, 1]);
    expect(model.versions[0]!.parent).toEqual({ model: "credit-risk", version: 1 });
    expect(model.versions[1]!.datasets.map((d) => `${d.role}:${d.datasetName}@${d.datasetVersion}`).sort()).toEqual(["eval:eval@1", "train:train@1"]);

    const cmp = await callerFor(owner).models.compare({ workspaceId: workspace.id, name: "credit-risk", a: 1, b: 2 });
    expect(cmp.metrics.find((m) => m.name === "auc")!.delta).toBeCloseTo(0.05);
    expect(cmp.metrics.find((m) => m.name === "accuracy")).toMatchObject({ a: 0.75, b: null, delta: null });
    expect(cmp.inputs).toEqual([{ name: "features", a: "float[batch, 3]", b: "float[batch, 4]", changed: true }]);
    expect(cmp.size.delta).toBe(m2.length - m1.length);
    await expectAudit(workspace.id, { action: "model.version_registered" });
  });

  it("rejects bad metadata and unknown lineage before reading the file, naming the field", async () => {
    const { base, token } = await setup();
    const m = logisticRegressionOnnx({ weights: [1], bias: 0 });
    const cases: [unknown, RegExp][] = [
      [{ metrics: { auc: "high" } }, /^metadata\.metrics\.auc: /],
      [{ gitCommit: "not-a-sha" }, /^metadata\.gitCommit: gitCommit must be a hexadecimal/],
      [{ datasets: [{ ref: "nope@1", role: "train" }] }, /Dataset version nope@1 does not exist/],
      [{ datasets: [{ ref: "nope", role: "train" }] }, /^metadata\.datasets\.0\.ref: A version reference looks like name@3/],
      [{ parent: 7 }, /parent version m@7 does not exist/],
    ];
    for (const [meta, message] of cases) {
      const r = await rest("POST", `${base}/models/m/versions`, { token, form: form(m, "m.onnx", meta) });
      expect(r.status, JSON.stringify(meta)).toBe(400);
      expect(r.data.error!.message).toMatch(message);
    }
  });

  it("moves aliases one version per alias, audited; protected aliases by nobody directly; tokens never exceed their role", async () => {
    const { base, token, workspace, member, owner } = await setup();
    await rest("POST", `${base}/models/m/versions`, { token, form: form(logisticRegressionOnnx({ weights: [1], bias: 0 }), "m.onnx") });
    await rest("POST", `${base}/models/m/versions`, { token, form: form(logisticRegressionOnnx({ weights: [2], bias: 0 }), "m.onnx") });
    const put = (alias: string, version: number, t = token) => rest("PUT", `${base}/models/m/aliases/${alias}`, { token: t, json: { version } });
    expect((await put("champion", 1)).status).toBe(200);
    expect((await put("champion", 2)).data).toMatchObject({ alias: "champion", version: 2, changed: true });
    const ev = await expectAudit(workspace.id, { action: "model.alias_moved" });
    expect(ev.changes).toEqual({ champion: [null, 1] });
    // production and staging are protected by their approval policies: no token, no role moves them.
    const { token: ownerToken } = await callerFor(owner).tokens.create({ workspaceId: workspace.id, name: "root", role: "owner" });
    for (const t of [token, ownerToken]) {
      for (const alias of ["production", "staging"]) {
        const r = await put(alias, 2, t);
        expect(r.status).toBe(412);
        expect(r.data.error!.message).toMatch(
          new RegExp(`"${alias}" is protected by an approval policy, so it cannot be moved directly by anyone: open a review request`),
        );
      }
    }
    await expectTrpcError(
      callerFor(member).models.setAlias({ workspaceId: workspace.id, name: "m", alias: "production", version: 2 }),
      "PRECONDITION_FAILED",
      /protected by an approval policy/,
    );
    await expectTrpcError(
      callerFor(owner).models.setAlias({ workspaceId: workspace.id, name: "m", alias: "production", version: 2 }),
      "PRECONDITION_FAILED",
      /protected by an approval policy/,
    );
    await expectTrpcError(
      callerFor(owner).models.removeAlias({ workspaceId: workspace.id, name: "m", alias: "production" }),
      "PRECONDITION_FAILED",
      /cannot be removed directly/,
    );
    const model = await callerFor(owner).models.byName({ workspaceId: workspace.id, name: "m" });
    expect(model.aliases.map((a) => [a.alias, a.version])).toEqual([["champion", 2]]);
    expect((await put("Bad Alias", 1)).status).toBe(400);
    expect((await put("champion", 9)).status).toBe(404);

    await expectTrpcError(
      callerFor(member).tokens.create({ workspaceId: workspace.id, name: "x", role: "admin" }),
      "FORBIDDEN",
      /cannot have more rights than you/,
    );
  });
});

describe("hostile model uploads", () => {
  it.each([
    ["random bytes", new TextEncoder().encode("\u0000\u0001not a model at all"), /not a valid ONNX model|not an ONNX model/],
    ["a truncated model", logisticRegressionOnnx({ weights: [1, 2, 3], bias: 0 }).subarray(0, 40), /not a valid ONNX model|not an ONNX model/],
    [
      "external data escaping the folder",
      encodeModel({
        irVersion: 8,
        opsetImport: [{ domain: "", version: 17 }],
        graph: {
          name: "g",
          node: [{ opType: "Identity", input: ["W"], output: ["y"] }],
          initializer: [{ name: "W", dataType: 1, dims: [1], dataLocation: 1, externalData: [{ key: "location", value: "../../../etc/passwd" }] }],
          output: [{ name: "y" }],
        },
      }),
      /external file \("..\/..\/..\/etc\/passwd"\)/,
    ],
    [
      "an operator onnxruntime does not have",
      encodeModel({
        irVersion: 8,
        opsetImport: [{ domain: "", version: 17 }],
        graph: {
          name: "g",
          node: [{ opType: "NoSuchOperator", input: ["x"], output: ["y"] }],
          input: [{ name: "x", type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }] } } } }],
          output: [{ name: "y", type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }] } } } }],
        },
      }),
      /^onnxruntime cannot load this model, so it was not registered: .*No Op registered for NoSuchOperator/,
    ],
  ])("rejects %s in the inspector process: 400, no rows, no blobs, still serving", async (_what, bytes, message) => {
    const { base, token, workspace } = await setup();
    const blobs = blobCount();
    const r = await rest("POST", `${base}/models/hostile/versions`, { token, form: form(bytes, "model.onnx") });
    expect(r.status).toBe(400);
    expect(r.data.error!.message).toMatch(message);
    expect(await getDb().select().from(modelVersions).where(eq(modelVersions.workspaceId, workspace.id))).toEqual([]);
    expect(blobCount()).toBe(blobs);
    expect((await rest("GET", `${base}/models`, { token })).status).toBe(200);
  });

  it("stops an upload past the size limit and leaves no staging file", async () => {
    const { stage } = await import("~/server/artifacts/store");
    const { Readable } = await import("node:stream");
    // Other test files stage uploads into the shared store at the same time, so this one
    // stages into a store of its own (env is per test process) and expects it to stay empty.
    const config = env as { ARTIFACT_DIR: string };
    const shared = config.ARTIFACT_DIR;
    const own = fs.mkdtempSync(path.join(os.tmpdir(), "steward-staging-"));
    config.ARTIFACT_DIR = own;
    try {
      await expect(stage(Readable.from([Buffer.alloc(600), Buffer.alloc(600)]), 1000)).rejects.toThrow(/larger than the limit of 1000 bytes/);
      expect(fs.readdirSync(path.join(own, "staging"))).toEqual([]);
    } finally {
      config.ARTIFACT_DIR = shared;
      fs.rmSync(own, { recursive: true, force: true });
    }
  });
});

describe("REST authorization", () => {
  it("refuses no credentials, a viewer token for writes, another workspace's token, revoked and demoted tokens", async () => {
    const a = await setup("viewer");
    const b = await setup();
    const upload = (t?: string, base = a.base) => rest("POST", `${base}/datasets/d/versions`, { token: t, form: form(CSV, "d.csv") });
    expect((await upload(undefined)).status).toBe(401);
    expect((await upload("stw_not-a-real-token")).status).toBe(401);
    const viewerWrite = await upload(a.token);
    expect(viewerWrite.status).toBe(403);
    expect(viewerWrite.data.error!.message).toMatch(/model:write/);
    expect((await rest("GET", `${a.base}/datasets`, { token: a.token })).status).toBe(200);
    expect((await rest("GET", `${a.base}/datasets`, { token: b.token })).status).toBe(404);

    const { token, id } = await createToken(b.member.wsActor, { workspaceId: b.workspace.id, name: "t", role: "ml_engineer" });
    expect((await rest("GET", `${b.base}/models`, { token })).status).toBe(200);
    await callerFor(b.owner).members.changeRole({ workspaceId: b.workspace.id, userId: b.member.id, role: "viewer" });
    const demoted = await rest("GET", `${b.base}/models`, { token });
    expect(demoted.status).toBe(401);
    expect(demoted.data.error!.message).toMatch(/no longer has the rights/);
    await callerFor(b.owner).members.changeRole({ workspaceId: b.workspace.id, userId: b.member.id, role: "ml_engineer" });
    await callerFor(b.member).tokens.revoke({ workspaceId: b.workspace.id, tokenId: id });
    expect((await rest("GET", `${b.base}/models`, { token })).data.error!.message).toMatch(/revoked/);

    // Cookie sessions may read, but writes need a header no HTML form can send.
    const s = { id: b.member.id, email: b.member.email };
    expect((await rest("GET", `${b.base}/datasets`, { session: s })).status).toBe(200);
    expect((await rest("POST", `${b.base}/datasets/d/versions`, { session: s, form: form(CSV, "d.csv") })).status).toBe(403);
    expect((await rest("POST", `${b.base}/datasets/d/versions`, { session: s, form: form(CSV, "d.csv"), headers: { "x-steward-client": "web" } })).status).toBe(
      201,
    );
  });

  it("exchanges e-mail and password for a token with the member's role", async () => {
    const { workspace, member } = await setup("ml_engineer");
    const r = await rest("POST", "/auth/token", { json: { email: member.email, password: member.password, workspace: workspace.slug } });
    expect(r.status).toBe(201);
    expect(r.data).toMatchObject({ role: "ml_engineer", workspace: workspace.slug });
    const me = await rest("GET", `/workspaces/${workspace.slug}/me`, { token: r.data.token as string });
    expect(me.data).toMatchObject({ email: member.email, role: "ml_engineer" });
    const bad = await rest("POST", "/auth/token", { json: { email: member.email, password: "wrong-password-x", workspace: workspace.slug } });
    expect(bad.status).toBe(401);
    const count = await getDb().execute(sql`select count(*)::int as n from model_versions where workspace_id = ${workspace.id}`);
    expect(count[0]).toMatchObject({ n: 0 });
    void modelVersions;
  });
});

describe("OpenAPI document", () => {
  it("describes every REST route with its permission and parameters", async () => {
    const { openApiDocument } = await import("~/server/web/rest/openapi");
    const { REST_ROUTES } = await import("~/server/web/rest/routes");
    const doc = openApiDocument(REST_ROUTES, "http://localhost:3000/api/v1") as {
      openapi: string;
      paths: Record<string, Record<string, { "x-steward-permission"?: string; parameters: { name: string; required: boolean }[] }>>;
    };
    expect(doc.openapi).toBe("3.1.0");
    for (const r of REST_ROUTES) {
      const op = doc.paths[r.path]?.[r.method.toLowerCase()];
      expect(op, `${r.method} ${r.path}`).toBeTruthy();
      expect(op!["x-steward-permission"]).toBe(r.permission ?? undefined);
    }
    const exportOp = doc.paths["/workspaces/{workspace}/audit/export"]!.get!;
    expect(exportOp.parameters.find((p) => p.name === "from")).toMatchObject({ required: false });
    expect(exportOp.parameters.find((p) => p.name === "workspace")).toMatchObject({ required: true });
  });
});

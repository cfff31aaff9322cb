import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ListObjectsV2Command, S3Client, CreateBucketCommand } from "@aws-sdk/client-s3";
import S3rver from "s3rver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The artifact store against a real S3-compatible server (s3rver) started here. The
 * configuration is set before any Steward module loads, as it would be in production.
 */
let server: S3rver;
let client: S3Client;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "steward-s3-"));

beforeAll(async () => {
  server = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory: dir });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  Object.assign(process.env, {
    ARTIFACT_STORE: "s3://steward-test/artifacts",
    S3_ENDPOINT: endpoint,
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
  });
  client = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
  await client.send(new CreateBucketCommand({ Bucket: "steward-test" }));
});
afterAll(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function keys() {
  const r = await client.send(new ListObjectsV2Command({ Bucket: "steward-test" }));
  return (r.Contents ?? []).map((o) => o.Key!);
}

describe("artifact store on S3", () => {
  it("stores uploads under their hash, once, reads them back, and keeps rejected files out", async () => {
    const { createWorkspace } = await import("~/db/seed/factories");
    const { createToken } = await import("~/server/tokens/tokens.service");
    const { form, rest } = await import("~/test/rest-client");
    const { openBlob, blobs } = await import("./store");
    expect((await blobs()).kind).toBe("s3");

    const { workspace, owner } = await createWorkspace();
    const { token } = await createToken(owner.wsActor, { workspaceId: workspace.id, name: "s3", role: "owner" });
    const csv = "a,b\n1,2\n3,4\n";
    const r = await rest("POST", `/workspaces/${workspace.slug}/datasets/d/versions`, { token, form: form(csv, "d.csv") });
    expect(r.status).toBe(201);
    const sha = r.data.sha256 as string;
    expect(await keys()).toEqual([`artifacts/sha256/${sha.slice(0, 2)}/${sha}`]);

    const again = await rest("POST", `/workspaces/${workspace.slug}/datasets/other/versions`, { token, form: form(csv, "d.csv") });
    expect(again.status).toBe(201); // a new dataset, the same blob
    expect(await keys()).toHaveLength(1);

    const chunks: Buffer[] = [];
    for await (const c of await openBlob(sha)) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe(csv);

    const bad = await rest("POST", `/workspaces/${workspace.slug}/datasets/bad/versions`, { token, form: form("a,b\n1\n", "bad.csv") });
    expect(bad.status).toBe(400);
    expect(await keys()).toHaveLength(1);
  });

  it("publishes signed audit checkpoints as named objects, once, and lists them back", async () => {
    const { createWorkspace } = await import("~/db/seed/factories");
    const { signCheckpoint } = await import("~/server/audit/checkpoints.service");
    const { listPublished, publishCheckpoint, publishedKey } = await import("~/server/audit/publish");
    const { workspace, owner } = await createWorkspace();
    const cp = (await signCheckpoint(owner.wsActor, workspace.id))!;
    expect(await keys()).toContain(`artifacts/${publishedKey(workspace.id, cp.seq)}`);
    expect(await keys()).toContain(`artifacts/checkpoints/keys/${cp.keyId}.pem`);
    expect((await listPublished(workspace.id)).map((c) => [c.seq, c.headHash])).toEqual([[cp.seq, cp.headHash]]);
    expect(await listPublished(workspace.id, cp.seq)).toEqual([]);
    expect(await publishCheckpoint(cp)).toMatchObject({ created: false });
    await expect(publishCheckpoint({ ...cp, signature: "AAAA" })).rejects.toThrow(/already published/);
  });
});

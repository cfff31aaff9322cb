import { sql } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { getDb } from "~/db/client";
import { createWorkspace } from "~/db/seed/factories";
import { mutate } from "~/server/audit/mutate";
import { defineJob } from "./define";
import { closeEnqueuer, enqueue } from "./enqueue";

const probe = defineJob({ name: "test.probe", schema: z.object({ workspaceId: z.uuid(), n: z.number() }), queue: { retryLimit: 1 } });

async function jobsFor(workspaceId: string) {
  return getDb().execute<{ data: { workspaceId: string; n: number } }>(
    sql`select data from pgboss.job where name = 'test.probe' and data->>'workspaceId' = ${workspaceId}`,
  );
}

afterAll(closeEnqueuer);

describe("enqueue", () => {
  it("writes the job in the business transaction: kept on commit, gone on rollback", async () => {
    const { workspace, owner } = await createWorkspace();
    await mutate(owner.wsActor, async (tx, audit) => {
      await enqueue(tx, probe, { workspaceId: workspace.id, n: 1 });
      audit({ action: "workspace.renamed", target: { type: "workspace" } });
    });
    await expect(
      mutate(owner.wsActor, async (tx, audit) => {
        await enqueue(tx, probe, { workspaceId: workspace.id, n: 2 });
        audit({ action: "workspace.renamed", target: { type: "workspace" } });
        throw new Error("the change failed");
      }),
    ).rejects.toThrow("the change failed");
    const rows = await jobsFor(workspace.id);
    expect(rows.map((r) => r.data.n)).toEqual([1]);
  });

  it("validates the payload with the job's schema", async () => {
    const { workspace, owner } = await createWorkspace();
    await expect(
      mutate(owner.wsActor, async (tx, audit) => {
        audit({ action: "workspace.renamed", target: { type: "workspace" } });
        await enqueue(tx, probe, { workspaceId: "not-a-uuid", n: 1 });
      }),
    ).rejects.toMatchObject({ issues: [expect.objectContaining({ path: ["workspaceId"] })] });
    expect(await jobsFor(workspace.id)).toEqual([]);
  });
});

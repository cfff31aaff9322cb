import { describe, expect, it } from "vitest";
import { getDb } from "~/db/client";
import { datasets, models, pipelines } from "~/db/schema";
import { createUser, createWorkspace } from "~/db/seed/factories";
import { callerFor, expectTrpcError } from "~/test/helpers";
import { eq } from "drizzle-orm";

describe("palette search", () => {
  it("finds the workspace's items by name and never another workspace's", async () => {
    const a = await createWorkspace({ defaultPipeline: true, members: [{ role: "viewer", user: await createUser({ name: "Vera Searchable" }) }] });
    const b = await createWorkspace({ defaultPipeline: true, members: [{ role: "ml_engineer", user: await createUser({ name: "Otto Elsewhere" }) }] });
    const db = getDb();
    await db.insert(models).values([
      { workspaceId: a.workspace.id, name: "fraud-prod-scorer" },
      { workspaceId: b.workspace.id, name: "fraud-prod-other" },
      { workspaceId: b.workspace.id, name: "only-in-b" },
    ]);
    await db.insert(datasets).values([
      { workspaceId: a.workspace.id, name: "fraud-prod-train" },
      { workspaceId: b.workspace.id, name: "fraud-prod-train" },
    ]);
    const viewer = a.members[0]!;
    const api = callerFor(viewer).search;
    const ws = a.workspace.id;

    const prod = await api.query({ workspaceId: ws, q: "prod" });
    expect(prod.map((h) => `${h.kind} ${h.title}`).sort()).toEqual(["dataset fraud-prod-train", "model fraud-prod-scorer"]);
    const aDataset = await db.select({ id: datasets.id }).from(datasets).where(eq(datasets.workspaceId, ws));
    expect(prod.find((h) => h.kind === "dataset")!.id).toBe(aDataset[0]!.id);

    // Each workspace has its own "validate" pipeline: only this one's comes back.
    const validate = await api.query({ workspaceId: ws, q: "validate" });
    const [mine] = await db.select({ id: pipelines.id }).from(pipelines).where(eq(pipelines.workspaceId, ws));
    expect(validate.filter((h) => h.kind === "pipeline").map((h) => h.id)).toEqual([mine!.id]);
    expect(validate.find((h) => h.kind === "pipeline")!.href).toBe("/pipelines/validate");

    // People: members of this workspace only.
    expect((await api.query({ workspaceId: ws, q: "searchable" })).map((h) => h.kind)).toEqual(["person"]);
    expect(await api.query({ workspaceId: ws, q: "elsewhere" })).toEqual([]);
    expect(await api.query({ workspaceId: ws, q: "only-in-b" })).toEqual([]);
    // A review number with no review, a LIKE wildcard, and nothing typed find nothing.
    expect(await api.query({ workspaceId: ws, q: "#2" })).toEqual([]);
    expect(await api.query({ workspaceId: ws, q: "%" })).toEqual([]);
    expect(await api.query({ workspaceId: ws, q: "  " })).toEqual([]);

    // Asking with the other workspace's id as a non-member: not found, nothing leaks.
    await expectTrpcError(api.query({ workspaceId: b.workspace.id, q: "prod" }), "NOT_FOUND");
  });
});

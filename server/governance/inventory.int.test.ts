import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "~/db/client";
import { auditEvents, modelAliases, models, modelVersions, notifications, pipelineRuns, pipelines, pipelineVersions, reviewRequests } from "~/db/schema";
import type { OnnxSignature } from "~/db/schema/registry";
import { createUser, createWorkspace } from "~/db/seed/factories";
import { createToken } from "~/server/tokens/tokens.service";
import { auditFor, callerFor, expectTrpcError } from "~/test/helpers";
import { rest } from "~/test/rest-client";
import { handleInventoryRevalidations } from "~/workers/worker/handlers/inventory-revalidations.handler";
import type { InventoryData } from "~/server/shared/inventory.schema";
import { inventoryOf, listInventory } from "./inventory.service";

const DAY = 86_400_000;
const credit: InventoryData["riskAnswers"] = {
  annexIII: "creditworthiness",
  narrowTask: "no",
  profiling: "yes",
  annexI: "no",
  purpose: "customer",
  exposure: "high",
  reliance: "automated",
  complexity: "medium",
  generative: "no",
};
const internal: InventoryData["riskAnswers"] = {
  annexIII: "none",
  annexI: "no",
  purpose: "informational",
  exposure: "low",
  reliance: "supporting",
  complexity: "low",
  generative: "no",
};

async function setup() {
  const ws = await createWorkspace({ members: [{ role: "ml_engineer" }, { role: "compliance_officer" }, { role: "viewer" }] });
  const [engineer, compliance, viewer] = ws.members as [(typeof ws.members)[number], (typeof ws.members)[number], (typeof ws.members)[number]];
  return { ...ws, workspaceId: ws.workspace.id, engineer, compliance, viewer };
}

/** A model row (and optionally one version) without uploading an artifact: the inventory reads only these rows. */
async function addModel(workspaceId: string, name: string, fields: Partial<typeof models.$inferInsert> = {}) {
  const [m] = await getDb()
    .insert(models)
    .values({ workspaceId, name, ...fields })
    .returning();
  return m!;
}
async function addVersion(workspaceId: string, modelId: string, version = 1) {
  const signature = { inputs: [], outputs: [], runtime: { loadable: true } } as unknown as OnnxSignature;
  const [v] = await getDb()
    .insert(modelVersions)
    .values({ workspaceId, modelId, version, sha256: `${modelId}-${version}`.padEnd(64, "0"), sizeBytes: 1, filename: "m.onnx", signature })
    .returning();
  return v!;
}

describe("inventory.update", () => {
  it("computes the tier from the answers and records model.inventory_updated with before and after, once per real change", async () => {
    const s = await setup();
    const m = await addModel(s.workspaceId, "credit-risk");
    const data = { ownerId: s.engineer.id, intendedUse: "Scores retail loan applicants for default risk.", riskAnswers: credit, revalidationDays: 365 };
    const entry = await callerFor(s.engineer).inventory.update({ workspaceId: s.workspaceId, name: "credit-risk", data });
    expect(entry).toMatchObject({ riskTier: "high", revalidationDays: 365, status: "current", owner: { id: s.engineer.id, member: true } });
    expect(entry.riskRationale).toMatch(/^High: a high-risk AI system under the EU AI Act because it is used for creditworthiness/);
    expect(entry.frameworks.map((f) => f.item)).toContain("Annex III 5(b)");

    const [first] = await auditFor(s.workspaceId, "model.inventory_updated");
    expect(first).toMatchObject({ targetType: "model", targetId: m.id, actorId: s.engineer.id });
    expect(first!.changes!.riskTier).toEqual([null, "high"]);
    expect(first!.changes!.ownerId).toEqual([null, s.engineer.id]);
    expect(first!.changes!.revalidationDays).toEqual([null, 365]);

    // The same again changes nothing and records nothing.
    await callerFor(s.engineer).inventory.update({ workspaceId: s.workspaceId, name: "credit-risk", data });
    expect(await auditFor(s.workspaceId, "model.inventory_updated")).toHaveLength(1);

    // A compliance officer re-assesses it and hands it over.
    const after = await callerFor(s.compliance).inventory.update({
      workspaceId: s.workspaceId,
      name: "credit-risk",
      data: { ...data, ownerId: s.compliance.id, riskAnswers: internal, revalidationDays: 730 },
    });
    expect(after.riskTier).toBe("low");
    const events = await auditFor(s.workspaceId, "model.inventory_updated");
    expect(events).toHaveLength(2);
    expect(events[1]!.changes).toMatchObject({ riskTier: ["high", "low"], ownerId: [s.engineer.id, s.compliance.id], revalidationDays: [365, 730] });
    expect(Object.keys(events[1]!.changes!)).not.toContain("intendedUse");
    // The Article 6(3) answers no longer asked are not kept.
    expect(after.riskAnswers).not.toHaveProperty("profiling");
  });

  it("refuses an owner who is not a member, a model of another workspace, an incomplete questionnaire and a viewer", async () => {
    const s = await setup();
    await addModel(s.workspaceId, "m1");
    const stranger = await createUser();
    const data = { ownerId: stranger.id, intendedUse: "Internal analytics dashboard.", riskAnswers: internal, revalidationDays: 365 };
    const err = await expectTrpcError(
      callerFor(s.engineer).inventory.update({ workspaceId: s.workspaceId, name: "m1", data }),
      "BAD_REQUEST",
      /owner must be an active member/,
    );
    expect((err.cause as { field?: string } | undefined)?.field ?? "ownerId").toBe("ownerId");
    const other = await createWorkspace();
    await addModel(other.workspace.id, "theirs");
    await expectTrpcError(
      callerFor(s.engineer).inventory.update({ workspaceId: s.workspaceId, name: "theirs", data: { ...data, ownerId: s.engineer.id } }),
      "NOT_FOUND",
    );
    await expectTrpcError(
      callerFor(s.engineer).inventory.update({
        workspaceId: s.workspaceId,
        name: "m1",
        data: { ...data, ownerId: s.engineer.id, riskAnswers: { ...internal, annexIII: "migration" } },
      }),
      "BAD_REQUEST",
      /narrowTask|Annex III/,
    );
    await expectTrpcError(
      callerFor(s.viewer).inventory.update({ workspaceId: s.workspaceId, name: "m1", data: { ...data, ownerId: s.engineer.id } }),
      "FORBIDDEN",
    );
    expect(await auditFor(s.workspaceId, "model.inventory_updated")).toHaveLength(0);
  });

  it("works the same through REST: PUT …/models/{name}/inventory, GET …/inventory as JSON or neutralised CSV", async () => {
    const s = await setup();
    await addModel(s.workspaceId, "scorer");
    const { token } = await createToken(s.engineer.wsActor, { workspaceId: s.workspaceId, name: "ci", role: "ml_engineer" });
    const slug = s.workspace.slug;
    const bad = await rest("PUT", `/workspaces/${slug}/models/scorer/inventory`, {
      token,
      json: { ownerId: s.engineer.id, intendedUse: "short", riskAnswers: internal, revalidationDays: 365 },
    });
    expect(bad.status).toBe(400);
    expect(bad.data.error!.message).toMatch(/intended use/i);
    const put = await rest("PUT", `/workspaces/${slug}/models/scorer/inventory`, {
      token,
      json: { ownerId: s.engineer.id, intendedUse: '=HYPERLINK("http://evil") internal scorer', riskAnswers: internal, revalidationDays: 365 },
    });
    expect(put.status).toBe(200);
    expect(put.data).toMatchObject({ riskTier: "low", status: "current" });
    const json = await rest("GET", `/workspaces/${slug}/inventory?tier=low`, { token });
    expect((json.data as unknown as { name: string }[]).map((e) => e.name)).toEqual(["scorer"]);
    const csv = await rest("GET", `/workspaces/${slug}/inventory?format=csv`, { token });
    expect(csv.headers.get("content-type")).toMatch(/^text\/csv/);
    expect(csv.text).toContain(`scorer,${s.engineer.name},${s.engineer.email},"'=HYPERLINK(""http://evil"") internal scorer",low,`);
    // Recording a revalidation is a compliance officer's act.
    expect((await rest("POST", `/workspaces/${slug}/models/scorer/revalidations`, { token, json: { note: "Annual review done" } })).status).toBe(403);
  });
});

describe("inventory.list", () => {
  it("computes due dates from the latest of recorded revalidation, approved review and passing run of the production version, and filters by tier, status and owner", async () => {
    const s = await setup();
    const now = new Date();
    const ago = (d: number) => new Date(now.getTime() - d * DAY);
    const assessed = (ownerId: string, tier: "high" | "medium" | "low", days: number) => ({
      ownerId,
      riskTier: tier,
      riskRationale: "r",
      revalidationDays: days,
      intendedUse: "use",
    });
    // Created 400 days ago, yearly, never revalidated: overdue.
    const overdue = await addModel(s.workspaceId, "a-overdue", { ...assessed(s.engineer.id, "high", 365), createdAt: ago(400) });
    // Recorded 355 days ago: due in 10 days.
    await addModel(s.workspaceId, "b-due-soon", { ...assessed(s.compliance.id, "medium", 365), createdAt: ago(500), lastRevalidatedAt: ago(355) });
    // Old recorded revalidation, but a review approved 30 days ago counts: current.
    const reviewed = await addModel(s.workspaceId, "c-reviewed", { ...assessed(s.engineer.id, "high", 365), createdAt: ago(800), lastRevalidatedAt: ago(700) });
    const rv = await addVersion(s.workspaceId, reviewed.id);
    await getDb()
      .insert(reviewRequests)
      .values({
        workspaceId: s.workspaceId,
        number: 1,
        modelId: reviewed.id,
        modelVersionId: rv.id,
        alias: "production",
        summary: "v1",
        status: "approved",
        requestedBy: s.engineer.id,
        closedAt: ago(30),
      });
    // A rejected review later does not count.
    await getDb()
      .insert(reviewRequests)
      .values({
        workspaceId: s.workspaceId,
        number: 2,
        modelId: reviewed.id,
        modelVersionId: rv.id,
        alias: "staging",
        summary: "v1",
        status: "rejected",
        requestedBy: s.engineer.id,
        closedAt: ago(1),
      });
    // A run of the version holding production that passed with warnings, 20 days ago, counts; a failed one later and a passing run of another version do not.
    const validated = await addModel(s.workspaceId, "d-validated", { ...assessed(s.engineer.id, "low", 180), createdAt: ago(900) });
    const [v1, v2] = [await addVersion(s.workspaceId, validated.id, 1), await addVersion(s.workspaceId, validated.id, 2)];
    await getDb().insert(modelAliases).values({ workspaceId: s.workspaceId, modelId: validated.id, alias: "production", modelVersionId: v1.id });
    const [p] = await getDb().insert(pipelines).values({ workspaceId: s.workspaceId, name: "validate", currentVersion: 1 }).returning();
    const [pv] = await getDb()
      .insert(pipelineVersions)
      .values({ workspaceId: s.workspaceId, pipelineId: p!.id, version: 1, yaml: "steps: []", spec: {} })
      .returning();
    const run = (number: number, modelVersionId: string, status: "passed" | "warned" | "failed", finishedAt: Date) => ({
      workspaceId: s.workspaceId,
      pipelineId: p!.id,
      pipelineVersionId: pv!.id,
      number,
      modelVersionId,
      trigger: "manual" as const,
      status,
      finishedAt,
    });
    await getDb()
      .insert(pipelineRuns)
      .values([run(10, v1.id, "passed", ago(40)), run(11, v1.id, "warned", ago(20)), run(12, v1.id, "failed", ago(2)), run(13, v2.id, "passed", ago(1))]);
    await addModel(s.workspaceId, "e-unassessed");

    const all = await listInventory(s.compliance.wsActor, {}, now);
    const by = Object.fromEntries(all.map((e) => [e.name, e]));
    expect(Object.fromEntries(all.map((e) => [e.name, e.status]))).toEqual({
      "a-overdue": "overdue",
      "b-due-soon": "due soon",
      "c-reviewed": "current",
      "d-validated": "current",
      "e-unassessed": "not assessed",
    });
    expect(by["a-overdue"]!.dueAt!.getTime()).toBe(overdue.createdAt.getTime() + 365 * DAY);
    expect(by["a-overdue"]!.lastRevalidatedVia).toBeNull();
    expect(by["c-reviewed"]!.lastRevalidatedVia).toMatchObject({ kind: "review", ref: 1 });
    expect(by["c-reviewed"]!.dueAt!.getTime()).toBe(ago(30).getTime() + 365 * DAY);
    expect(by["d-validated"]!.lastRevalidatedVia).toMatchObject({
      kind: "validation",
      ref: 11,
      label: "run #11 of the production version passed with warnings",
    });
    expect(by["d-validated"]!.dueAt!.getTime()).toBe(ago(20).getTime() + 180 * DAY);
    expect(by["e-unassessed"]!.dueAt).toBeNull();

    const names = async (f: Parameters<typeof listInventory>[1]) => (await listInventory(s.compliance.wsActor, f, now)).map((e) => e.name);
    expect(await names({ tier: "high" })).toEqual(["a-overdue", "c-reviewed"]);
    expect(await names({ tier: "unassessed" })).toEqual(["e-unassessed"]);
    expect(await names({ status: "due soon" })).toEqual(["b-due-soon"]);
    expect(await names({ owner: s.compliance.id })).toEqual(["b-due-soon"]);
    expect(await names({ owner: "none" })).toEqual(["e-unassessed"]);
    expect(await names({ tier: "high", status: "overdue", owner: s.engineer.id })).toEqual(["a-overdue"]);

    // The same entry for the report, by model id.
    expect(await inventoryOf(getDb(), reviewed.id, now)).toMatchObject({ name: "c-reviewed", status: "current", lastRevalidatedVia: { kind: "review" } });
    expect(await inventoryOf(getDb(), "00000000-0000-4000-8000-000000000000")).toBeNull();

    // Through tRPC, with the filter in the input; another workspace's models never appear.
    const other = await createWorkspace();
    await addModel(other.workspace.id, "a-overdue", { ...assessed(other.owner.id, "high", 30), createdAt: ago(400) });
    expect((await callerFor(s.viewer).inventory.list({ workspaceId: s.workspaceId, status: "overdue" })).map((e) => e.modelId)).toEqual([overdue.id]);
  });
});

describe("inventory.recordRevalidation", () => {
  it("lets a compliance officer record a revalidation with a note (audited), which moves the due date; refuses the future and ML engineers", async () => {
    const s = await setup();
    const m = await addModel(s.workspaceId, "churn", {
      ownerId: s.engineer.id,
      riskTier: "medium",
      riskRationale: "r",
      revalidationDays: 90,
      intendedUse: "use",
      createdAt: new Date(Date.now() - 200 * DAY),
    });
    const input = { workspaceId: s.workspaceId, name: "churn" };
    expect((await callerFor(s.compliance).inventory.get(input)).status).toBe("overdue");
    await expectTrpcError(callerFor(s.engineer).inventory.recordRevalidation({ ...input, data: { note: "Looked at it" } }), "FORBIDDEN");
    await expectTrpcError(
      callerFor(s.compliance).inventory.recordRevalidation({ ...input, data: { note: "Looked at it", at: new Date(Date.now() + 2 * DAY) } }),
      "BAD_REQUEST",
      /future/,
    );
    const entry = await callerFor(s.compliance).inventory.recordRevalidation({ ...input, data: { note: "Back-test on Q3 data, thresholds unchanged" } });
    expect(entry).toMatchObject({ status: "current", lastRevalidatedVia: { kind: "recorded" } });
    const [ev] = await auditFor(s.workspaceId, "model.revalidated");
    expect(ev).toMatchObject({ targetId: m.id, actorId: s.compliance.id });
    expect(ev!.metadata).toMatchObject({ name: "churn", note: "Back-test on Q3 data, thresholds unchanged", status: "overdue" });
    expect(ev!.changes!.lastRevalidatedAt![0]).toBeNull();
    // An earlier date than the one recorded would move it backwards.
    await expectTrpcError(
      callerFor(s.compliance).inventory.recordRevalidation({ ...input, data: { note: "Older one", at: new Date(Date.now() - 10 * DAY) } }),
      "BAD_REQUEST",
      /later revalidation/,
    );
  });
});

describe("inventory.revalidations job", () => {
  it("notifies the owner and compliance officers once per due date, records model.revalidation_due, and notifies again for the next due date", async () => {
    const s = await setup();
    const now = new Date();
    const m = await addModel(s.workspaceId, "pricing", {
      ownerId: s.engineer.id,
      riskTier: "high",
      riskRationale: "r",
      revalidationDays: 30,
      intendedUse: "use",
      createdAt: new Date(now.getTime() - 40 * DAY),
    });
    await addModel(s.workspaceId, "fresh", {
      ownerId: s.engineer.id,
      riskTier: "low",
      riskRationale: "r",
      revalidationDays: 365,
      intendedUse: "use",
      createdAt: now,
    });
    const mine = async () =>
      getDb()
        .select()
        .from(notifications)
        .where(and(eq(notifications.workspaceId, s.workspaceId), eq(notifications.kind, "revalidation")));
    // In chain order: the test reads the first and the second notice by position.
    const dueEvents = () =>
      getDb()
        .select()
        .from(auditEvents)
        .where(and(eq(auditEvents.workspaceId, s.workspaceId), eq(auditEvents.action, "model.revalidation_due")))
        .orderBy(auditEvents.seq);

    // Two workers at once, then a third run: one notice per recipient.
    await Promise.all([handleInventoryRevalidations(now), handleInventoryRevalidations(now)]);
    await handleInventoryRevalidations(new Date(now.getTime() + DAY));
    const sent = await mine();
    expect(sent.map((n) => n.userId).sort()).toEqual([s.engineer.id, s.compliance.id].sort());
    expect(sent[0]!.title).toMatch(/^Revalidation of pricing is overdue \(due \d{4}-\d{2}-\d{2}\)$/);
    expect(sent[0]!.link).toBe(`/w/${s.workspace.slug}/models/pricing`);
    const events = await dueEvents();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actorType: "system", actorId: "inventory.revalidations", targetId: m.id });
    expect(events[0]!.metadata).toMatchObject({
      name: "pricing",
      status: "overdue",
      notified: 2,
      dueAt: new Date(m.createdAt.getTime() + 30 * DAY).toISOString(),
    });

    // Revalidated today: the next due date is 30 days on; 20 days later it is due soon and notified once more.
    await callerFor(s.compliance).inventory.recordRevalidation({ workspaceId: s.workspaceId, name: "pricing", data: { note: "Back-test done" } });
    await handleInventoryRevalidations(new Date(now.getTime() + 5 * DAY));
    expect(await dueEvents()).toHaveLength(1);
    await handleInventoryRevalidations(new Date(now.getTime() + 20 * DAY));
    const again = await dueEvents();
    expect(again).toHaveLength(2);
    expect(again[1]!.metadata).toMatchObject({ status: "due soon" });
    expect(await mine()).toHaveLength(4);
  });
});

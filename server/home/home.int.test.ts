import { Readable } from "node:stream";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "~/db/client";
import { alertIncidents, deployments, notifications, pipelineRuns } from "~/db/schema";
import { createWorkspace } from "~/db/seed/factories";
import { logisticRegressionOnnx } from "~/db/seed/onnx-builder";
import type { WorkspaceActor } from "~/server/audit/actor";
import { mutate } from "~/server/audit/mutate";
import { fireSystemIncidentTx } from "~/server/monitoring/alerts.service";
import { uploadModelVersion } from "~/server/registry/models.service";
import { callerFor } from "~/test/helpers";
import { applyPolicy } from "~/test/reviews";

const RULES = {
  requiredApprovals: [{ role: "reviewer" as const, count: 1 }],
  minDistinctApprovers: 1,
};

async function pushVersions(actor: WorkspaceActor, n: number) {
  for (let i = 1; i <= n; i++)
    await uploadModelVersion(
      actor,
      { name: "risk", filename: "risk.onnx" },
      Readable.from([Buffer.from(logisticRegressionOnnx({ weights: [i, 1], bias: 0, featureNames: ["a", "b"] }))]),
    );
}

describe("home.needs", () => {
  it("shows a reviewer both reviews waiting for their signature, not the requester, and nothing from another workspace", async () => {
    const ws = await createWorkspace({ members: [{ role: "ml_engineer" }, { role: "reviewer" }, { role: "reviewer" }] });
    const [eng, rev, rev2] = ws.members;
    await pushVersions(eng!.wsActor, 3);
    await applyPolicy(ws, "production", RULES);
    const open = (by: { id: string; email: string }, version: number, assignees: string[]) =>
      callerFor(by).reviews.open({ workspaceId: ws.workspace.id, model: "risk", version, alias: "production", summary: `v${version}`, assignees });
    // One assigned to the reviewer; one opened by the second reviewer, where only the policy names the first one's role.
    const a = await open(eng!, 2, [rev!.id]);
    const b = await open(rev2!, 3, []);

    // The same reviewer is a member of another workspace with a review waiting there too.
    const other = await createWorkspace({ members: [{ role: "ml_engineer" }, { role: "reviewer", user: rev }] });
    await pushVersions(other.members[0]!.wsActor, 2);
    await applyPolicy(other, "production", RULES);
    await callerFor(other.members[0]!).reviews.open({
      workspaceId: other.workspace.id,
      model: "risk",
      version: 2,
      alias: "production",
      summary: "elsewhere",
      assignees: [rev!.id],
    });

    const needs = (u: { id: string; email: string }, workspaceId = ws.workspace.id) => callerFor(u).home.needs({ workspaceId });
    const mine = await needs(rev!);
    const toSign = mine.filter((i) => i.kind === "review_to_sign");
    expect(toSign.map((i) => i.href).sort()).toEqual([`/w/${ws.workspace.slug}/reviews/${a.number}`, `/w/${ws.workspace.slug}/reviews/${b.number}`].sort());
    expect(toSign.find((i) => i.href.endsWith(`/${a.number}`))!.detail).toContain("assigned to you");
    expect(toSign.find((i) => i.href.endsWith(`/${b.number}`))!.detail).toContain("your signature is needed");
    // Newest first.
    expect(mine.map((i) => i.at.getTime())).toEqual([...mine.map((i) => i.at.getTime())].sort((x, y) => y - x));
    // The assignment's unread notification is the same row, not a second one.
    expect(mine.filter((i) => i.href.endsWith(`/reviews/${a.number}`))).toHaveLength(1);
    // Unread notifications join the list, except those whose state is listed already (an alert's incident, an assignment).
    await getDb()
      .insert(notifications)
      .values([
        {
          userId: rev!.id,
          workspaceId: ws.workspace.id,
          kind: "mention",
          title: "Grace mentioned you",
          link: `/w/${ws.workspace.slug}/reviews/${a.number}#c1`,
        },
        { userId: rev!.id, workspaceId: ws.workspace.id, kind: "alert", title: "[warning] drift", link: `/w/${ws.workspace.slug}/deployments/x` },
        { userId: rev!.id, workspaceId: other.workspace.id, kind: "mention", title: "Mentioned elsewhere" },
      ]);
    const withNotes = await needs(rev!);
    expect(withNotes.filter((i) => i.kind === "notification").map((i) => i.title)).toEqual(["Grace mentioned you"]);
    // Nothing of the other workspace, whose review links carry its own slug.
    expect(mine.some((i) => i.href.includes(other.workspace.slug) || i.title.includes("elsewhere"))).toBe(false);
    expect((await needs(rev!, other.workspace.id)).filter((i) => i.kind === "review_to_sign")).toHaveLength(1);

    // A requester waits on others: the second reviewer, who could sign, does not see their own #b as waiting, only #a.
    expect((await needs(rev2!)).filter((i) => i.kind === "review_to_sign").map((i) => i.href)).toEqual([`/w/${ws.workspace.slug}/reviews/${a.number}`]);

    // The requester sees their open request with what it waits for and from whom.
    const waiting = (await needs(eng!)).filter((i) => i.kind === "review_waiting");
    expect(waiting.map((i) => [i.title, i.href])).toEqual([[`Your review #${a.number} waits for approval`, `/w/${ws.workspace.slug}/reviews/${a.number}`]]);
    expect(waiting[0]!.detail).toContain("risk v2 → production");
    expect(waiting[0]!.detail).toContain("needs 1 reviewer approval");
    expect(waiting[0]!.detail).toContain(`assigned to ${rev!.name}`);
    // News about their own review (a mention in its room) still shows beside the waiting row.
    await getDb()
      .insert(notifications)
      .values({
        userId: eng!.id,
        workspaceId: ws.workspace.id,
        kind: "mention",
        title: "A reviewer mentioned you",
        link: `/w/${ws.workspace.slug}/reviews/${a.number}`,
      });
    expect((await needs(eng!)).filter((i) => i.href === `/w/${ws.workspace.slug}/reviews/${a.number}`).map((i) => i.kind)).toEqual([
      "notification",
      "review_waiting",
    ]);

    // Once the reviewer asks for changes, it waits on the requester instead.
    await callerFor(rev!).reviews.requestChanges({ workspaceId: ws.workspace.id, number: b.number, reason: "Explain the drop on the north slice." });
    expect((await needs(rev!)).filter((i) => i.kind === "review_to_sign").map((i) => i.href)).toEqual([`/w/${ws.workspace.slug}/reviews/${a.number}`]);
    const changes = (await needs(rev2!)).filter((i) => i.kind === "changes_requested");
    expect(changes.map((i) => i.href)).toEqual([`/w/${ws.workspace.slug}/reviews/${b.number}`]);
    expect(changes[0]!.detail).toContain("Explain the drop on the north slice.");
    expect((await needs(eng!)).filter((i) => i.kind === "changes_requested")).toEqual([]);
    // Blocked, not waiting: one row for #b, the change request.
    expect((await needs(rev2!)).filter((i) => i.href.endsWith(`/reviews/${b.number}`)).map((i) => i.kind)).toEqual(["changes_requested"]);
  });

  it("lists a failed pipeline run to whoever registered the version, not to a viewer", async () => {
    // With the default validate pipeline, registering a version starts its run.
    const ws = await createWorkspace({ members: [{ role: "ml_engineer" }, { role: "viewer" }], defaultPipeline: true });
    const [eng, viewer] = ws.members;
    await pushVersions(eng!.wsActor, 1);
    const [run] = await getDb().select().from(pipelineRuns).where(eq(pipelineRuns.workspaceId, ws.workspace.id));
    expect(run).toBeTruthy();
    const needs = async (u: { id: string; email: string }) =>
      (await callerFor(u).home.needs({ workspaceId: ws.workspace.id })).filter((i) => i.kind === "run_failed").map((i) => i.href);
    expect(await needs(eng!)).toEqual([]);
    await getDb().update(pipelineRuns).set({ status: "failed", finishedAt: new Date() }).where(eq(pipelineRuns.id, run!.id));
    expect(await needs(eng!)).toEqual([`/w/${ws.workspace.slug}/pipelines/runs/${run!.id}`]);
    expect(await needs(viewer!)).toEqual([]);
  });

  it("shows open incidents and rollouts in progress to those who manage deployments, until resolved", async () => {
    const ws = await createWorkspace({ members: [{ role: "ops" }, { role: "ml_engineer" }] });
    const [ops, eng] = ws.members;
    await pushVersions(ws.owner.wsActor, 1);
    // No inference replica runs in tests: the deployment's first rollout stays pending.
    await callerFor(ws.owner).deployments.create({
      workspaceId: ws.workspace.id,
      name: "m-prod",
      environment: "prod",
      model: "risk",
      alias: "dev",
      version: 1,
    });
    const [d] = await getDb().select().from(deployments).where(eq(deployments.workspaceId, ws.workspace.id));
    await mutate({ type: "system", job: "test", workspaceId: ws.workspace.id }, (tx, audit) =>
      fireSystemIncidentTx(tx, audit, { deploymentId: d!.id, metric: "rollout_failed", message: "m-prod: the rollout failed" }),
    );
    const [incident] = await getDb().select().from(alertIncidents).where(eq(alertIncidents.deploymentId, d!.id));
    const kinds = async (u: { id: string; email: string }) =>
      (await callerFor(u).home.needs({ workspaceId: ws.workspace.id })).filter((i) => i.kind === "incident" || i.kind === "rollout");
    const seen = await kinds(ops!);
    expect(seen.map((i) => [i.kind, i.href])).toEqual(
      expect.arrayContaining([
        ["incident", `/w/${ws.workspace.slug}/monitoring/m-prod`],
        ["rollout", `/w/${ws.workspace.slug}/deployments/m-prod`],
      ]),
    );
    expect(seen.find((i) => i.kind === "incident")!.tone).toBe("failing");
    // An ML engineer who did not create the deployment is not on call for it.
    expect(await kinds(eng!)).toEqual([]);
    await callerFor(ops!).monitoring.resolveIncident({ workspaceId: ws.workspace.id, incidentId: incident!.id, note: "Handled." });
    expect((await kinds(ops!)).filter((i) => i.kind === "incident")).toEqual([]);
  });
});

describe("home.activity", () => {
  it("includes reviews and narrows to one area, with a link to each", async () => {
    const ws = await createWorkspace({ members: [{ role: "ml_engineer" }, { role: "reviewer" }] });
    const [eng, rev] = ws.members;
    await pushVersions(eng!.wsActor, 2);
    await applyPolicy(ws, "production", RULES);
    const { number } = await callerFor(eng!).reviews.open({
      workspaceId: ws.workspace.id,
      model: "risk",
      version: 2,
      alias: "production",
      summary: "v2",
      assignees: [rev!.id],
    });
    const all = await callerFor(rev!).home.activity({ workspaceId: ws.workspace.id });
    expect(all.map((e) => e.action)).toContain("review.opened");
    expect(all.map((e) => e.action)).toContain("model.version_registered");
    const reviews = await callerFor(rev!).home.activity({ workspaceId: ws.workspace.id, area: "reviews" });
    expect(reviews.map((e) => e.action)).toEqual(["review.opened"]);
    expect(reviews[0]!.href).toBe(`/w/${ws.workspace.slug}/reviews/${number}`);
  });
});

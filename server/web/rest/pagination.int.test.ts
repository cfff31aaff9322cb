import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createWorkspace } from "~/db/seed/factories";
import { logisticRegressionOnnx } from "~/db/seed/onnx-builder";
import { uploadDatasetVersion } from "~/server/registry/datasets.service";
import { uploadModelVersion } from "~/server/registry/models.service";
import { openReview } from "~/server/reviews/requests.service";
import { createToken } from "~/server/tokens/tokens.service";
import { mutate } from "~/server/audit/mutate";
import { fireSystemIncidentTx, resolveIncident } from "~/server/monitoring/alerts.service";
import { createDeployment } from "~/server/serving/deployments.service";
import { callerFor } from "~/test/helpers";
import { rest } from "~/test/rest-client";

describe("REST: paged lists with opaque cursors", () => {
  it("pages models and datasets by name, runs, reviews and incidents newest first, the cursor in X-Next-Cursor and Link, and refuses a foreign or broken cursor", async () => {
    const { workspace, owner } = await createWorkspace({ defaultPipeline: true });
    const { token } = await createToken(owner.wsActor, { workspaceId: workspace.id, name: "t", role: "owner" });
    const onnx = (w: number) => Readable.from([Buffer.from(logisticRegressionOnnx({ weights: [w, 1], bias: 0, featureNames: ["a", "b"] }))]);
    // Three models, one version each: three validation runs.
    for (const [i, name] of ["charlie", "alpha", "bravo"].entries()) await uploadModelVersion(owner.wsActor, { name, filename: "m.onnx" }, onnx(i + 1));
    const base = `/workspaces/${workspace.slug}`;

    const walk = async (path: string) => {
      const pages: unknown[][] = [];
      let next: string | null = path;
      while (next) {
        const r = await rest("GET", next, { token });
        expect(r.status, JSON.stringify(r.data)).toBe(200);
        pages.push(r.data as unknown as unknown[]);
        const cursor = r.headers.get("x-next-cursor");
        if (cursor) expect(r.headers.get("link")).toMatch(new RegExp(`^</api/v1${path.split("?")[0]}\\?.*cursor=${cursor}.*>; rel="next"$`));
        next = cursor ? `${path}&cursor=${encodeURIComponent(cursor)}` : null;
      }
      return pages;
    };
    const models = await walk(`${base}/models?limit=2`);
    expect(models.map((p) => (p as { name: string }[]).map((m) => m.name))).toEqual([["alpha", "bravo"], ["charlie"]]);
    const runs = await walk(`${base}/runs?limit=2`);
    expect(runs.map((p) => (p as { number: number }[]).map((r) => r.number))).toEqual([[3, 2], [1]]);
    // Reviews newest first (one per model, for production), datasets by name.
    for (const name of ["alpha", "bravo", "charlie"]) await openReview(owner.wsActor, { model: name, version: 1, alias: "production", summary: "x" });
    const reviews = await walk(`${base}/reviews?status=open&limit=2`);
    expect(reviews.map((p) => (p as { number: number }[]).map((r) => r.number))).toEqual([[3, 2], [1]]);
    for (const name of ["zulu", "yankee"]) await uploadDatasetVersion(owner.wsActor, { name, filename: "d.csv" }, Readable.from([Buffer.from("x,y\n1,0\n")]));
    const datasets = await walk(`${base}/datasets?limit=1`);
    expect(datasets.map((p) => (p as { name: string }[]).map((d) => d.name))).toEqual([["yankee"], ["zulu"]]);
    // Incidents newest first, paged by the exact time they opened (three in a row of one rule).
    const { id: deploymentId } = await createDeployment(owner.wsActor, {
      name: "a-prod",
      environment: "prod",
      model: "alpha",
      alias: "dev",
      follow: false,
      version: 1,
    });
    const opened: string[] = [];
    for (let i = 0; i < 3; i++) {
      const [incident] = await mutate({ type: "system", job: "test", workspaceId: workspace.id }, (tx, audit) =>
        fireSystemIncidentTx(tx, audit, { deploymentId, metric: "rollout_failed", message: `failure ${i}` }),
      ).then(() => rest("GET", `${base}/incidents?status=open`, { token }).then((r) => r.data as unknown as { id: string }[]));
      opened.unshift(incident!.id);
      await resolveIncident(owner.wsActor, { incidentId: incident!.id, note: "next" });
    }
    const incidents = await walk(`${base}/incidents?status=resolved&limit=2`);
    expect(incidents.map((p) => (p as { id: string }[]).map((i) => i.id))).toEqual([opened.slice(0, 2), opened.slice(2)]);
    expect(JSON.stringify(incidents)).not.toContain("pageKey");
    // Deployments by name, filtered by model or environment; members by name (ties broken by id), filtered by role.
    await createDeployment(owner.wsActor, { name: "c-staging", environment: "staging", model: "charlie", alias: "dev", follow: false, version: 1 });
    await createDeployment(owner.wsActor, { name: "b-prod", environment: "prod", model: "bravo", alias: "dev", follow: false, version: 1 });
    const deps = await walk(`${base}/deployments?limit=2`);
    expect(deps.map((p) => (p as { name: string }[]).map((d) => d.name))).toEqual([["a-prod", "b-prod"], ["c-staging"]]);
    expect((await walk(`${base}/deployments?environment=prod&limit=1`)).map((p) => (p as { name: string }[]).map((d) => d.name))).toEqual([
      ["a-prod"],
      ["b-prod"],
    ]);
    expect((await rest("GET", `${base}/deployments?model=charlie`, { token })).data).toMatchObject([{ name: "c-staging", environment: "staging" }]);
    expect((await rest("GET", `${base}/deployments?status=paused`, { token })).data.error).toMatchObject({ field: "status" });
    const team = await createWorkspace({ members: [{ role: "reviewer" }, { role: "reviewer" }, { role: "viewer" }] });
    const { token: teamToken } = await createToken(team.owner.wsActor, { workspaceId: team.workspace.id, name: "t", role: "owner" });
    const teamWalk = async (path: string) => {
      const seen: string[][] = [];
      let next: string | null = path;
      while (next) {
        const r = await rest("GET", next, { token: teamToken });
        expect(r.status, JSON.stringify(r.data)).toBe(200);
        seen.push((r.data as unknown as { userId: string }[]).map((m) => m.userId));
        const cursor = r.headers.get("x-next-cursor");
        next = cursor ? `${path}&cursor=${encodeURIComponent(cursor)}` : null;
      }
      return seen;
    };
    const everyone = [team.owner, ...team.members].sort((a, b) => (a.name === b.name ? (a.id < b.id ? -1 : 1) : a.name < b.name ? -1 : 1)).map((u) => u.id);
    expect((await teamWalk(`/workspaces/${team.workspace.slug}/members?limit=3`)).flat()).toEqual(everyone);
    expect(await teamWalk(`/workspaces/${team.workspace.slug}/members?limit=3`)).toHaveLength(2);
    expect((await teamWalk(`/workspaces/${team.workspace.slug}/members?role=reviewer&limit=1`)).flat().sort()).toEqual(
      team.members
        .slice(0, 2)
        .map((m) => m.id)
        .sort(),
    );
    const modelsCursor = (await rest("GET", `${base}/models?limit=1`, { token })).headers.get("x-next-cursor")!;
    expect((await rest("GET", `/workspaces/${team.workspace.slug}/members?cursor=${encodeURIComponent(modelsCursor)}`, { token: teamToken })).status).toBe(400);

    // Without a limit: one page of up to 100, no cursor.
    const all = await rest("GET", `${base}/models`, { token });
    expect([(all.data as unknown as unknown[]).length, all.headers.get("x-next-cursor")]).toEqual([3, null]);

    const runsCursor = (await rest("GET", `${base}/runs?limit=1`, { token })).headers.get("x-next-cursor")!;
    for (const cursor of [runsCursor, "garbage"]) {
      const r = await rest("GET", `${base}/models?cursor=${encodeURIComponent(cursor)}`, { token });
      expect([r.status, r.data.error?.field]).toEqual([400, "cursor"]);
    }
    expect((await rest("GET", `${base}/runs?limit=501`, { token })).data.error).toMatchObject({ field: "limit" });
  });

  it("pages the UI's tables through tRPC with the same cursors: every model, run, review, deployment and member reachable", async () => {
    const { workspace, owner } = await createWorkspace({ defaultPipeline: true, members: [{ role: "viewer" }, { role: "reviewer" }] });
    const onnx = (w: number) => Readable.from([Buffer.from(logisticRegressionOnnx({ weights: [w, 1], bias: 0, featureNames: ["a", "b"] }))]);
    for (const [i, name] of ["delta", "alpha", "charlie", "bravo", "echo"].entries())
      await uploadModelVersion(owner.wsActor, { name, filename: "m.onnx" }, onnx(i + 1));
    const api = callerFor(owner);
    const workspaceId = workspace.id;
    /** Follows nextCursor to the end; returns each page's keys. */
    async function walk<T>(fetch: (cursor: string | null) => Promise<{ items: T[]; nextCursor: string | null }>, key: (t: T) => unknown) {
      const pages: unknown[][] = [];
      let cursor: string | null = null;
      do {
        const page = await fetch(cursor);
        pages.push(page.items.map(key));
        cursor = page.nextCursor;
      } while (cursor);
      return pages;
    }
    expect(
      await walk(
        (cursor) => api.models.page({ workspaceId, limit: 2, cursor }),
        (m) => m.name,
      ),
    ).toEqual([["alpha", "bravo"], ["charlie", "delta"], ["echo"]]);
    expect(
      await walk(
        (cursor) => api.runs.page({ workspaceId, limit: 3, cursor }),
        (r) => r.number,
      ),
    ).toEqual([
      [5, 4, 3],
      [2, 1],
    ]);
    for (const name of ["alpha", "bravo", "charlie"]) await openReview(owner.wsActor, { model: name, version: 1, alias: "production", summary: "x" });
    expect(
      await walk(
        (cursor) => api.reviews.page({ workspaceId, status: "open", limit: 2, cursor }),
        (r) => r.number,
      ),
    ).toEqual([[3, 2], [1]]);
    for (const name of ["echo", "alpha"])
      await createDeployment(owner.wsActor, { name: `${name}-prod`, environment: "prod", model: name, alias: "dev", follow: false, version: 1 });
    expect(
      await walk(
        (cursor) => api.deployments.page({ workspaceId, limit: 1, cursor }),
        (d) => d.name,
      ),
    ).toEqual([["alpha-prod"], ["echo-prod"]]);
    expect(
      (
        await walk(
          (cursor) => api.members.page({ workspaceId, limit: 2, cursor }),
          (m) => m.userId,
        )
      ).flat(),
    ).toHaveLength(3);
    expect(
      await walk(
        (cursor) => api.datasets.page({ workspaceId, cursor }),
        (d) => d.name,
      ),
    ).toEqual([[]]);
    // One list's cursor is refused by another, naming the field.
    const { nextCursor } = await api.models.page({ workspaceId, limit: 1 });
    await expect(api.runs.page({ workspaceId, cursor: nextCursor })).rejects.toThrow(/cursor is not a cursor of this list/);
  });

  it("lists a model's versions newest first, narrowed by an MLflow-style filter, paged, and names a filter it cannot read", async () => {
    const { workspace, owner } = await createWorkspace();
    const { token } = await createToken(owner.wsActor, { workspaceId: workspace.id, name: "t", role: "owner" });
    const push = (w: number, meta: unknown) =>
      uploadModelVersion(
        owner.wsActor,
        { name: "scorer", filename: "m.onnx", meta },
        Readable.from([Buffer.from(logisticRegressionOnnx({ weights: [w, 1], bias: 0, featureNames: ["a", "b"] }))]),
      );
    await push(1, { metrics: { auc: 0.71 }, params: { solver: "lbfgs" }, tags: ["baseline"] });
    await push(2, { metrics: { auc: 0.83, log_loss: 0.41 }, params: { solver: "saga" }, tags: ["candidate"] });
    await push(3, { metrics: { auc: 0.88 }, params: { solver: "saga" }, tags: ["candidate", "gpu"] });
    await push(4, { params: { solver: "saga" } });
    const base = `/workspaces/${workspace.slug}/models/scorer/versions`;
    const versions = async (filter?: string, extra = "") => {
      const r = await rest("GET", `${base}?${new URLSearchParams(filter ? { filter } : {})}${extra}`, { token });
      expect(r.status, JSON.stringify(r.data)).toBe(200);
      return (r.data as unknown as { version: number }[]).map((v) => v.version);
    };
    expect(await versions()).toEqual([4, 3, 2, 1]);
    expect(await versions("metrics.auc >= 0.8")).toEqual([3, 2]);
    expect(await versions("metrics.auc >= 0.8 and tag = 'gpu'")).toEqual([3]);
    expect(await versions("params.solver = 'saga' and metrics.log_loss < 0.5")).toEqual([2]);
    expect(await versions("params.solver != 'saga'")).toEqual([1]);
    expect(await versions("loadable = true and tag = 'baseline'")).toEqual([1]);
    // Paged: the cursor walks to the oldest version the filter keeps.
    const first = await rest("GET", `${base}?limit=1&filter=${encodeURIComponent("tag = 'candidate'")}`, { token });
    const next = first.headers.get("x-next-cursor")!;
    expect([
      (first.data as unknown as { version: number }[])[0]!.version,
      await versions("tag = 'candidate'", `&limit=1&cursor=${encodeURIComponent(next)}`),
    ]).toEqual([3, [2]]);
    // tRPC pages the same list for the UI.
    const page = await callerFor(owner).models.versions({ workspaceId: workspace.id, name: "scorer", filter: "metrics.auc > 0.7", limit: 2 });
    expect([page.items.map((v) => v.version), typeof page.nextCursor]).toEqual([[3, 2], "string"]);
    // A clause it cannot read is a 400 naming `filter` and the clause.
    const bad = await rest("GET", `${base}?filter=${encodeURIComponent("metrics.auc >= high")}`, { token });
    expect([bad.status, bad.data.error?.field]).toEqual([400, "filter"]);
    expect(bad.data.error?.message).toContain('"metrics.auc >= high" is not a clause');
  });
});

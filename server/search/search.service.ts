import "server-only";
import { and, asc, desc, eq, ilike, or, sql } from "drizzle-orm";
import { getDb } from "~/db/client";
import { datasets, deployments, memberships, modelAliases, models, modelVersions, pipelineRuns, pipelines, reviewRequests, users } from "~/db/schema";
import type { WorkspaceActor } from "~/server/audit/actor";
import { can } from "~/server/shared/permissions";
import type { SearchHit } from "~/server/shared/search.schema";

/** Hits per kind at most: the palette shows a short list per group. */
const PER_KIND = 6;

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);
const enc = encodeURIComponent;

/**
 * The palette's search over the actor's workspace only (every query is scoped by
 * actor.workspaceId): models, versions ("credit-risk@3"), aliases, datasets, pipelines,
 * deployments, reviews ("#2" or words of their summary) and people. Kinds the actor's role
 * may not read are left out.
 */
export async function search(actor: WorkspaceActor, q: string): Promise<SearchHit[]> {
  const text = q.trim();
  if (!text) return [];
  const db = getDb();
  const ws = actor.workspaceId;
  const like = `%${escapeLike(text)}%`;
  const hits: Promise<SearchHit[]>[] = [];
  const registry = can(actor.role, "registry:read");
  const reviewNumber = /^#?(\d{1,9})$/.exec(text)?.[1];
  const versionRef = /^(.*)@(\d{1,9})$/.exec(text);

  if (registry) {
    hits.push(
      db
        .select({ id: models.id, name: models.name, description: models.description })
        .from(models)
        .where(and(eq(models.workspaceId, ws), or(ilike(models.name, like), ilike(sql`coalesce(${models.description}, '')`, like))))
        .orderBy(asc(models.name))
        .limit(PER_KIND)
        .then((rows) => rows.map((m) => ({ kind: "model", id: m.id, title: m.name, detail: m.description, href: `/models/${enc(m.name)}` }))),
    );
    // "credit-risk@3", "credit@3" or "@3": versions by model name and number.
    if (versionRef) {
      const [, name, v] = versionRef;
      hits.push(
        db
          .select({ id: modelVersions.id, name: models.name, version: modelVersions.version })
          .from(modelVersions)
          .innerJoin(models, eq(models.id, modelVersions.modelId))
          .where(and(eq(models.workspaceId, ws), eq(modelVersions.version, Number(v)), ilike(models.name, `%${escapeLike(name!)}%`)))
          .orderBy(asc(models.name))
          .limit(PER_KIND)
          .then((rows) =>
            rows.map((r) => ({
              kind: "version",
              id: r.id,
              title: `${r.name}@${r.version}`,
              detail: "Model version",
              href: `/models/${enc(r.name)}?v=${r.version}`,
            })),
          ),
      );
    }
    hits.push(
      db
        .select({ id: modelAliases.id, alias: modelAliases.alias, name: models.name, version: modelVersions.version })
        .from(modelAliases)
        .innerJoin(models, eq(models.id, modelAliases.modelId))
        .innerJoin(modelVersions, eq(modelVersions.id, modelAliases.modelVersionId))
        .where(and(eq(modelAliases.workspaceId, ws), ilike(modelAliases.alias, like)))
        .orderBy(asc(models.name), asc(modelAliases.alias))
        .limit(PER_KIND)
        .then((rows) =>
          rows.map((r) => ({
            kind: "alias",
            id: r.id,
            title: `${r.name} › ${r.alias}`,
            detail: `Alias on v${r.version}`,
            href: `/models/${enc(r.name)}?v=${r.version}`,
          })),
        ),
    );
    hits.push(
      db
        .select({ id: datasets.id, name: datasets.name })
        .from(datasets)
        .where(and(eq(datasets.workspaceId, ws), ilike(datasets.name, like)))
        .orderBy(asc(datasets.name))
        .limit(PER_KIND)
        .then((rows) => rows.map((r) => ({ kind: "dataset", id: r.id, title: r.name, detail: "Dataset", href: `/datasets/${enc(r.name)}` }))),
    );
    hits.push(
      db
        .select({ id: pipelines.id, name: pipelines.name })
        .from(pipelines)
        .where(and(eq(pipelines.workspaceId, ws), ilike(pipelines.name, like)))
        .orderBy(asc(pipelines.name))
        .limit(PER_KIND)
        .then((rows) => rows.map((r) => ({ kind: "pipeline", id: r.id, title: r.name, detail: "Pipeline", href: `/pipelines/${enc(r.name)}` }))),
    );
    hits.push(
      db
        .select({ id: deployments.id, name: deployments.name, status: deployments.status, model: models.name })
        .from(deployments)
        .innerJoin(models, eq(models.id, deployments.modelId))
        .where(and(eq(deployments.workspaceId, ws), or(ilike(deployments.name, like), ilike(models.name, like))))
        .orderBy(asc(deployments.name))
        .limit(PER_KIND)
        .then((rows) =>
          rows.map((r) => ({
            kind: "deployment",
            id: r.id,
            title: r.name,
            detail: `Deployment of ${r.model} · ${r.status}`,
            href: `/deployments/${enc(r.name)}`,
          })),
        ),
    );
    hits.push(
      db
        .select({
          id: reviewRequests.id,
          number: reviewRequests.number,
          summary: reviewRequests.summary,
          alias: reviewRequests.alias,
          status: reviewRequests.status,
        })
        .from(reviewRequests)
        .where(
          and(
            eq(reviewRequests.workspaceId, ws),
            reviewNumber ? eq(reviewRequests.number, Number(reviewNumber)) : or(ilike(reviewRequests.summary, like), ilike(reviewRequests.alias, like)),
          ),
        )
        .orderBy(desc(reviewRequests.number))
        .limit(PER_KIND)
        .then((rows) =>
          rows.map((r) => ({
            kind: "review",
            id: r.id,
            title: `#${r.number} ${r.summary}`,
            detail: `Review for ${r.alias} · ${r.status}`,
            href: `/reviews/${r.number}`,
          })),
        ),
    );
    // "#2" is also run #2 of each pipeline.
    if (reviewNumber)
      hits.push(
        db
          .select({ id: pipelineRuns.id, number: pipelineRuns.number, status: pipelineRuns.status, pipeline: pipelines.name })
          .from(pipelineRuns)
          .innerJoin(pipelines, eq(pipelines.id, pipelineRuns.pipelineId))
          .where(and(eq(pipelineRuns.workspaceId, ws), eq(pipelineRuns.number, Number(reviewNumber))))
          .orderBy(asc(pipelines.name))
          .limit(PER_KIND)
          .then((rows) =>
            rows.map((r) => ({
              kind: "run",
              id: r.id,
              title: `${r.pipeline} run #${r.number}`,
              detail: `Pipeline run · ${r.status}`,
              href: `/pipelines/runs/${r.id}`,
            })),
          ),
      );
  }
  if (can(actor.role, "member:read")) {
    hits.push(
      db
        .select({ id: users.id, name: users.name, email: users.email, role: memberships.role })
        .from(memberships)
        .innerJoin(users, eq(users.id, memberships.userId))
        .where(and(eq(memberships.workspaceId, ws), or(ilike(users.name, like), ilike(users.email, like))))
        .orderBy(asc(users.name))
        .limit(PER_KIND)
        .then((rows) => rows.map((r) => ({ kind: "person", id: r.id, title: r.name, detail: `${r.email} · ${r.role}`, href: "/settings/members" }))),
    );
  }
  return (await Promise.all(hits)).flat();
}

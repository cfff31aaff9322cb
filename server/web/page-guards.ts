import "server-only";
import { and, eq } from "drizzle-orm";
import { notFound } from "next/navigation";
import { getDb } from "~/db/client";
import { datasets, deployments, models, modelVersions, pipelineRuns, pipelines, reviewRequests } from "~/db/schema";
import { findMembership } from "~/server/identity/workspaces.service";
import { getSessionUser } from "./auth/session";

/** What a detail page is about: it answers HTTP 404 (and the not-found page) when that does not exist. */
export type PageSubject =
  { model: string; version?: number } | { dataset: string } | { deployment: string } | { review: number } | { run: string } | { pipeline: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Called by a detail page before it renders: a model, version, dataset, deployment, review,
 * run or pipeline that is not in the workspace is a real 404 (status and page), not a 200
 * with an error box. Without a session or a membership it does nothing: the workspace layout
 * redirects to sign-in or answers 404 itself.
 */
export async function ensurePageSubject(slug: string, s: PageSubject): Promise<void> {
  const session = await getSessionUser();
  if (!session) return;
  const ws = await findMembership(session.id, { slug });
  if (!ws) return;
  const db = getDb();
  const exists = async (q: Promise<unknown[]>) => (await q).length > 0;
  let found: boolean;
  if ("model" in s) {
    if (s.version !== undefined && (!Number.isSafeInteger(s.version) || s.version < 1)) notFound();
    found =
      s.version === undefined
        ? await exists(
            db
              .select({ id: models.id })
              .from(models)
              .where(and(eq(models.workspaceId, ws.id), eq(models.name, s.model))),
          )
        : await exists(
            db
              .select({ id: modelVersions.id })
              .from(modelVersions)
              .innerJoin(models, eq(models.id, modelVersions.modelId))
              .where(and(eq(models.workspaceId, ws.id), eq(models.name, s.model), eq(modelVersions.version, s.version))),
          );
  } else if ("dataset" in s) {
    found = await exists(
      db
        .select({ id: datasets.id })
        .from(datasets)
        .where(and(eq(datasets.workspaceId, ws.id), eq(datasets.name, s.dataset))),
    );
  } else if ("deployment" in s) {
    found = await exists(
      db
        .select({ id: deployments.id })
        .from(deployments)
        .where(and(eq(deployments.workspaceId, ws.id), eq(deployments.name, s.deployment))),
    );
  } else if ("review" in s) {
    if (!Number.isSafeInteger(s.review) || s.review < 1) notFound();
    found = await exists(
      db
        .select({ id: reviewRequests.id })
        .from(reviewRequests)
        .where(and(eq(reviewRequests.workspaceId, ws.id), eq(reviewRequests.number, s.review))),
    );
  } else if ("run" in s) {
    if (!UUID.test(s.run)) notFound();
    found = await exists(
      db
        .select({ id: pipelineRuns.id })
        .from(pipelineRuns)
        .where(and(eq(pipelineRuns.workspaceId, ws.id), eq(pipelineRuns.id, s.run))),
    );
  } else {
    found = await exists(
      db
        .select({ id: pipelines.id })
        .from(pipelines)
        .where(and(eq(pipelines.workspaceId, ws.id), eq(pipelines.name, s.pipeline))),
    );
  }
  if (!found) notFound();
}

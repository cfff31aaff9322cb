import "server-only";
import { and, asc, desc, eq, inArray, lt, ne, sql } from "drizzle-orm";
import { getDb } from "~/db/client";
import {
  auditEvents,
  datasets,
  datasetVersions,
  modelCardRevisions,
  models,
  modelVersionDatasets,
  modelVersions,
  reviewAssignees,
  reviewCommentEdits,
  reviewComments,
  reviewRequests,
  stepRuns,
  users,
} from "~/db/schema";
import type { WorkspaceActor } from "~/server/audit/actor";
import { compareVersions } from "~/server/registry/models.service";
import { factsFor, memberRoles, requestByNumber, validationOf } from "./loading";
import { verifySignatureRecord } from "./signature-record";

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

/** Newest first; `before` (a review number) pages to older ones. */
export async function listReviews(actor: WorkspaceActor, opts: { status?: "open" | "closed"; before?: number; limit?: number } = {}) {
  const rows = await getDb()
    .select({ r: reviewRequests, model: models.name, version: modelVersions.version, requester: users.name })
    .from(reviewRequests)
    .innerJoin(models, eq(models.id, reviewRequests.modelId))
    .innerJoin(modelVersions, eq(modelVersions.id, reviewRequests.modelVersionId))
    .innerJoin(users, eq(users.id, reviewRequests.requestedBy))
    .where(
      and(
        eq(reviewRequests.workspaceId, actor.workspaceId),
        opts.status === "open" ? eq(reviewRequests.status, "open") : opts.status === "closed" ? ne(reviewRequests.status, "open") : undefined,
        opts.before ? lt(reviewRequests.number, opts.before) : undefined,
      ),
    )
    .orderBy(desc(reviewRequests.number))
    .limit(opts.limit ?? 200);
  const out = [];
  const closedHolders = [...new Set(rows.filter((x) => x.r.status !== "open" && x.r.supersededByVersionId).map((x) => x.r.supersededByVersionId!))];
  const closedNumbers = new Map(
    closedHolders.length
      ? (
          await getDb().select({ id: modelVersions.id, version: modelVersions.version }).from(modelVersions).where(inArray(modelVersions.id, closedHolders))
        ).map((x) => [x.id, x.version])
      : [],
  );
  for (const { r, model, version, requester } of rows) {
    const f = r.status === "open" ? await factsFor(getDb(), r) : null;
    const sup = f
      ? f.superseded
      : r.supersededAt
        ? {
            at: r.supersededAt,
            holderVersion: closedNumbers.get(r.supersededByVersionId ?? "") ?? null,
            alreadyHolds: r.supersededByVersionId === r.modelVersionId,
          }
        : null;
    out.push({
      number: r.number,
      model,
      version,
      alias: r.alias,
      summary: r.summary,
      status: r.status,
      requester,
      createdAt: r.createdAt,
      closedAt: r.closedAt,
      round: r.round,
      superseded: sup ? { at: sup.at, holderVersion: sup.holderVersion, alreadyHolds: sup.alreadyHolds } : null,
      missing: f?.state?.checklist.filter((c) => !c.ok).map((c) => c.text) ?? [],
    });
  }
  return out;
}

/** Everything the review room shows, in one read. */
export async function getRoom(actor: WorkspaceActor, number: number) {
  const db = getDb();
  const r = await requestByNumber(db, actor.workspaceId, number);
  const [m] = await db.select().from(models).where(eq(models.id, r.modelId));
  const [v] = await db.select().from(modelVersions).where(eq(modelVersions.id, r.modelVersionId));
  const baseline = r.baselineVersionId ? (await db.select().from(modelVersions).where(eq(modelVersions.id, r.baselineVersionId)))[0] : undefined;
  const f = await factsFor(db, r);
  const people = await db
    .select({ id: users.id, name: users.name, email: users.email })
    .from(users)
    .where(inArray(users.id, [r.requestedBy, ...(r.closedBy ? [r.closedBy] : [])]));
  const name = (id: string | null) => people.find((p) => p.id === id)?.name ?? null;
  const assignees = await db
    .select({ id: users.id, name: users.name })
    .from(reviewAssignees)
    .innerJoin(users, eq(users.id, reviewAssignees.userId))
    .where(eq(reviewAssignees.requestId, r.id));
  const cardRevisions = await db
    .select({ revision: modelCardRevisions.revision, editedBy: users.name, at: modelCardRevisions.createdAt })
    .from(modelCardRevisions)
    .leftJoin(users, eq(users.id, modelCardRevisions.editedBy))
    .where(eq(modelCardRevisions.modelVersionId, r.modelVersionId))
    .orderBy(desc(modelCardRevisions.revision));
  const comments = await db
    .select({
      c: reviewComments,
      author: users.name,
      authorEmail: users.email,
      edits: sql<number>`(select count(*)::int from ${reviewCommentEdits} e where e.comment_id = ${reviewComments.id})`,
    })
    .from(reviewComments)
    .innerJoin(users, eq(users.id, reviewComments.authorId))
    .where(eq(reviewComments.requestId, r.id))
    .orderBy(asc(reviewComments.createdAt));
  const threads = comments
    .filter((x) => x.c.threadId === x.c.id)
    .map((root) => ({
      id: root.c.id,
      anchor: root.c.anchor,
      resolvedAt: root.c.resolvedAt,
      comments: comments
        .filter((x) => x.c.threadId === root.c.id)
        .map((x) => ({
          id: x.c.id,
          authorId: x.c.authorId,
          author: x.author,
          authorEmail: x.authorEmail,
          body: x.c.body,
          createdAt: x.c.createdAt,
          editedAt: x.c.editedAt,
          edits: x.edits,
        })),
    }));
  const baselineValidation = baseline ? await validationOf(db, baseline.id) : null;
  const lineage = await db
    .select({
      role: modelVersionDatasets.role,
      name: datasets.name,
      version: datasetVersions.version,
      sha256: datasetVersions.sha256,
      rows: datasetVersions.rowCount,
    })
    .from(modelVersionDatasets)
    .innerJoin(datasetVersions, eq(datasetVersions.id, modelVersionDatasets.datasetVersionId))
    .innerJoin(datasets, eq(datasets.id, datasetVersions.datasetId))
    .where(eq(modelVersionDatasets.modelVersionId, r.modelVersionId));
  const diff = baseline ? await compareVersions(actor, m!.name, baseline.version, v!.version).catch(() => null) : null;
  const activity = await db
    .select({
      seq: auditEvents.seq,
      action: auditEvents.action,
      actorLabel: auditEvents.actorLabel,
      actorName: users.name,
      actorType: auditEvents.actorType,
      metadata: auditEvents.metadata,
      changes: auditEvents.changes,
      occurredAt: auditEvents.occurredAt,
      hash: auditEvents.hash,
    })
    .from(auditEvents)
    .leftJoin(users, and(eq(auditEvents.actorType, "user"), sql`${users.id}::text = ${auditEvents.actorId}`))
    .where(and(eq(auditEvents.workspaceId, actor.workspaceId), eq(auditEvents.targetType, "review_request"), eq(auditEvents.targetId, r.id)))
    .orderBy(desc(auditEvents.seq))
    .limit(200);
  const members = await memberRoles(db, actor.workspaceId);
  // What the validation run's evaluate step measured, to set beside the metrics the uploader reported.
  const [evaluated] = f.ev.validation
    ? await db
        .select({ outputs: stepRuns.outputs })
        .from(stepRuns)
        .where(and(eq(stepRuns.runId, f.ev.validation.run.id), eq(stepRuns.type, "evaluate")))
        .limit(1)
    : [];
  const measuredRaw = evaluated?.outputs?.metrics;
  const measured =
    measuredRaw && typeof measuredRaw === "object"
      ? Object.fromEntries(Object.entries(measuredRaw as Record<string, unknown>).filter((e): e is [string, number] => typeof e[1] === "number"))
      : null;
  return {
    id: r.id,
    number: r.number,
    status: r.status,
    alias: r.alias,
    summary: r.summary,
    requestedBy: { id: r.requestedBy, name: name(r.requestedBy) },
    createdAt: r.createdAt,
    closedAt: r.closedAt,
    closedBy: name(r.closedBy),
    closedReason: r.closedReason,
    assignees,
    model: { id: m!.id, name: m!.name },
    version: { id: v!.id, version: v!.version, sha256: v!.sha256, metrics: v!.metrics, createdBy: v!.createdBy, description: v!.description },
    baseline: baseline ? { version: baseline.version, metrics: baseline.metrics, checks: baselineValidation?.checks ?? [] } : null,
    card: f.ev.card ? { revision: f.ev.card.revision, markdown: f.ev.card.markdown, sha256: f.ev.card.sha256 } : null,
    cardRevisions,
    validation: f.ev.validation ? { run: f.ev.validation.run, checks: f.ev.validation.checks } : null,
    /** Metrics measured by the validation run's evaluate step (null: none ran or it produced none). */
    measured,
    evidenceHash: f.ev.evidenceHash,
    policy: f.policy,
    state: f.state,
    round: r.round,
    /** The alias moved under this request: who holds it now, since when; null when current. */
    superseded: f.superseded ? { at: f.superseded.at, holderVersion: f.superseded.holderVersion, alreadyHolds: f.superseded.alreadyHolds } : null,
    holder: f.holder ? { version: f.holder.version, since: f.holder.since } : null,
    signatures: f.sigs.map((s) => ({
      ...s,
      stale: f.state?.stale.some((x) => x.signerId === s.signerId && x.signedAt.getTime() === s.signedAt.getTime()) ?? false,
      current: s.evidenceHash === f.ev.evidenceHash,
      /** Counts toward the policy now (this round, current evidence, not expired, not superseded). */
      counts: f.state?.valid.some((x) => x.signerId === s.signerId && x.signedAt.getTime() === s.signedAt.getTime()) ?? false,
      /** Given in an earlier round (before a re-base): kept on the record, never counted. */
      previousRound: s.round !== r.round,
      /** The version that held the alias when it was signed (null: nobody held it). */
      holderVersion: f.versionNumber(s.aliasHolderVersionId),
      /** The record format its hash verifies in (null: it does not verify). */
      recordFormat: verifySignatureRecord(s),
    })),
    changeRequests: f.changes,
    threads,
    diff,
    lineage,
    activity,
    members: members.map((x) => ({ id: x.id, name: x.name, email: x.email, role: x.role })),
  };
}

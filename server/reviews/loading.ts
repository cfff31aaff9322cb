import "server-only";
import { createHash } from "node:crypto";
import canonicalize from "canonicalize";
import { and, asc, desc, eq, inArray, isNull, sql } from "drizzle-orm";
import type { DbOrTx, Tx } from "~/db/client";
import {
  aliasHistory,
  checks,
  memberships,
  modelAliases,
  modelCardRevisions,
  modelVersions,
  pipelineRuns,
  pipelines,
  reviewChangeRequests,
  reviewRequests,
  reviewSignatures,
  users,
} from "~/db/schema";
import type { Role } from "~/db/schema/identity";
import type { PolicyRules } from "~/db/schema/reviews";
import { can } from "~/server/shared/permissions";
import { AppError } from "~/server/errors";
import { publish } from "~/server/realtime/publish";
import { lockAlias } from "~/server/registry/aliases.service";
import { policyFor } from "./policies.service";
import { evaluate, type CheckFact, type ReviewFacts } from "./policy";

/*
 * Review requests: a model version proposed for a protected alias, the room the team
 * reviews it in, and the e-signed approvals that move the alias when its policy is
 * satisfied. Every change is one transaction with its audit events; the request row is
 * locked while it changes, so racing approvals move the alias exactly once.
 */

// What every part of a review reads: the request (locked while it changes), its evidence,
// the alias holder and whether the alias moved under it, the facts its policy is judged on.
// requests.service.ts opens, edits, withdraws and re-bases requests; signing.service.ts
// takes change requests and e-signatures; reviews.queries.ts reads the list and the room.

export const sha = (s: string) => createHash("sha256").update(s).digest("hex");
export const reviewLink = (slug: string, n: number) => `/w/${slug}/reviews/${n}`;

export async function requestByNumber(db: DbOrTx, workspaceId: string, number: number, lock = false) {
  const q = db
    .select()
    .from(reviewRequests)
    .where(and(eq(reviewRequests.workspaceId, workspaceId), eq(reviewRequests.number, number)));
  const [r] = lock ? await q.for("update") : await q;
  if (!r) throw new AppError("NOT_FOUND", `There is no review request #${number} in this workspace.`, { field: "number" });
  return r;
}

/** The request, locked for this transaction, refusing one that is no longer open. */
export async function lockOpen(tx: Tx, workspaceId: string, number: number) {
  const r = await requestByNumber(tx, workspaceId, number, true);
  if (r.status !== "open") throw new AppError("PRECONDITION_FAILED", `Review #${r.number} is already ${r.status}.`);
  return r;
}

export async function latestCard(db: DbOrTx, modelVersionId: string) {
  const [c] = await db
    .select()
    .from(modelCardRevisions)
    .where(eq(modelCardRevisions.modelVersionId, modelVersionId))
    .orderBy(desc(modelCardRevisions.revision))
    .limit(1);
  return c ?? null;
}

/** The version's latest validation run and its checks (the validate pipeline first). */
export async function validationOf(db: DbOrTx, modelVersionId: string) {
  const [run] = await db
    .select({ id: pipelineRuns.id, number: pipelineRuns.number, status: pipelineRuns.status, pipeline: pipelines.name, finishedAt: pipelineRuns.finishedAt })
    .from(pipelineRuns)
    .innerJoin(pipelines, eq(pipelines.id, pipelineRuns.pipelineId))
    .where(eq(pipelineRuns.modelVersionId, modelVersionId))
    .orderBy(sql`(${pipelines.name} = 'validate') desc`, desc(pipelineRuns.number))
    .limit(1);
  if (!run) return null;
  const rows = await db
    .select({ name: checks.name, status: checks.status, value: checks.value, threshold: checks.threshold, message: checks.message, required: checks.required })
    .from(checks)
    .where(eq(checks.runId, run.id))
    .orderBy(asc(checks.name));
  return { run, checks: rows };
}

/**
 * What an approval is given for: the artifact's hash, the model card revision and the
 * validation run with its check results. Any change (a new run, an edited card) changes
 * the hash and makes earlier approvals stale.
 */
export async function evidenceOf(db: DbOrTx, modelVersionId: string) {
  const [v] = await db.select({ sha256: modelVersions.sha256 }).from(modelVersions).where(eq(modelVersions.id, modelVersionId));
  const card = await latestCard(db, modelVersionId);
  const val = await validationOf(db, modelVersionId);
  const evidence = {
    artifact: v!.sha256,
    card: card ? { revision: card.revision, sha256: card.sha256 } : null,
    validation: val ? { run: val.run.id, status: val.run.status, checks: val.checks.map((c) => [c.name, c.status, c.value]) } : null,
  };
  return { artifactSha256: v!.sha256, evidenceHash: sha(canonicalize(evidence) ?? ""), card, validation: val };
}

/** Who holds the alias now (null: nobody), and since when. Read under lockAlias when it must not move. */
export async function aliasHolder(db: DbOrTx, modelId: string, alias: string) {
  const [h] = await db
    .select({ versionId: modelAliases.modelVersionId, version: modelVersions.version, updatedAt: modelAliases.updatedAt })
    .from(modelAliases)
    .innerJoin(modelVersions, eq(modelVersions.id, modelAliases.modelVersionId))
    .where(and(eq(modelAliases.modelId, modelId), eq(modelAliases.alias, alias)));
  if (!h) return null;
  const [since] = await db
    .select({ fromAt: aliasHistory.fromAt })
    .from(aliasHistory)
    .where(and(eq(aliasHistory.modelId, modelId), eq(aliasHistory.alias, alias), eq(aliasHistory.modelVersionId, h.versionId), isNull(aliasHistory.untilAt)))
    .orderBy(desc(aliasHistory.fromAt))
    .limit(1);
  return { versionId: h.versionId, version: h.version, since: since?.fromAt ?? h.updatedAt };
}
type Holder = Awaited<ReturnType<typeof aliasHolder>>;

export type Superseded = { at: Date; holderVersionId: string | null; holderVersion: number | null; alreadyHolds: boolean };

/**
 * Has the alias moved under this request? Set by supersedeOpenReviewsTx when an alias moves
 * (server/reviews/supersede.ts); also derived for an open request whose baseline is no
 * longer the holder (a request opened before superseding existed, or an alias moved by a
 * path that did not supersede), so a stale request can never be signed. A request whose
 * own version holds the alias now has nothing left to approve (`alreadyHolds`).
 */
function supersededOf(r: typeof reviewRequests.$inferSelect, holder: Holder, versionNumber: (id: string | null) => number | null): Superseded | null {
  if (r.status !== "open")
    return r.supersededAt
      ? {
          at: r.supersededAt,
          holderVersionId: r.supersededByVersionId,
          holderVersion: versionNumber(r.supersededByVersionId),
          alreadyHolds: r.supersededByVersionId === r.modelVersionId,
        }
      : null;
  const moved = (holder?.versionId ?? null) !== (r.baselineVersionId ?? null);
  if (!r.supersededAt && !moved) return null;
  return {
    at: r.supersededAt ?? holder?.since ?? r.updatedAt,
    holderVersionId: holder?.versionId ?? null,
    holderVersion: holder?.version ?? null,
    alreadyHolds: holder?.versionId === r.modelVersionId,
  };
}

export async function factsFor(db: DbOrTx, r: typeof reviewRequests.$inferSelect, now = new Date()) {
  const policy = await policyFor(db, r.workspaceId, r.alias);
  const ev = await evidenceOf(db, r.modelVersionId);
  const sigs = await db.select().from(reviewSignatures).where(eq(reviewSignatures.requestId, r.id)).orderBy(asc(reviewSignatures.signedAt));
  const changes = await db
    .select({
      id: reviewChangeRequests.id,
      reason: reviewChangeRequests.reason,
      reviewerId: reviewChangeRequests.reviewerId,
      reviewerName: users.name,
      createdAt: reviewChangeRequests.createdAt,
    })
    .from(reviewChangeRequests)
    .innerJoin(users, eq(users.id, reviewChangeRequests.reviewerId))
    .where(and(eq(reviewChangeRequests.requestId, r.id), isNull(reviewChangeRequests.clearedAt)));
  const [author] = await db.select({ createdBy: modelVersions.createdBy }).from(modelVersions).where(eq(modelVersions.id, r.modelVersionId));
  const holder = await aliasHolder(db, r.modelId, r.alias);
  // Version numbers of every version named here (holders at signing time, the superseding holder).
  const ids = [...new Set([r.supersededByVersionId, ...sigs.map((x) => x.aliasHolderVersionId)].filter((x): x is string => !!x))];
  const numbers = new Map<string, number>(
    ids.length
      ? (await db.select({ id: modelVersions.id, version: modelVersions.version }).from(modelVersions).where(inArray(modelVersions.id, ids))).map((x) => [
          x.id,
          x.version,
        ])
      : [],
  );
  if (holder) numbers.set(holder.versionId, holder.version);
  const versionNumber = (id: string | null) => (id ? (numbers.get(id) ?? null) : null);
  const superseded = supersededOf(r, holder, versionNumber);
  const validation: ReviewFacts["validation"] = !ev.validation
    ? null
    : ev.validation.run.status === "queued" || ev.validation.run.status === "running"
      ? "running"
      : { checks: ev.validation.checks.map((c): CheckFact => ({ name: c.name, status: c.status, required: c.required })) };
  const facts: ReviewFacts | null = policy
    ? {
        rules: policy.rules,
        requesterId: r.requestedBy,
        authorId: author?.createdBy ?? null,
        signatures: sigs.map((s) => ({
          signerId: s.signerId,
          signerName: s.signerName,
          role: s.role,
          decision: s.decision,
          evidenceHash: s.evidenceHash,
          signedAt: s.signedAt,
          round: s.round,
        })),
        openChangeRequests: changes.map((c) => ({ reviewerName: c.reviewerName, reason: c.reason })),
        validation,
        currentEvidenceHash: ev.evidenceHash,
        now,
        round: r.round,
        superseded: superseded ? { alias: r.alias, holderVersion: superseded.holderVersion, alreadyHolds: superseded.alreadyHolds } : null,
      }
    : null;
  return { policy, ev, sigs, changes, facts, state: facts ? evaluate(facts) : null, authorId: author?.createdBy ?? null, holder, superseded, versionNumber };
}

/** Why a superseded request cannot be signed (PRECONDITION_FAILED), naming the holder. */
export function supersededError(r: typeof reviewRequests.$inferSelect, sup: Superseded) {
  if (sup.alreadyHolds)
    return new AppError(
      "PRECONDITION_FAILED",
      `v${sup.holderVersion} already holds "${r.alias}": review #${r.number} has nothing left to approve. Withdraw it.`,
    );
  const who = sup.holderVersion === null ? `nobody holds "${r.alias}" now` : `v${sup.holderVersion} holds "${r.alias}" now`;
  return new AppError(
    "PRECONDITION_FAILED",
    `Review #${r.number} is superseded: ${who} (since ${sup.at.toISOString().slice(0, 16).replace("T", " ")} UTC), so its approvals no longer count. The requester must re-base it before anyone can sign.`,
  );
}

/**
 * Reads the request (no lock) to learn its alias, takes the alias lock, then locks the
 * request row: the order every path that may move an alias keeps (alias → deployments →
 * review rows), so a signature racing an alias move has one outcome and cannot deadlock.
 */
export async function lockAliasThenOpen(tx: Tx, workspaceId: string, number: number) {
  const peek = await requestByNumber(tx, workspaceId, number);
  await lockAlias(tx, peek.modelId, peek.alias);
  return lockOpen(tx, workspaceId, number);
}

export async function memberRoles(db: DbOrTx, workspaceId: string) {
  return db
    .select({ id: users.id, name: users.name, email: users.email, role: memberships.role })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(eq(memberships.workspaceId, workspaceId), isNull(users.deactivatedAt)));
}

/** Members whose signature can fill one of the policy's role slots. */
export function policyApprovers<T extends { id: string; role: Role }>(members: T[], rules: PolicyRules) {
  return members.filter((x) =>
    rules.requiredApprovals.some((ra) =>
      ra.role === "compliance_officer" ? can(x.role, "review:approve_compliance") : ra.role === "reviewer" ? x.role === "reviewer" : x.role === ra.role,
    ),
  );
}

export async function slugOf(db: DbOrTx, workspaceId: string) {
  const rows = await db.execute<{ slug: string }>(sql`select slug from workspaces where id = ${workspaceId}`);
  return rows[0]!.slug;
}

export const announce = (r: { workspaceId: string; id: string; number: number }) =>
  publish.toWorkspace(r.workspaceId, "review.changed", { workspaceId: r.workspaceId, requestId: r.id, number: r.number });

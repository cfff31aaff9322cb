import "server-only";
import { and, desc, eq, gt, inArray, isNull, or } from "drizzle-orm";
import type { DbOrTx } from "~/db/client";
import { aliasHistory, modelAliases, modelVersions, reviewRequests } from "~/db/schema";
import { AppError } from "~/server/errors";
import { policyFor, type EffectivePolicy } from "~/server/reviews/policies.service";

/*
 * May this version reach callers of a deployment bound to this alias, in this role?
 * The one rule beneath every path that changes traffic — tRPC, REST, CLI, tokens,
 * reviews, canary analysis, the demo seed: deployments.service's change() and
 * createDeployment() call assertServable for every version that gains a role, and
 * aliases.service's moveAliasTx calls assertAliasServable. Nothing else decides it.
 *
 *   loadable   a version onnxruntime could not load at registration never serves (any role)
 *   shadow     any loadable version (a shadow never answers a caller)
 *   primary,   on an unprotected alias: any loadable version; on a protected alias (a policy
 *   canary,    exists): approved for the alias — an approved review within the policy's
 *   pin        validity, not rejected since — or the current holder of the alias (it got
 *              there through the policy). A canary of a version under open review may take
 *              up to the policy's canaryBeforeApproval.maxPercent.
 *   rollback   (emergency) a version that held the alias within the validity window and
 *              was not rejected or withdrawn for it since; needs a reason.
 */

const DAY = 86_400_000;

export type ServeRole = "primary" | "canary" | "shadow";

export type ApprovalStatus =
  | { state: "unprotected" }
  | { state: "approved"; source: "review"; review: number; approvedAt: Date; expiresAt: Date | null }
  | { state: "approved"; source: "holder"; since: Date; expiresAt: Date | null; reapprovalDue: boolean }
  | { state: "under_review"; review: number; canaryMaxPercent: number | null }
  | { state: "expired"; review: number; approvedAt: Date; expiredAt: Date }
  | { state: "not_approved"; rejectedInReview: number | null };

type VersionRow = { id: string; version: number; loadable: boolean; loadError: string | null; modelId: string };

async function versionRow(db: DbOrTx, versionId: string): Promise<VersionRow> {
  const [v] = await db
    .select({ id: modelVersions.id, version: modelVersions.version, signature: modelVersions.signature, modelId: modelVersions.modelId })
    .from(modelVersions)
    .where(eq(modelVersions.id, versionId));
  if (!v) throw new AppError("NOT_FOUND", "That model version does not exist.", { field: "version" });
  return { id: v.id, version: v.version, modelId: v.modelId, loadable: v.signature.runtime.loadable, loadError: v.signature.runtime.error ?? null };
}

/** Is this version approved for this alias now, under the alias's current policy? */
export async function approvalFor(
  db: DbOrTx,
  input: { workspaceId: string; modelId: string; alias: string; versionId: string; now?: Date; policy?: EffectivePolicy | null },
): Promise<ApprovalStatus> {
  const now = input.now ?? new Date();
  const policy = input.policy !== undefined ? input.policy : await policyFor(db, input.workspaceId, input.alias);
  if (!policy) return { state: "unprotected" };
  const validDays = policy.rules.approvalValidDays;
  const expiry = (at: Date) => (validDays === null ? null : new Date(at.getTime() + validDays * DAY));
  const reviews = await db
    .select({ number: reviewRequests.number, status: reviewRequests.status, closedAt: reviewRequests.closedAt, supersededAt: reviewRequests.supersededAt })
    .from(reviewRequests)
    .where(and(eq(reviewRequests.modelVersionId, input.versionId), eq(reviewRequests.alias, input.alias)))
    .orderBy(desc(reviewRequests.createdAt));
  const decided = reviews
    .filter((r) => r.status === "approved" || r.status === "rejected")
    .sort((a, b) => (b.closedAt?.getTime() ?? 0) - (a.closedAt?.getTime() ?? 0));
  const last = decided[0];
  const [holder] = await db
    .select({ versionId: modelAliases.modelVersionId })
    .from(modelAliases)
    .where(and(eq(modelAliases.modelId, input.modelId), eq(modelAliases.alias, input.alias)));
  if (holder?.versionId === input.versionId) {
    const [since] = await db
      .select({ fromAt: aliasHistory.fromAt })
      .from(aliasHistory)
      .where(
        and(
          eq(aliasHistory.modelId, input.modelId),
          eq(aliasHistory.alias, input.alias),
          eq(aliasHistory.modelVersionId, input.versionId),
          isNull(aliasHistory.untilAt),
        ),
      )
      .orderBy(desc(aliasHistory.fromAt))
      .limit(1);
    const from = last?.status === "approved" && last.closedAt ? last.closedAt : (since?.fromAt ?? now);
    const exp = expiry(from);
    return { state: "approved", source: "holder", since: since?.fromAt ?? from, expiresAt: exp, reapprovalDue: exp !== null && exp < now };
  }
  if (last?.status === "approved" && last.closedAt) {
    const exp = expiry(last.closedAt);
    if (exp && exp < now) return { state: "expired", review: last.number, approvedAt: last.closedAt, expiredAt: exp };
    return { state: "approved", source: "review", review: last.number, approvedAt: last.closedAt, expiresAt: exp };
  }
  const open = reviews.find((r) => r.status === "open" && !r.supersededAt);
  if (open) return { state: "under_review", review: open.number, canaryMaxPercent: policy.rules.canaryBeforeApproval?.maxPercent ?? null };
  return { state: "not_approved", rejectedInReview: last?.status === "rejected" ? last.number : null };
}

function notLoadable(v: VersionRow) {
  return new AppError(
    "PRECONDITION_FAILED",
    `v${v.version} cannot be served: onnxruntime could not load it when it was registered${v.loadError ? ` (${v.loadError})` : ""}. Register a version that loads.`,
    { field: "version" },
  );
}

function refusal(v: VersionRow, alias: string, a: ApprovalStatus, role: ServeRole, percent: number) {
  const how = `open a review request for v${v.version} → ${alias} (Reviews › Request review, or \`steward reviews open <model>@${v.version} ${alias}\`)`;
  switch (a.state) {
    case "expired":
      return `v${v.version}'s approval for "${alias}" (review #${a.review}) expired on ${a.expiredAt.toISOString().slice(0, 10)}: ${how} to re-approve it.`;
    case "under_review":
      if (role === "canary" && a.canaryMaxPercent !== null)
        return `v${v.version} is under review (#${a.review}): the "${alias}" policy allows it as a canary of at most ${a.canaryMaxPercent}% until it is approved (asked for ${percent}%).`;
      return `v${v.version} is under review (#${a.review}) and not yet approved for "${alias}": it can serve ${role === "canary" ? "as a canary" : "here"} once the review is approved${role === "canary" ? ", or as a shadow now" : ""}.`;
    case "not_approved":
      return `v${v.version} is not approved for "${alias}"${a.rejectedInReview ? ` (review #${a.rejectedInReview} rejected it)` : ""}: ${how}${role === "canary" ? ", or run it as a shadow (never answers callers)" : ""}.`;
    default:
      return `v${v.version} is not approved for "${alias}".`;
  }
}

export type Servable = { version: number; approval: ApprovalStatus };

/**
 * Refuses (PRECONDITION_FAILED, naming the version, the alias and what to do) unless this
 * version may take this role on a deployment bound to `alias`. `field` names the input.
 */
export async function assertServable(
  db: DbOrTx,
  input: { workspaceId: string; modelId: string; alias: string; versionId: string; role: ServeRole; percent?: number; field?: string; now?: Date },
): Promise<Servable> {
  const v = await versionRow(db, input.versionId);
  if (v.modelId !== input.modelId) throw new AppError("INVALID", `v${v.version} belongs to another model.`, { field: input.field ?? "version" });
  if (!v.loadable) throw withField(notLoadable(v), input.field);
  if (input.role === "shadow") return { version: v.version, approval: { state: "unprotected" } };
  const a = await approvalFor(db, input);
  if (a.state === "unprotected" || a.state === "approved") return { version: v.version, approval: a };
  if (a.state === "under_review" && input.role === "canary" && a.canaryMaxPercent !== null && (input.percent ?? 0) <= a.canaryMaxPercent)
    return { version: v.version, approval: a };
  throw new AppError("PRECONDITION_FAILED", refusal(v, input.alias, a, input.role, input.percent ?? 0), { field: input.field ?? "version" });
}

/** For an alias move: a protected alias only takes a loadable, approved version (reviews pass `approvedBy`). */
export async function assertAliasServable(db: DbOrTx, input: { workspaceId: string; modelId: string; alias: string; versionId: string }) {
  const v = await versionRow(db, input.versionId);
  if (!v.loadable && (await policyFor(db, input.workspaceId, input.alias))) throw notLoadable(v);
  const a = await approvalFor(db, input);
  if (a.state === "unprotected" || a.state === "approved") return a;
  throw new AppError("PRECONDITION_FAILED", refusal(v, input.alias, a, "primary", 0), { field: "version" });
}

/**
 * Emergency rollback: the target must have held the alias within the policy's validity
 * window (any time, when approvals never expire) and not been rejected or withdrawn for
 * it since. On an unprotected alias any loadable version is a valid target.
 */
export async function assertRollbackTarget(db: DbOrTx, input: { workspaceId: string; modelId: string; alias: string; versionId: string; now?: Date }) {
  const now = input.now ?? new Date();
  const v = await versionRow(db, input.versionId);
  if (!v.loadable) throw notLoadable(v);
  const policy = await policyFor(db, input.workspaceId, input.alias);
  if (!policy) return { version: v.version, heldUntil: null as Date | null };
  const windowStart = policy.rules.approvalValidDays === null ? new Date(0) : new Date(now.getTime() - policy.rules.approvalValidDays * DAY);
  const [held] = await db
    .select({ untilAt: aliasHistory.untilAt, fromAt: aliasHistory.fromAt })
    .from(aliasHistory)
    .where(
      and(
        eq(aliasHistory.modelId, input.modelId),
        eq(aliasHistory.alias, input.alias),
        eq(aliasHistory.modelVersionId, input.versionId),
        or(isNull(aliasHistory.untilAt), gt(aliasHistory.untilAt, windowStart)),
      ),
    )
    .orderBy(desc(aliasHistory.fromAt))
    .limit(1);
  if (!held) {
    throw new AppError(
      "PRECONDITION_FAILED",
      `v${v.version} has not held "${input.alias}"${policy.rules.approvalValidDays === null ? "" : ` in the last ${policy.rules.approvalValidDays} days`}, so it cannot be an emergency rollback target: roll back only to a version that served "${input.alias}" recently, or open a review for v${v.version}.`,
      { field: "version" },
    );
  }
  const since = held.untilAt ?? held.fromAt;
  const [revoked] = await db
    .select({ number: reviewRequests.number, status: reviewRequests.status })
    .from(reviewRequests)
    .where(
      and(
        eq(reviewRequests.modelVersionId, input.versionId),
        eq(reviewRequests.alias, input.alias),
        inArray(reviewRequests.status, ["rejected", "withdrawn"]),
        gt(reviewRequests.closedAt, since),
      ),
    )
    .limit(1);
  if (revoked)
    throw new AppError(
      "PRECONDITION_FAILED",
      `v${v.version} was ${revoked.status} for "${input.alias}" in review #${revoked.number} after it last held the alias: it cannot be an emergency rollback target.`,
      { field: "version" },
    );
  return { version: v.version, heldUntil: held.untilAt };
}

function withField(e: AppError, field?: string) {
  return field ? new AppError(e.code, e.message, { field }) : e;
}

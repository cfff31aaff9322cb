import "server-only";
import { createHash } from "node:crypto";
import canonicalize from "canonicalize";
import { and, asc, desc, eq, inArray, isNull, ne, sql } from "drizzle-orm";
import { z } from "zod";
import { getDb, type DbOrTx, type Tx } from "~/db/client";
import {
  auditEvents,
  checks,
  datasets,
  datasetVersions,
  memberships,
  modelAliases,
  modelCardRevisions,
  models,
  modelVersionDatasets,
  modelVersions,
  pipelineRuns,
  pipelines,
  reviewAssignees,
  reviewChangeRequests,
  reviewCommentEdits,
  reviewComments,
  reviewRequests,
  reviewSignatures,
  users,
} from "~/db/schema";
import type { Role } from "~/db/schema/identity";
import type { RequestMeta, WorkspaceActor } from "~/server/audit/actor";
import { mutate, type AuditFn } from "~/server/audit/mutate";
import { can } from "~/server/authz/permissions";
import { verifyPassword } from "~/server/auth/password";
import { lockedFor, recordFailure, clearFailures } from "~/server/auth/rate-limit";
import { AppError, isUniqueViolation } from "~/server/errors";
import { publish } from "~/server/realtime/publish";
import { compareVersions, moveAliasTx } from "~/server/registry/models.service";
import { AliasName, RegistryName } from "~/server/registry/registry.schema";
import { deliver, notifyTx, type NewNotification } from "./notifications.service";
import { policyFor } from "./policies.service";
import { evaluate, type CheckFact, type ReviewFacts } from "./policy";

/*
 * Review requests: a model version proposed for a protected alias, the room the team
 * reviews it in, and the e-signed approvals that move the alias when its policy is
 * satisfied. Every change is one transaction with its audit events; the request row is
 * locked while it changes, so racing approvals move the alias exactly once.
 */

export const CARD_TEMPLATE = `## Intended use

Who uses this model, for which decision, and who is affected by it.

## Limitations

Where it should not be used; known failure modes; populations it was not evaluated on.

## Training data

Which dataset versions, how they were collected, what was excluded and why.

## Evaluation data

Which dataset versions, how they differ from training, and the slices examined.

## Ethical considerations

Sensitive attributes, fairness findings, and the mitigations in place.
`;

export const SIGN_LIMIT = { max: 5, windowMinutes: 15, lockMinutes: 15 };
const signKey = (userId: string) => `sign:user:${userId}`;

const sha = (s: string) => createHash("sha256").update(s).digest("hex");
const reviewLink = (slug: string, n: number) => `/w/${slug}/reviews/${n}`;

export const OpenReviewInput = z.object({
  model: RegistryName,
  version: z.number().int().positive("version must be a version number (1, 2, …)."),
  alias: AliasName,
  summary: z.string().trim().min(1, "summary is required: say what changed and why it should be promoted.").max(5000),
  assignees: z.array(z.uuid()).max(20).default([]),
});
export const SignInput = z.object({
  decision: z.enum(["approve", "reject"]),
  meaning: z.string().trim().min(3, "meaning is required: what your signature means, e.g. \"Approved for production release\".").max(200),
  reason: z.string().trim().max(2000).optional(),
  password: z.string().min(1, "password is required: signing asks for your password again.").max(200),
});

// ---------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------

async function requestByNumber(db: DbOrTx, workspaceId: string, number: number, lock = false) {
  const q = db.select().from(reviewRequests).where(and(eq(reviewRequests.workspaceId, workspaceId), eq(reviewRequests.number, number)));
  const [r] = lock ? await q.for("update") : await q;
  if (!r) throw new AppError("NOT_FOUND", `There is no review request #${number} in this workspace.`, { field: "number" });
  return r;
}

/** The request, locked for this transaction, refusing one that is no longer open. */
async function lockOpen(tx: Tx, workspaceId: string, number: number) {
  const r = await requestByNumber(tx, workspaceId, number, true);
  if (r.status !== "open") throw new AppError("PRECONDITION_FAILED", `Review #${r.number} is already ${r.status}.`);
  return r;
}

async function latestCard(db: DbOrTx, modelVersionId: string) {
  const [c] = await db.select().from(modelCardRevisions).where(eq(modelCardRevisions.modelVersionId, modelVersionId)).orderBy(desc(modelCardRevisions.revision)).limit(1);
  return c ?? null;
}

/** The version's latest validation run and its checks (the validate pipeline first). */
async function validationOf(db: DbOrTx, modelVersionId: string) {
  const [run] = await db
    .select({ id: pipelineRuns.id, number: pipelineRuns.number, status: pipelineRuns.status, pipeline: pipelines.name, finishedAt: pipelineRuns.finishedAt })
    .from(pipelineRuns)
    .innerJoin(pipelines, eq(pipelines.id, pipelineRuns.pipelineId))
    .where(eq(pipelineRuns.modelVersionId, modelVersionId))
    .orderBy(sql`(${pipelines.name} = 'validate') desc`, desc(pipelineRuns.number))
    .limit(1);
  if (!run) return null;
  const rows = await db.select({ name: checks.name, status: checks.status, value: checks.value, threshold: checks.threshold, message: checks.message, required: checks.required }).from(checks).where(eq(checks.runId, run.id)).orderBy(asc(checks.name));
  return { run, checks: rows };
}

/**
 * What an approval is given for: the artifact's hash, the model card revision and the
 * validation run with its check results. Any change (a new run, an edited card) changes
 * the hash and makes earlier approvals stale.
 */
async function evidenceOf(db: DbOrTx, modelVersionId: string) {
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

async function factsFor(db: DbOrTx, r: typeof reviewRequests.$inferSelect, now = new Date()) {
  const policy = await policyFor(db, r.workspaceId, r.alias);
  const ev = await evidenceOf(db, r.modelVersionId);
  const sigs = await db.select().from(reviewSignatures).where(eq(reviewSignatures.requestId, r.id)).orderBy(asc(reviewSignatures.signedAt));
  const changes = await db
    .select({ id: reviewChangeRequests.id, reason: reviewChangeRequests.reason, reviewerId: reviewChangeRequests.reviewerId, reviewerName: users.name, createdAt: reviewChangeRequests.createdAt })
    .from(reviewChangeRequests)
    .innerJoin(users, eq(users.id, reviewChangeRequests.reviewerId))
    .where(and(eq(reviewChangeRequests.requestId, r.id), isNull(reviewChangeRequests.clearedAt)));
  const [author] = await db.select({ createdBy: modelVersions.createdBy }).from(modelVersions).where(eq(modelVersions.id, r.modelVersionId));
  const validation: ReviewFacts["validation"] = !ev.validation ? null : ev.validation.run.status === "queued" || ev.validation.run.status === "running" ? "running" : { checks: ev.validation.checks.map((c): CheckFact => ({ name: c.name, status: c.status, required: c.required })) };
  const facts: ReviewFacts | null = policy
    ? {
        rules: policy.rules,
        requesterId: r.requestedBy,
        authorId: author?.createdBy ?? null,
        signatures: sigs.map((s) => ({ signerId: s.signerId, signerName: s.signerName, role: s.role, decision: s.decision, evidenceHash: s.evidenceHash, signedAt: s.signedAt })),
        openChangeRequests: changes.map((c) => ({ reviewerName: c.reviewerName, reason: c.reason })),
        validation,
        currentEvidenceHash: ev.evidenceHash,
        now,
      }
    : null;
  return { policy, ev, sigs, changes, facts, state: facts ? evaluate(facts) : null, authorId: author?.createdBy ?? null };
}

async function memberRoles(db: DbOrTx, workspaceId: string) {
  return db.select({ id: users.id, name: users.name, email: users.email, role: memberships.role }).from(memberships).innerJoin(users, eq(users.id, memberships.userId)).where(and(eq(memberships.workspaceId, workspaceId), isNull(users.deactivatedAt)));
}

export async function slugOf(db: DbOrTx, workspaceId: string) {
  const rows = await db.execute<{ slug: string }>(sql`select slug from workspaces where id = ${workspaceId}`);
  return rows[0]!.slug;
}

const announce = (r: { workspaceId: string; id: string; number: number }) => publish.toWorkspace(r.workspaceId, "review.changed", { workspaceId: r.workspaceId, requestId: r.id, number: r.number });

// ---------------------------------------------------------------------------
// Opening, the card, withdrawing
// ---------------------------------------------------------------------------

export async function openReview(actor: WorkspaceActor, raw: z.input<typeof OpenReviewInput>, meta: RequestMeta = {}) {
  const input = OpenReviewInput.parse(raw);
  let toDeliver: { id: string; userId: string }[] = [];
  try {
    const r = await mutate(
      actor,
      async (tx, audit) => {
        const [m] = await tx.select().from(models).where(and(eq(models.workspaceId, actor.workspaceId), eq(models.name, input.model)));
        if (!m) throw new AppError("NOT_FOUND", `There is no model "${input.model}" in this workspace.`, { field: "model" });
        const [v] = await tx.select().from(modelVersions).where(and(eq(modelVersions.modelId, m.id), eq(modelVersions.version, input.version)));
        if (!v) throw new AppError("NOT_FOUND", `Model "${m.name}" has no version ${input.version}.`, { field: "version" });
        const policy = await policyFor(tx, actor.workspaceId, input.alias);
        if (!policy) throw new AppError("PRECONDITION_FAILED", `"${input.alias}" is not protected by an approval policy: move it directly, or ask an admin to add a policy for it.`, { field: "alias" });
        const [holder] = await tx.select({ versionId: modelAliases.modelVersionId }).from(modelAliases).where(and(eq(modelAliases.modelId, m.id), eq(modelAliases.alias, input.alias)));
        if (holder?.versionId === v.id) throw new AppError("PRECONDITION_FAILED", `${m.name} v${v.version} already holds "${input.alias}".`, { field: "version" });
        const members = await memberRoles(tx, actor.workspaceId);
        const bad = input.assignees.find((id) => !members.some((x) => x.id === id && (can(x.role, "review:approve_technical") || can(x.role, "review:approve_compliance"))));
        if (bad) throw new AppError("INVALID", "assignees: every assignee must be a member who can approve (reviewer, compliance officer, admin or owner).", { field: "assignees" });
        if (input.assignees.includes(actor.userId)) throw new AppError("INVALID", "assignees: you cannot assign yourself the review of your own request.", { field: "assignees" });
        await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`review-number:${actor.workspaceId}`}, 0))`);
        const [{ next }] = (await tx.execute<{ next: number }>(sql`select coalesce(max(number), 0)::int + 1 as next from review_requests where workspace_id = ${actor.workspaceId}`)) as unknown as [{ next: number }];
        const [row] = await tx
          .insert(reviewRequests)
          .values({ workspaceId: actor.workspaceId, number: next, modelId: m.id, modelVersionId: v.id, alias: input.alias, summary: input.summary, requestedBy: actor.userId, baselineVersionId: holder?.versionId ?? null })
          .returning();
        if (input.assignees.length) await tx.insert(reviewAssignees).values(input.assignees.map((userId) => ({ requestId: row!.id, userId })));
        if (!(await latestCard(tx, v.id))) {
          await tx.insert(modelCardRevisions).values({ workspaceId: actor.workspaceId, modelVersionId: v.id, revision: 1, markdown: CARD_TEMPLATE, sha256: sha(CARD_TEMPLATE), editedBy: actor.userId });
        }
        audit({ action: "review.opened", target: { type: "review_request", id: row!.id }, metadata: { number: next, model: m.name, version: v.version, alias: input.alias, policyVersion: policy.version, assignees: input.assignees.length } });
        const slug = await slugOf(tx, actor.workspaceId);
        const link = reviewLink(slug, next);
        const title = `Review #${next}: ${m.name} v${v.version} → ${input.alias}`;
        const notes: NewNotification[] = [
          ...input.assignees.map((userId) => ({ userId, workspaceId: actor.workspaceId, kind: "review_assigned" as const, title: `You were asked to review #${next}: ${m.name} v${v.version} → ${input.alias}`, body: input.summary.slice(0, 300), link, actorLabel: actor.email })),
          // Everyone whose signature the policy needs hears about it too.
          ...members
            .filter((x) => x.id !== actor.userId && !input.assignees.includes(x.id) && policy.rules.requiredApprovals.some((ra) => (ra.role === "compliance_officer" ? can(x.role, "review:approve_compliance") : ra.role === "reviewer" ? x.role === "reviewer" : x.role === ra.role)))
            .map((x) => ({ userId: x.id, workspaceId: actor.workspaceId, kind: "approval_needed" as const, title, body: input.summary.slice(0, 300), link, actorLabel: actor.email })),
        ];
        toDeliver = await notifyTx(tx, notes);
        return row!;
      },
      meta,
    );
    deliver(toDeliver);
    announce(r);
    return { id: r.id, number: r.number };
  } catch (err) {
    if (isUniqueViolation(err)) throw new AppError("CONFLICT", `There is already an open review request for ${input.model} v${input.version} → ${input.alias}.`, { field: "version", cause: err });
    throw err;
  }
}

export async function updateCard(actor: WorkspaceActor, input: { number: number; markdown: string; baseRevision: number }, meta: RequestMeta = {}) {
  const markdown = z.string().max(100_000, "The model card is limited to 100,000 characters.").parse(input.markdown);
  const r = await mutate(
    actor,
    async (tx, audit) => {
      const r = await requestByNumber(tx, actor.workspaceId, input.number, true);
      if (r.status !== "open") throw new AppError("PRECONDITION_FAILED", `Review #${r.number} is ${r.status}; its model card is final.`);
      const card = await latestCard(tx, r.modelVersionId);
      const current = card?.revision ?? 0;
      if (current !== input.baseRevision) throw new AppError("CONFLICT", `Someone saved the model card (revision ${current}) since you started editing revision ${input.baseRevision}: reload it and apply your change again.`, { field: "markdown" });
      if (card && card.markdown === markdown) throw new AppError("PRECONDITION_FAILED", "Nothing changed in the model card.");
      await tx.insert(modelCardRevisions).values({ workspaceId: actor.workspaceId, modelVersionId: r.modelVersionId, revision: current + 1, markdown, sha256: sha(markdown), editedBy: actor.userId });
      audit({ action: "review.card_edited", target: { type: "review_request", id: r.id }, metadata: { number: r.number, revision: current + 1, sha256: sha(markdown) } });
      return r;
    },
    meta,
  );
  announce(r);
  return { revision: input.baseRevision + 1 };
}

export async function withdrawReview(actor: WorkspaceActor, number: number, meta: RequestMeta = {}) {
  const r = await mutate(
    actor,
    async (tx, audit) => {
      const r = await lockOpen(tx, actor.workspaceId, number);
      if (r.requestedBy !== actor.userId && !can(actor.role, "workspace:update")) throw new AppError("FORBIDDEN", "Only the person who opened the request, or an admin, may withdraw it.");
      await tx.update(reviewRequests).set({ status: "withdrawn", closedAt: new Date(), closedBy: actor.userId, updatedAt: new Date() }).where(eq(reviewRequests.id, r.id));
      audit({ action: "review.withdrawn", target: { type: "review_request", id: r.id }, metadata: { number } });
      return r;
    },
    meta,
  );
  announce(r);
}

// ---------------------------------------------------------------------------
// Request changes
// ---------------------------------------------------------------------------

const mayReview = (role: Role) => can(role, "review:approve_technical") || can(role, "review:approve_compliance");

export async function requestChanges(actor: WorkspaceActor, input: { number: number; reason: string }, meta: RequestMeta = {}) {
  const reason = z.string().trim().min(3, "reason is required: say what must change.").max(2000).parse(input.reason);
  if (!mayReview(actor.role)) throw new AppError("FORBIDDEN", "Only reviewers, compliance officers, admins and owners may request changes.");
  let toDeliver: { id: string; userId: string }[] = [];
  const r = await mutate(
    actor,
    async (tx, audit) => {
      const r = await lockOpen(tx, actor.workspaceId, input.number);
      if (r.requestedBy === actor.userId) throw new AppError("FORBIDDEN", "You opened this request: comment on it instead of requesting changes from yourself.");
      const [open] = await tx.select({ id: reviewChangeRequests.id }).from(reviewChangeRequests).where(and(eq(reviewChangeRequests.requestId, r.id), eq(reviewChangeRequests.reviewerId, actor.userId), isNull(reviewChangeRequests.clearedAt)));
      if (open) throw new AppError("PRECONDITION_FAILED", "You already requested changes on this request; clear that first or comment.");
      const [cr] = await tx.insert(reviewChangeRequests).values({ requestId: r.id, reviewerId: actor.userId, reason }).returning();
      audit({ action: "review.changes_requested", target: { type: "review_request", id: r.id }, metadata: { number: r.number, reason, changeRequestId: cr!.id } });
      toDeliver = await notifyTx(tx, [{ userId: r.requestedBy, workspaceId: r.workspaceId, kind: "changes_requested", title: `Changes requested on #${r.number}`, body: reason, link: reviewLink(await slugOf(tx, r.workspaceId), r.number), actorLabel: actor.email }]);
      return r;
    },
    meta,
  );
  deliver(toDeliver);
  announce(r);
}

/** Only the reviewer who requested changes can clear them. */
export async function clearChanges(actor: WorkspaceActor, input: { number: number }, meta: RequestMeta = {}) {
  let toDeliver: { id: string; userId: string }[] = [];
  const r = await mutate(
    actor,
    async (tx, audit) => {
      const r = await lockOpen(tx, actor.workspaceId, input.number);
      const cleared = await tx
        .update(reviewChangeRequests)
        .set({ clearedAt: new Date() })
        .where(and(eq(reviewChangeRequests.requestId, r.id), eq(reviewChangeRequests.reviewerId, actor.userId), isNull(reviewChangeRequests.clearedAt)))
        .returning({ id: reviewChangeRequests.id });
      if (!cleared.length) throw new AppError("PRECONDITION_FAILED", "You have no open change request here: only the reviewer who asked for changes can clear them.");
      audit({ action: "review.changes_cleared", target: { type: "review_request", id: r.id }, metadata: { number: r.number } });
      // Clearing may be the last thing the policy waited for.
      toDeliver = (await maybeApproveTx(tx, audit, actor, r)) ?? [];
      return r;
    },
    meta,
  );
  deliver(toDeliver);
  announce(r);
}

// ---------------------------------------------------------------------------
// E-signatures
// ---------------------------------------------------------------------------

/** The hash that binds a signature's fields to its request: a copy onto another record does not verify. */
export function signatureRecordHash(s: { requestId: string; signerId: string; signerName: string; role: string; decision: string; meaning: string; reason: string | null; artifactSha256: string; evidenceHash: string; method: string; signedAt: Date }) {
  const { requestId, signerId, signerName, role, decision, meaning, reason, artifactSha256, evidenceHash, method } = s;
  return sha(canonicalize({ requestId, signerId, signerName, role, decision, meaning, reason, artifactSha256, evidenceHash, method, signedAt: s.signedAt.toISOString() }) ?? "");
}

/** If the policy is satisfied now, moves the alias and closes the request (inside the caller's locked transaction). */
async function maybeApproveTx(tx: Tx, audit: AuditFn, actor: WorkspaceActor, r: typeof reviewRequests.$inferSelect): Promise<{ id: string; userId: string }[] | null> {
  const f = await factsFor(tx, r);
  if (!f.state?.satisfied || !f.policy) return null;
  const [m] = await tx.select({ name: models.name }).from(models).where(eq(models.id, r.modelId));
  const [v] = await tx.select({ version: modelVersions.version }).from(modelVersions).where(eq(modelVersions.id, r.modelVersionId));
  await moveAliasTx(tx, audit, actor, { modelId: r.modelId, modelName: m!.name, alias: r.alias, versionId: r.modelVersionId, version: v!.version, via: { review: r.number, policyVersion: f.policy.version } });
  await tx.update(reviewRequests).set({ status: "approved", closedAt: new Date(), closedBy: actor.userId, policyVersion: f.policy.version, updatedAt: new Date() }).where(eq(reviewRequests.id, r.id));
  audit({ action: "review.approved", target: { type: "review_request", id: r.id }, metadata: { number: r.number, model: m!.name, version: v!.version, alias: r.alias, policyVersion: f.policy.version, approvers: f.state.valid.map((s) => s.signerName) } });
  const slug = await slugOf(tx, r.workspaceId);
  const people = new Set([r.requestedBy, ...f.sigs.map((s) => s.signerId)]);
  return notifyTx(tx, [...people].map((userId) => ({ userId, workspaceId: r.workspaceId, kind: "decision" as const, title: `#${r.number} approved: ${m!.name} v${v!.version} is now ${r.alias}`, link: reviewLink(slug, r.number), actorLabel: "Steward" })));
}

export async function sign(actor: WorkspaceActor, input: { number: number } & z.input<typeof SignInput>, meta: RequestMeta = {}) {
  const s = SignInput.parse(input);
  if (!mayReview(actor.role)) throw new AppError("FORBIDDEN", "Only reviewers, compliance officers, admins and owners may sign a review.");
  // Re-authentication: the signer's password again, rate-limited per account.
  const locked = await lockedFor([signKey(actor.userId)]);
  if (locked) throw new AppError("RATE_LIMITED", `Too many wrong passwords when signing. Try again in ${locked.minutes} minute${locked.minutes === 1 ? "" : "s"}.`);
  const [me] = await getDb().select().from(users).where(eq(users.id, actor.userId));
  if (!me || me.deactivatedAt) throw new AppError("UNAUTHORIZED", "This account is deactivated: it cannot sign.");
  if (!me.passwordHash) throw new AppError("PRECONDITION_FAILED", "Your account signs in through single sign-on and has no password: set one in Settings › Accounts to sign.");
  if (!(await verifyPassword(me.passwordHash, s.password))) {
    await recordFailure(signKey(actor.userId), SIGN_LIMIT);
    await mutate(actor, async (_tx, audit) => audit({ action: "review.signature_refused", target: { type: "review_request", id: null }, metadata: { number: input.number, reason: "wrong_password" } }), meta);
    throw new AppError("UNAUTHORIZED", "The password is incorrect: the signature was not recorded.", { field: "password" });
  }
  await clearFailures(signKey(actor.userId));
  let outcome = "signed" as "signed" | "approved" | "rejected";
  let toDeliver: { id: string; userId: string }[] = [];
  const r = await mutate(
    actor,
    async (tx, audit) => {
      const r = await lockOpen(tx, actor.workspaceId, input.number);
      const f = await factsFor(tx, r);
      if (!f.policy) throw new AppError("PRECONDITION_FAILED", `"${r.alias}" is no longer protected by a policy; this request cannot be signed. Withdraw it and move the alias directly.`);
      const own = r.requestedBy === actor.userId || f.authorId === actor.userId;
      if (own && !f.policy.rules.allowRequesterApproval) {
        throw new AppError("FORBIDDEN", r.requestedBy === actor.userId ? "You opened this request: someone else must approve or reject it." : "You uploaded this model version: someone else must approve or reject it.");
      }
      const signedAt = new Date();
      const record = { requestId: r.id, signerId: me.id, signerName: me.name, role: actor.role, decision: s.decision, meaning: s.meaning, reason: s.reason ?? null, artifactSha256: f.ev.artifactSha256, evidenceHash: f.ev.evidenceHash, method: "password" as const, signedAt };
      const recordHash = signatureRecordHash(record);
      const [row] = await tx.insert(reviewSignatures).values({ ...record, workspaceId: r.workspaceId, signerEmail: me.email, recordHash }).returning();
      audit({
        action: "review.signed",
        target: { type: "review_request", id: r.id },
        metadata: { number: r.number, signatureId: row!.id, signer: me.name, signerId: me.id, role: actor.role, decision: s.decision, meaning: s.meaning, artifactSha256: record.artifactSha256, evidenceHash: record.evidenceHash, recordHash, signedAt: signedAt.toISOString() },
      });
      const slug = await slugOf(tx, r.workspaceId);
      if (s.decision === "reject") {
        await tx.update(reviewRequests).set({ status: "rejected", closedAt: signedAt, closedBy: actor.userId, closedReason: s.reason ?? s.meaning, updatedAt: signedAt }).where(eq(reviewRequests.id, r.id));
        audit({ action: "review.rejected", target: { type: "review_request", id: r.id }, metadata: { number: r.number, reason: s.reason ?? s.meaning, by: me.name } });
        toDeliver = await notifyTx(tx, [{ userId: r.requestedBy, workspaceId: r.workspaceId, kind: "decision", title: `#${r.number} was rejected by ${me.name}`, body: s.reason ?? s.meaning, link: reviewLink(slug, r.number), actorLabel: actor.email }]);
        outcome = "rejected";
      } else {
        const approved = await maybeApproveTx(tx, audit, actor, r);
        if (approved) {
          outcome = "approved";
          toDeliver = approved;
        } else toDeliver = await notifyTx(tx, [{ userId: r.requestedBy, workspaceId: r.workspaceId, kind: "decision", title: `${me.name} approved #${r.number}`, body: s.meaning, link: reviewLink(slug, r.number), actorLabel: actor.email }]);
      }
      return r;
    },
    meta,
  );
  deliver(toDeliver);
  announce(r);
  return { outcome };
}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

export async function listReviews(actor: WorkspaceActor, opts: { status?: "open" | "closed" } = {}) {
  const rows = await getDb()
    .select({ r: reviewRequests, model: models.name, version: modelVersions.version, requester: users.name })
    .from(reviewRequests)
    .innerJoin(models, eq(models.id, reviewRequests.modelId))
    .innerJoin(modelVersions, eq(modelVersions.id, reviewRequests.modelVersionId))
    .innerJoin(users, eq(users.id, reviewRequests.requestedBy))
    .where(and(eq(reviewRequests.workspaceId, actor.workspaceId), opts.status === "open" ? eq(reviewRequests.status, "open") : opts.status === "closed" ? ne(reviewRequests.status, "open") : undefined))
    .orderBy(desc(reviewRequests.number))
    .limit(200);
  const out = [];
  for (const { r, model, version, requester } of rows) {
    const f = r.status === "open" ? await factsFor(getDb(), r) : null;
    out.push({ number: r.number, model, version, alias: r.alias, summary: r.summary, status: r.status, requester, createdAt: r.createdAt, closedAt: r.closedAt, missing: f?.state?.checklist.filter((c) => !c.ok).map((c) => c.text) ?? [] });
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
  const people = await db.select({ id: users.id, name: users.name, email: users.email }).from(users).where(inArray(users.id, [r.requestedBy, ...(r.closedBy ? [r.closedBy] : [])]));
  const name = (id: string | null) => people.find((p) => p.id === id)?.name ?? null;
  const assignees = await db.select({ id: users.id, name: users.name }).from(reviewAssignees).innerJoin(users, eq(users.id, reviewAssignees.userId)).where(eq(reviewAssignees.requestId, r.id));
  const cardRevisions = await db.select({ revision: modelCardRevisions.revision, editedBy: users.name, at: modelCardRevisions.createdAt }).from(modelCardRevisions).leftJoin(users, eq(users.id, modelCardRevisions.editedBy)).where(eq(modelCardRevisions.modelVersionId, r.modelVersionId)).orderBy(desc(modelCardRevisions.revision));
  const comments = await db
    .select({ c: reviewComments, author: users.name, authorEmail: users.email, edits: sql<number>`(select count(*)::int from ${reviewCommentEdits} e where e.comment_id = ${reviewComments.id})` })
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
      comments: comments.filter((x) => x.c.threadId === root.c.id).map((x) => ({ id: x.c.id, authorId: x.c.authorId, author: x.author, authorEmail: x.authorEmail, body: x.c.body, createdAt: x.c.createdAt, editedAt: x.c.editedAt, edits: x.edits })),
    }));
  const baselineValidation = baseline ? await validationOf(db, baseline.id) : null;
  const lineage = await db
    .select({ role: modelVersionDatasets.role, name: datasets.name, version: datasetVersions.version, sha256: datasetVersions.sha256, rows: datasetVersions.rowCount })
    .from(modelVersionDatasets)
    .innerJoin(datasetVersions, eq(datasetVersions.id, modelVersionDatasets.datasetVersionId))
    .innerJoin(datasets, eq(datasets.id, datasetVersions.datasetId))
    .where(eq(modelVersionDatasets.modelVersionId, r.modelVersionId));
  const diff = baseline ? await compareVersions(actor, m!.name, baseline.version, v!.version).catch(() => null) : null;
  const activity = await db
    .select({ seq: auditEvents.seq, action: auditEvents.action, actorLabel: auditEvents.actorLabel, actorType: auditEvents.actorType, metadata: auditEvents.metadata, changes: auditEvents.changes, occurredAt: auditEvents.occurredAt, hash: auditEvents.hash })
    .from(auditEvents)
    .where(and(eq(auditEvents.workspaceId, actor.workspaceId), eq(auditEvents.targetType, "review_request"), eq(auditEvents.targetId, r.id)))
    .orderBy(desc(auditEvents.seq))
    .limit(200);
  const members = await memberRoles(db, actor.workspaceId);
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
    evidenceHash: f.ev.evidenceHash,
    policy: f.policy,
    state: f.state,
    signatures: f.sigs.map((s) => ({ ...s, stale: f.state?.stale.some((x) => x.signerId === s.signerId && x.signedAt.getTime() === s.signedAt.getTime()) ?? false, current: s.evidenceHash === f.ev.evidenceHash })),
    changeRequests: f.changes,
    threads,
    diff,
    lineage,
    activity,
    members: members.map((x) => ({ id: x.id, name: x.name, email: x.email, role: x.role })),
  };
}

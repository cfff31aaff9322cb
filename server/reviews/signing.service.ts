import "server-only";
import { and, eq, isNull } from "drizzle-orm";
import { z } from "zod";
import { getDb, type Tx } from "~/db/client";
import { models, modelVersions, reviewChangeRequests, reviewRequests, reviewSignatures, users } from "~/db/schema";
import type { Role } from "~/db/schema/identity";
import type { RequestMeta, WorkspaceActor } from "~/server/audit/actor";
import { mutate, type AuditFn } from "~/server/audit/mutate";
import { can } from "~/server/shared/permissions";
import { verifyPassword } from "~/server/auth/password";
import { lockedFor, recordFailure, clearFailures } from "~/server/auth/rate-limit";
import { AppError } from "~/server/errors";
import { moveAliasTx } from "~/server/registry/aliases.service";
import { deliver, notifyTx } from "./notifications.service";
import { announce, factsFor, lockAliasThenOpen, lockOpen, reviewLink, slugOf, supersededError } from "./loading";
import { SIGNATURE_RECORD_FORMAT, signatureRecordHash } from "./signature-record";

export const SIGN_LIMIT = { max: 5, windowMinutes: 15, lockMinutes: 15 };
export const signKey = (userId: string) => `sign:user:${userId}`;

export const SignInput = z.object({
  decision: z.enum(["approve", "reject"]),
  meaning: z.string().trim().min(3, 'meaning is required: what your signature means, e.g. "Approved for production release".').max(200),
  reason: z.string().trim().max(2000).optional(),
  password: z.string().min(1, "password is required: signing asks for your password again.").max(200),
});

// ---------------------------------------------------------------------------
// Request changes
// ---------------------------------------------------------------------------

const mayReview = (role: Role) => can(role, "review:approve_technical") || can(role, "review:approve_compliance");
export function assertMaySign(role: Role) {
  if (!mayReview(role)) throw new AppError("FORBIDDEN", "Only reviewers, compliance officers, admins and owners may sign a review.");
}

export async function requestChanges(actor: WorkspaceActor, input: { number: number; reason: string }, meta: RequestMeta = {}) {
  const reason = z.string().trim().min(3, "reason is required: say what must change.").max(2000).parse(input.reason);
  if (!mayReview(actor.role)) throw new AppError("FORBIDDEN", "Only reviewers, compliance officers, admins and owners may request changes.");
  let toDeliver: { id: string; userId: string }[] = [];
  const r = await mutate(
    actor,
    async (tx, audit) => {
      const r = await lockOpen(tx, actor.workspaceId, input.number);
      if (r.requestedBy === actor.userId)
        throw new AppError("FORBIDDEN", "You opened this request: comment on it instead of requesting changes from yourself.");
      const [open] = await tx
        .select({ id: reviewChangeRequests.id })
        .from(reviewChangeRequests)
        .where(and(eq(reviewChangeRequests.requestId, r.id), eq(reviewChangeRequests.reviewerId, actor.userId), isNull(reviewChangeRequests.clearedAt)));
      if (open) throw new AppError("PRECONDITION_FAILED", "You already requested changes on this request; clear that first or comment.");
      const [cr] = await tx.insert(reviewChangeRequests).values({ requestId: r.id, reviewerId: actor.userId, reason }).returning();
      audit({
        action: "review.changes_requested",
        target: { type: "review_request", id: r.id },
        metadata: { number: r.number, reason, changeRequestId: cr!.id },
      });
      toDeliver = await notifyTx(tx, [
        {
          userId: r.requestedBy,
          workspaceId: r.workspaceId,
          kind: "changes_requested",
          title: `Changes requested on #${r.number}`,
          body: reason,
          link: reviewLink(await slugOf(tx, r.workspaceId), r.number),
          actorLabel: actor.email,
        },
      ]);
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
      // Clearing may approve (and move the alias): alias lock first, then the request row.
      const r = await lockAliasThenOpen(tx, actor.workspaceId, input.number);
      const cleared = await tx
        .update(reviewChangeRequests)
        .set({ clearedAt: new Date() })
        .where(and(eq(reviewChangeRequests.requestId, r.id), eq(reviewChangeRequests.reviewerId, actor.userId), isNull(reviewChangeRequests.clearedAt)))
        .returning({ id: reviewChangeRequests.id });
      if (!cleared.length)
        throw new AppError("PRECONDITION_FAILED", "You have no open change request here: only the reviewer who asked for changes can clear them.");
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

/**
 * If the policy is satisfied now, moves the alias and closes the request. The caller holds
 * lockAlias(r.modelId, r.alias), taken before it locked the request row (lockAliasThenOpen):
 * a superseded request is never satisfied, and the alias cannot move between this check and
 * the move.
 */
async function maybeApproveTx(
  tx: Tx,
  audit: AuditFn,
  actor: WorkspaceActor,
  r: typeof reviewRequests.$inferSelect,
): Promise<{ id: string; userId: string }[] | null> {
  const f = await factsFor(tx, r);
  if (!f.state?.satisfied || !f.policy || f.superseded) return null;
  const [m] = await tx.select({ name: models.name }).from(models).where(eq(models.id, r.modelId));
  const [v] = await tx.select({ version: modelVersions.version }).from(modelVersions).where(eq(modelVersions.id, r.modelVersionId));
  const moved = await moveAliasTx(tx, audit, actor, {
    modelId: r.modelId,
    modelName: m!.name,
    alias: r.alias,
    versionId: r.modelVersionId,
    version: v!.version,
    via: { review: r.number, policyVersion: f.policy.version },
    exceptRequestId: r.id,
    approvedBy: "review",
  });
  await tx
    .update(reviewRequests)
    .set({ status: "approved", closedAt: new Date(), closedBy: actor.userId, policyVersion: f.policy.version, updatedAt: new Date() })
    .where(eq(reviewRequests.id, r.id));
  audit({
    action: "review.approved",
    target: { type: "review_request", id: r.id },
    metadata: {
      number: r.number,
      model: m!.name,
      version: v!.version,
      alias: r.alias,
      policyVersion: f.policy.version,
      approvers: f.state.valid.map((s) => s.signerName),
    },
  });
  const slug = await slugOf(tx, r.workspaceId);
  const people = new Set([r.requestedBy, ...f.sigs.map((s) => s.signerId)]);
  const notes = await notifyTx(
    tx,
    [...people].map((userId) => ({
      userId,
      workspaceId: r.workspaceId,
      kind: "decision" as const,
      title: `#${r.number} approved: ${m!.name} v${v!.version} is now ${r.alias}`,
      link: reviewLink(slug, r.number),
      actorLabel: "Steward",
    })),
  );
  return [...notes, ...moved.toDeliver];
}

export async function sign(actor: WorkspaceActor, input: { number: number } & z.input<typeof SignInput>, meta: RequestMeta = {}) {
  const s = SignInput.parse(input);
  assertMaySign(actor.role);
  // Re-authentication: the signer's password again, rate-limited per account.
  const locked = await lockedFor([signKey(actor.userId)]);
  if (locked)
    throw new AppError("RATE_LIMITED", `Too many wrong passwords when signing. Try again in ${locked.minutes} minute${locked.minutes === 1 ? "" : "s"}.`);
  const [me] = await getDb().select().from(users).where(eq(users.id, actor.userId));
  if (!me || me.deactivatedAt) throw new AppError("UNAUTHORIZED", "This account is deactivated: it cannot sign.");
  if (!me.passwordHash)
    throw new AppError("PRECONDITION_FAILED", "Your account signs in through single sign-on and has no password: set one in Settings › Accounts to sign.");
  if (!(await verifyPassword(me.passwordHash, s.password))) {
    await recordFailure(signKey(actor.userId), SIGN_LIMIT);
    await mutate(
      actor,
      async (_tx, audit) =>
        audit({
          action: "review.signature_refused",
          target: { type: "review_request", id: null },
          metadata: { number: input.number, reason: "wrong_password" },
        }),
      meta,
    );
    throw new AppError("UNAUTHORIZED", "The password is incorrect: the signature was not recorded.", { field: "password" });
  }
  await clearFailures(signKey(actor.userId));
  return recordSignature(actor, { number: input.number, decision: s.decision, meaning: s.meaning, reason: s.reason }, { method: "password" }, meta);
}

/** How the signer proved, just now, that they are who they are. */
export type Reauthentication =
  | { method: "password" }
  | {
      method: "oidc";
      /** When the identity provider last asked for the signer's credentials (its `auth_time`). */
      authTime: Date;
      issuer: string;
      /** Runs in the signature's transaction: the SSO challenge is marked used there. */
      inTx: (tx: Tx, done: { signatureId: string; outcome: "signed" | "approved" | "rejected" }) => Promise<void>;
    };

/**
 * The signature itself, once the signer has re-authenticated (password or a fresh single-sign-on
 * login): every rule of the policy, the record bound by its hash, the audit events, the alias move
 * when the policy is satisfied — one transaction, whichever way the signer re-authenticated.
 */
export async function recordSignature(
  actor: WorkspaceActor,
  s: { number: number; decision: "approve" | "reject"; meaning: string; reason?: string | null },
  how: Reauthentication,
  meta: RequestMeta = {},
) {
  assertMaySign(actor.role);
  const input = { number: s.number };
  const [me] = await getDb().select().from(users).where(eq(users.id, actor.userId));
  if (!me || me.deactivatedAt) throw new AppError("UNAUTHORIZED", "This account is deactivated: it cannot sign.");
  let outcome = "signed" as "signed" | "approved" | "rejected";
  let toDeliver: { id: string; userId: string }[] = [];
  const r = await mutate(
    actor,
    async (tx, audit) => {
      // The alias lock before the request row: a signature racing an alias move (or another
      // approval for the same alias) waits, then sees the request superseded and is refused.
      const r = await lockAliasThenOpen(tx, actor.workspaceId, input.number);
      const f = await factsFor(tx, r);
      if (!f.policy)
        throw new AppError(
          "PRECONDITION_FAILED",
          `"${r.alias}" is no longer protected by a policy; this request cannot be signed. Withdraw it and move the alias directly.`,
        );
      if (f.superseded) throw supersededError(r, f.superseded);
      const own = r.requestedBy === actor.userId || f.authorId === actor.userId;
      if (own && !f.policy.rules.allowRequesterApproval) {
        throw new AppError(
          "FORBIDDEN",
          r.requestedBy === actor.userId
            ? "You opened this request: someone else must approve or reject it."
            : "You uploaded this model version: someone else must approve or reject it.",
        );
      }
      const signedAt = new Date();
      // The holder at signing time, read under the alias lock: it cannot change before commit.
      const record = {
        requestId: r.id,
        signerId: me.id,
        signerName: me.name,
        role: actor.role,
        decision: s.decision,
        meaning: s.meaning,
        reason: s.reason ?? null,
        artifactSha256: f.ev.artifactSha256,
        evidenceHash: f.ev.evidenceHash,
        method: how.method,
        signedAt,
        aliasHolderVersionId: f.holder?.versionId ?? null,
        round: r.round,
      };
      const recordHash = signatureRecordHash(record);
      const [row] = await tx
        .insert(reviewSignatures)
        .values({ ...record, workspaceId: r.workspaceId, signerEmail: me.email, recordHash })
        .returning();
      audit({
        action: "review.signed",
        target: { type: "review_request", id: r.id },
        metadata: {
          number: r.number,
          signatureId: row!.id,
          signer: me.name,
          signerId: me.id,
          role: actor.role,
          decision: s.decision,
          meaning: s.meaning,
          artifactSha256: record.artifactSha256,
          evidenceHash: record.evidenceHash,
          recordHash,
          recordFormat: SIGNATURE_RECORD_FORMAT,
          signedAt: signedAt.toISOString(),
          aliasHolder: f.holder?.version ?? null,
          round: r.round,
          method: how.method,
          ...(how.method === "oidc" ? { authTime: how.authTime.toISOString(), issuer: how.issuer } : {}),
        },
      });
      const slug = await slugOf(tx, r.workspaceId);
      if (s.decision === "reject") {
        await tx
          .update(reviewRequests)
          .set({ status: "rejected", closedAt: signedAt, closedBy: actor.userId, closedReason: s.reason ?? s.meaning, updatedAt: signedAt })
          .where(eq(reviewRequests.id, r.id));
        audit({
          action: "review.rejected",
          target: { type: "review_request", id: r.id },
          metadata: { number: r.number, reason: s.reason ?? s.meaning, by: me.name },
        });
        toDeliver = await notifyTx(tx, [
          {
            userId: r.requestedBy,
            workspaceId: r.workspaceId,
            kind: "decision",
            title: `#${r.number} was rejected by ${me.name}`,
            body: s.reason ?? s.meaning,
            link: reviewLink(slug, r.number),
            actorLabel: actor.email,
          },
        ]);
        outcome = "rejected";
      } else {
        const approved = await maybeApproveTx(tx, audit, actor, r);
        if (approved) {
          outcome = "approved";
          toDeliver = approved;
        } else
          toDeliver = await notifyTx(tx, [
            {
              userId: r.requestedBy,
              workspaceId: r.workspaceId,
              kind: "decision",
              title: `${me.name} approved #${r.number}`,
              body: s.meaning,
              link: reviewLink(slug, r.number),
              actorLabel: actor.email,
            },
          ]);
      }
      if (how.method === "oidc") await how.inTx(tx, { signatureId: row!.id, outcome });
      return r;
    },
    meta,
  );
  deliver(toDeliver);
  announce(r);
  return { outcome };
}

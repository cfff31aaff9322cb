import "server-only";
import { and, eq, sql } from "drizzle-orm";
import { z } from "zod";
import { modelAliases, modelCardRevisions, models, modelVersions, reviewAssignees, reviewRequests } from "~/db/schema";
import type { RequestMeta, WorkspaceActor } from "~/server/audit/actor";
import { mutate } from "~/server/audit/mutate";
import { can, mayManageRequest } from "~/server/shared/permissions";
import { AppError, isUniqueViolation } from "~/server/errors";
import { modelByName } from "~/server/registry/lookup";
import { lockAlias } from "~/server/registry/aliases.service";
import { AliasName, RegistryName } from "~/server/shared/registry.schema";
import { deliver, notifyTx, type NewNotification } from "./notifications.service";
import { policyFor } from "./policies.service";
import { lock, LOCKS } from "~/server/platform/locks";
import {
  announce,
  factsFor,
  latestCard,
  lockAliasThenOpen,
  lockOpen,
  memberRoles,
  policyApprovers,
  requestByNumber,
  reviewLink,
  sha,
  slugOf,
  supersededError,
} from "./loading";

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

export const OpenReviewInput = z.object({
  model: RegistryName,
  version: z.number().int().positive("version must be a version number (1, 2, …)."),
  alias: AliasName,
  summary: z.string().trim().min(1, "summary is required: say what changed and why it should be promoted.").max(5000),
  assignees: z.array(z.uuid()).max(20).default([]),
});

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
        const m = await modelByName(tx, actor.workspaceId, input.model);
        const [v] = await tx
          .select()
          .from(modelVersions)
          .where(and(eq(modelVersions.modelId, m.id), eq(modelVersions.version, input.version)));
        if (!v) throw new AppError("NOT_FOUND", `Model "${m.name}" has no version ${input.version}.`, { field: "version" });
        const policy = await policyFor(tx, actor.workspaceId, input.alias);
        if (!policy)
          throw new AppError(
            "PRECONDITION_FAILED",
            `"${input.alias}" is not protected by an approval policy: move it directly, or ask an admin to add a policy for it.`,
            { field: "alias" },
          );
        // The baseline is the holder under the alias lock: a move cannot slip between reading it and the insert.
        await lockAlias(tx, m.id, input.alias);
        const [holder] = await tx
          .select({ versionId: modelAliases.modelVersionId })
          .from(modelAliases)
          .where(and(eq(modelAliases.modelId, m.id), eq(modelAliases.alias, input.alias)));
        if (holder?.versionId === v.id)
          throw new AppError("PRECONDITION_FAILED", `${m.name} v${v.version} already holds "${input.alias}".`, { field: "version" });
        const members = await memberRoles(tx, actor.workspaceId);
        const bad = input.assignees.find(
          (id) => !members.some((x) => x.id === id && (can(x.role, "review:approve_technical") || can(x.role, "review:approve_compliance"))),
        );
        if (bad)
          throw new AppError("INVALID", "assignees: every assignee must be a member who can approve (reviewer, compliance officer, admin or owner).", {
            field: "assignees",
          });
        if (input.assignees.includes(actor.userId))
          throw new AppError("INVALID", "assignees: you cannot assign yourself the review of your own request.", { field: "assignees" });
        await lock(tx, LOCKS.reviewNumber(actor.workspaceId));
        const [{ next }] = (await tx.execute<{ next: number }>(
          sql`select coalesce(max(number), 0)::int + 1 as next from review_requests where workspace_id = ${actor.workspaceId}`,
        )) as unknown as [{ next: number }];
        const [row] = await tx
          .insert(reviewRequests)
          .values({
            workspaceId: actor.workspaceId,
            number: next,
            modelId: m.id,
            modelVersionId: v.id,
            alias: input.alias,
            summary: input.summary,
            requestedBy: actor.userId,
            baselineVersionId: holder?.versionId ?? null,
          })
          .returning();
        if (input.assignees.length) await tx.insert(reviewAssignees).values(input.assignees.map((userId) => ({ requestId: row!.id, userId })));
        if (!(await latestCard(tx, v.id))) {
          await tx.insert(modelCardRevisions).values({
            workspaceId: actor.workspaceId,
            modelVersionId: v.id,
            revision: 1,
            markdown: CARD_TEMPLATE,
            sha256: sha(CARD_TEMPLATE),
            editedBy: actor.userId,
          });
        }
        audit({
          action: "review.opened",
          target: { type: "review_request", id: row!.id },
          metadata: { number: next, model: m.name, version: v.version, alias: input.alias, policyVersion: policy.version, assignees: input.assignees.length },
        });
        const slug = await slugOf(tx, actor.workspaceId);
        const link = reviewLink(slug, next);
        const title = `Review #${next}: ${m.name} v${v.version} → ${input.alias}`;
        const notes: NewNotification[] = [
          ...input.assignees.map((userId) => ({
            userId,
            workspaceId: actor.workspaceId,
            kind: "review_assigned" as const,
            title: `You were asked to review #${next}: ${m.name} v${v.version} → ${input.alias}`,
            body: input.summary.slice(0, 300),
            link,
            actorLabel: actor.email,
          })),
          // Everyone whose signature the policy needs hears about it too.
          ...policyApprovers(members, policy.rules)
            .filter((x) => x.id !== actor.userId && !input.assignees.includes(x.id))
            .map((x) => ({
              userId: x.id,
              workspaceId: actor.workspaceId,
              kind: "approval_needed" as const,
              title,
              body: input.summary.slice(0, 300),
              link,
              actorLabel: actor.email,
            })),
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
    if (isUniqueViolation(err))
      throw new AppError("CONFLICT", `There is already an open review request for ${input.model} v${input.version} → ${input.alias}.`, {
        field: "version",
        cause: err,
      });
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
      if (current !== input.baseRevision)
        throw new AppError(
          "CONFLICT",
          `Someone saved the model card (revision ${current}) since you started editing revision ${input.baseRevision}: reload it and apply your change again.`,
          { field: "markdown" },
        );
      if (card && card.markdown === markdown) throw new AppError("PRECONDITION_FAILED", "Nothing changed in the model card.");
      await tx.insert(modelCardRevisions).values({
        workspaceId: actor.workspaceId,
        modelVersionId: r.modelVersionId,
        revision: current + 1,
        markdown,
        sha256: sha(markdown),
        editedBy: actor.userId,
      });
      audit({
        action: "review.card_edited",
        target: { type: "review_request", id: r.id },
        metadata: { number: r.number, revision: current + 1, sha256: sha(markdown) },
      });
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
      if (!mayManageRequest(actor.role, actor.userId, r.requestedBy))
        throw new AppError("FORBIDDEN", "Only the person who opened the request, or an admin, may withdraw it.");
      await tx
        .update(reviewRequests)
        .set({ status: "withdrawn", closedAt: new Date(), closedBy: actor.userId, updatedAt: new Date() })
        .where(eq(reviewRequests.id, r.id));
      audit({ action: "review.withdrawn", target: { type: "review_request", id: r.id }, metadata: { number } });
      return r;
    },
    meta,
  );
  announce(r);
}

/**
 * Re-bases a superseded request on the version that holds the alias now (the requester or
 * an admin): the holder becomes its baseline, the round goes up so the earlier rounds'
 * signatures no longer count, and the approvers are asked again. The evidence they sign is
 * computed afresh at each signature (artifact, card, validation run).
 */
export async function rebaseReview(actor: WorkspaceActor, input: { number: number }, meta: RequestMeta = {}) {
  let toDeliver: { id: string; userId: string }[] = [];
  const out = await mutate(
    actor,
    async (tx, audit) => {
      const r = await lockAliasThenOpen(tx, actor.workspaceId, input.number);
      if (!mayManageRequest(actor.role, actor.userId, r.requestedBy))
        throw new AppError("FORBIDDEN", "Only the person who opened the request, or an admin, may re-base it.");
      const f = await factsFor(tx, r);
      if (!f.policy)
        throw new AppError("PRECONDITION_FAILED", `"${r.alias}" is no longer protected by a policy; withdraw this request and move the alias directly.`);
      if (!f.superseded)
        throw new AppError(
          "PRECONDITION_FAILED",
          `Review #${r.number} is not superseded: ${f.holder ? `v${f.holder.version} still holds` : "nobody holds"} "${r.alias}", as when it was opened. There is nothing to re-base.`,
        );
      if (f.superseded.alreadyHolds) throw supersededError(r, f.superseded);
      const [from] = r.baselineVersionId
        ? await tx.select({ version: modelVersions.version }).from(modelVersions).where(eq(modelVersions.id, r.baselineVersionId))
        : [];
      const round = r.round + 1;
      const now = new Date();
      await tx
        .update(reviewRequests)
        .set({ supersededAt: null, supersededByVersionId: null, baselineVersionId: f.holder?.versionId ?? null, round, updatedAt: now })
        .where(eq(reviewRequests.id, r.id));
      const earlier = f.sigs.filter((x) => x.round === r.round);
      audit({
        action: "review.rebased",
        target: { type: "review_request", id: r.id },
        changes: { baseline: [from?.version ?? null, f.holder?.version ?? null], round: [r.round, round] },
        metadata: {
          number: r.number,
          alias: r.alias,
          holder: f.holder?.version ?? null,
          supersededAt: f.superseded.at.toISOString(),
          evidenceHash: f.ev.evidenceHash,
          earlierSignatures: earlier.length,
        },
      });
      const [m] = await tx.select({ name: models.name }).from(models).where(eq(models.id, r.modelId));
      const [v] = await tx.select({ version: modelVersions.version }).from(modelVersions).where(eq(modelVersions.id, r.modelVersionId));
      const members = await memberRoles(tx, actor.workspaceId);
      const assignees = await tx.select({ userId: reviewAssignees.userId }).from(reviewAssignees).where(eq(reviewAssignees.requestId, r.id));
      const link = reviewLink(await slugOf(tx, r.workspaceId), r.number);
      const title = `#${r.number} re-based on v${f.holder?.version ?? "–"}: ${m!.name} v${v!.version} → ${r.alias} needs your signature again`;
      const body = `${r.alias} moved while this review was open. Approvals given before the re-base no longer count; review it against the new baseline and sign again.`;
      const people = new Set([
        ...assignees.map((a) => a.userId),
        ...policyApprovers(members, f.policy.rules).map((x) => x.id),
        ...earlier.map((x) => x.signerId),
      ]);
      people.delete(actor.userId);
      people.delete(r.requestedBy);
      const active = new Set(members.map((x) => x.id));
      toDeliver = await notifyTx(
        tx,
        [...people]
          .filter((id) => active.has(id))
          .map((userId) => ({ userId, workspaceId: r.workspaceId, kind: "approval_needed" as const, title, body, link, actorLabel: actor.email })),
      );
      return { r, round, baseline: f.holder?.version ?? null };
    },
    meta,
  );
  deliver(toDeliver);
  announce(out.r);
  return { number: out.r.number, round: out.round, baselineVersion: out.baseline };
}

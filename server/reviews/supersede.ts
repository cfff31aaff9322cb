import "server-only";
import { and, eq, sql } from "drizzle-orm";
import type { Tx } from "~/db/client";
import { models, modelVersions, reviewRequests } from "~/db/schema";
import type { AuditFn } from "~/server/audit/mutate";
import { notifyTx } from "./notifications.service";

/**
 * In the alias-moving transaction (under the alias lock, taken before any review row lock:
 * alias → deployments → review rows): every other open review for this alias is
 * superseded. Its approvals stop counting and signing it is refused until the requester
 * re-bases it on the new holder (requests.service rebaseReview). A review whose own version
 * now holds the alias is marked too: it has nothing left to approve and should be
 * withdrawn. Returns the notifications to deliver after commit.
 */
export async function supersedeOpenReviewsTx(
  tx: Tx,
  audit: AuditFn,
  input: { workspaceId: string; modelId: string; alias: string; versionId: string; exceptRequestId?: string },
) {
  const open = await tx
    .select({
      id: reviewRequests.id,
      number: reviewRequests.number,
      requestedBy: reviewRequests.requestedBy,
      versionId: reviewRequests.modelVersionId,
      supersededByVersionId: reviewRequests.supersededByVersionId,
    })
    .from(reviewRequests)
    .where(and(eq(reviewRequests.modelId, input.modelId), eq(reviewRequests.alias, input.alias), eq(reviewRequests.status, "open")))
    .orderBy(reviewRequests.id)
    .for("update");
  const targets = open.filter((r) => r.id !== input.exceptRequestId && r.supersededByVersionId !== input.versionId);
  if (!targets.length) return [];
  const [holder] = await tx
    .select({ version: modelVersions.version, model: models.name })
    .from(modelVersions)
    .innerJoin(models, eq(models.id, modelVersions.modelId))
    .where(eq(modelVersions.id, input.versionId));
  const [ws] = (await tx.execute<{ slug: string }>(sql`select slug from workspaces where id = ${input.workspaceId}`)) as unknown as [{ slug: string }];
  const now = new Date();
  for (const r of targets) {
    await tx.update(reviewRequests).set({ supersededAt: now, supersededByVersionId: input.versionId, updatedAt: now }).where(eq(reviewRequests.id, r.id));
    audit({
      action: "review.superseded",
      target: { type: "review_request", id: r.id },
      workspaceId: input.workspaceId,
      metadata: { number: r.number, alias: input.alias, holder: holder?.version ?? null, alreadyHolds: r.versionId === input.versionId },
    });
  }
  const model = holder?.model ?? "the model";
  return notifyTx(
    tx,
    targets.map((r) => ({
      userId: r.requestedBy,
      workspaceId: input.workspaceId,
      kind: "decision" as const,
      title:
        r.versionId === input.versionId
          ? `#${r.number}: ${model} v${holder?.version ?? "?"} already holds ${input.alias}`
          : `#${r.number} is superseded: ${model} v${holder?.version ?? "?"} now holds ${input.alias}`,
      body:
        r.versionId === input.versionId
          ? "There is nothing left to approve: withdraw the request."
          : "Its approvals no longer count. Re-base it on the new holder to collect signatures again.",
      link: `/w/${ws.slug}/reviews/${r.number}`,
      actorLabel: "Steward",
    })),
  );
}

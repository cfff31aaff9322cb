import "server-only";
import { and, eq, isNull } from "drizzle-orm";
import { z } from "zod";
import { getDb, type Tx } from "~/db/client";
import { memberships, reviewCommentEdits, reviewComments, reviewRequests, users } from "~/db/schema";
import type { RequestMeta, WorkspaceActor } from "~/server/audit/actor";
import { mutate } from "~/server/audit/mutate";
import { AppError } from "~/server/errors";
import { publish } from "~/server/realtime/publish";
import { mentionTokens, resolveMention } from "~/server/shared/markdown";
import { deliver, notifyTx } from "./notifications.service";
import { slugOf } from "./loading";

/*
 * Threaded comments in a review room: markdown (rendered sanitised: no script, no raw
 * HTML), @mentions (by e-mail, autocompleted in the room) that notify the person, threads
 * anchored to a section, resolved and reopened, edits kept with their history.
 */

const Body = z.string().trim().min(1, "body is required: write something.").max(10_000, "body is limited to 10,000 characters.");
const Anchor = z
  .string()
  .regex(
    /^(general|card|signature|lineage|metrics|checks|(check|metric):[\w.:-]{1,100})$/,
    'anchor must be "general", "card", "signature", "lineage", "metrics", "checks", "check:<name>" or "metric:<name>".',
  );

async function request(tx: Tx, workspaceId: string, number: number) {
  const [r] = await tx
    .select()
    .from(reviewRequests)
    .where(and(eq(reviewRequests.workspaceId, workspaceId), eq(reviewRequests.number, number)))
    .for("update");
  if (!r) throw new AppError("NOT_FOUND", `There is no review request #${number} in this workspace.`, { field: "number" });
  return r;
}

/** Members mentioned in `body` (by handle or e-mail), other than the author. */
async function mentioned(tx: Tx, workspaceId: string, body: string, authorId: string) {
  const tokens = mentionTokens(body);
  if (!tokens.length) return [];
  const rows = await tx
    .select({ id: users.id, email: users.email })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(eq(memberships.workspaceId, workspaceId), isNull(users.deactivatedAt)));
  const named = new Set(tokens.map((t) => resolveMention(t, rows)?.id).filter((id): id is string => !!id));
  return rows.filter((r) => named.has(r.id) && r.id !== authorId);
}

async function notifyMentions(tx: Tx, actor: WorkspaceActor, r: typeof reviewRequests.$inferSelect, body: string, already: string[] = []) {
  const people = (await mentioned(tx, actor.workspaceId, body, actor.userId)).filter((p) => !already.includes(p.id));
  const slug = await slugOf(tx, actor.workspaceId);
  return notifyTx(
    tx,
    people.map((p) => ({
      userId: p.id,
      workspaceId: actor.workspaceId,
      kind: "mention" as const,
      title: `${actor.email} mentioned you in review #${r.number}`,
      body: body.slice(0, 300),
      link: `/w/${slug}/reviews/${r.number}`,
      actorLabel: actor.email,
    })),
  );
}

const announce = (r: { workspaceId: string; id: string; number: number }) =>
  publish.toWorkspace(r.workspaceId, "review.changed", { workspaceId: r.workspaceId, requestId: r.id, number: r.number });

export async function addComment(actor: WorkspaceActor, raw: { number: number; body: string; anchor?: string; threadId?: string }, meta: RequestMeta = {}) {
  const body = Body.parse(raw.body);
  const anchor = Anchor.parse(raw.anchor ?? "general");
  let toDeliver: { id: string; userId: string }[] = [];
  const out = await mutate(
    actor,
    async (tx, audit) => {
      const r = await request(tx, actor.workspaceId, raw.number);
      let threadId: string | null = null;
      let threadAnchor = anchor;
      if (raw.threadId) {
        const [root] = await tx
          .select()
          .from(reviewComments)
          .where(and(eq(reviewComments.id, raw.threadId), eq(reviewComments.requestId, r.id)));
        if (!root || root.threadId !== root.id) throw new AppError("NOT_FOUND", "That thread does not exist in this review.", { field: "threadId" });
        threadId = root.id;
        threadAnchor = root.anchor;
      }
      const [c] = await tx
        .insert(reviewComments)
        .values({
          workspaceId: actor.workspaceId,
          requestId: r.id,
          threadId: threadId ?? "00000000-0000-0000-0000-000000000000",
          anchor: threadAnchor,
          authorId: actor.userId,
          body,
        })
        .returning();
      // A root comment is its own thread.
      if (!threadId) await tx.update(reviewComments).set({ threadId: c!.id }).where(eq(reviewComments.id, c!.id));
      // A reply in a resolved thread reopens it.
      if (threadId) await tx.update(reviewComments).set({ resolvedAt: null, resolvedBy: null }).where(eq(reviewComments.id, threadId));
      toDeliver = await notifyMentions(tx, actor, r, body);
      audit({
        action: "review.commented",
        target: { type: "review_request", id: r.id },
        metadata: { number: r.number, commentId: c!.id, threadId: threadId ?? c!.id, anchor: threadAnchor, mentions: toDeliver.length },
      });
      return { r, id: c!.id, threadId: threadId ?? c!.id };
    },
    meta,
  );
  deliver(toDeliver);
  announce(out.r);
  return { id: out.id, threadId: out.threadId };
}

/** Authors edit their own comments; the earlier body is kept. Newly mentioned people are notified. */
export async function editComment(actor: WorkspaceActor, raw: { number: number; commentId: string; body: string }, meta: RequestMeta = {}) {
  const body = Body.parse(raw.body);
  let toDeliver: { id: string; userId: string }[] = [];
  const r = await mutate(
    actor,
    async (tx, audit) => {
      const r = await request(tx, actor.workspaceId, raw.number);
      const [c] = await tx
        .select()
        .from(reviewComments)
        .where(and(eq(reviewComments.id, raw.commentId), eq(reviewComments.requestId, r.id)))
        .for("update");
      if (!c) throw new AppError("NOT_FOUND", "That comment does not exist in this review.", { field: "commentId" });
      if (c.authorId !== actor.userId) throw new AppError("FORBIDDEN", "Only its author can edit a comment.");
      if (c.body === body) throw new AppError("PRECONDITION_FAILED", "Nothing changed in the comment.");
      await tx.insert(reviewCommentEdits).values({ commentId: c.id, body: c.body });
      await tx.update(reviewComments).set({ body, editedAt: new Date() }).where(eq(reviewComments.id, c.id));
      const before = (await mentioned(tx, actor.workspaceId, c.body, actor.userId)).map((p) => p.id);
      toDeliver = await notifyMentions(tx, actor, r, body, before);
      audit({ action: "review.comment_edited", target: { type: "review_request", id: r.id }, metadata: { number: r.number, commentId: c.id } });
      return r;
    },
    meta,
  );
  deliver(toDeliver);
  announce(r);
}

export async function setThreadResolved(actor: WorkspaceActor, raw: { number: number; threadId: string; resolved: boolean }, meta: RequestMeta = {}) {
  const r = await mutate(
    actor,
    async (tx, audit) => {
      const r = await request(tx, actor.workspaceId, raw.number);
      const [root] = await tx
        .select()
        .from(reviewComments)
        .where(and(eq(reviewComments.id, raw.threadId), eq(reviewComments.requestId, r.id)));
      if (!root || root.threadId !== root.id) throw new AppError("NOT_FOUND", "That thread does not exist in this review.", { field: "threadId" });
      if (Boolean(root.resolvedAt) === raw.resolved) throw new AppError("PRECONDITION_FAILED", `The thread is already ${raw.resolved ? "resolved" : "open"}.`);
      await tx
        .update(reviewComments)
        .set(raw.resolved ? { resolvedAt: new Date(), resolvedBy: actor.userId } : { resolvedAt: null, resolvedBy: null })
        .where(eq(reviewComments.id, root.id));
      audit({
        action: raw.resolved ? "review.thread_resolved" : "review.thread_reopened",
        target: { type: "review_request", id: r.id },
        metadata: { number: r.number, threadId: root.id },
      });
      return r;
    },
    meta,
  );
  announce(r);
}

export async function commentHistory(actor: WorkspaceActor, raw: { number: number; commentId: string }) {
  const [c] = await getDb()
    .select({ c: reviewComments })
    .from(reviewComments)
    .innerJoin(reviewRequests, eq(reviewRequests.id, reviewComments.requestId))
    .where(and(eq(reviewComments.id, raw.commentId), eq(reviewRequests.workspaceId, actor.workspaceId), eq(reviewRequests.number, raw.number)));
  if (!c) throw new AppError("NOT_FOUND", "That comment does not exist in this review.", { field: "commentId" });
  const edits = await getDb().select().from(reviewCommentEdits).where(eq(reviewCommentEdits.commentId, raw.commentId)).orderBy(reviewCommentEdits.replacedAt);
  return { current: c.c.body, earlier: edits.map((e) => ({ body: e.body, replacedAt: e.replacedAt })) };
}

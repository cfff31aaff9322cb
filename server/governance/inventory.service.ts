import "server-only";
import { and, eq, inArray, isNull, sql, type SQL } from "drizzle-orm";
import { getDb, type DbOrTx } from "~/db/client";
import { auditEvents, memberships, models, users, workspaces } from "~/db/schema";
import type { RequestMeta, SystemActor, WorkspaceActor } from "~/server/audit/actor";
import { mutate } from "~/server/audit/mutate";
import { AppError } from "~/server/errors";
import { modelByName, noSuchModel } from "~/server/registry/lookup";
import { deliver, notifyTx, type NewNotification } from "~/server/reviews/notifications.service";
import { askedQuestions, assessRisk, QUESTIONNAIRE, revalidationStatus, type FrameworkFinding } from "~/server/shared/inventory.risk";
import { lock, LOCKS } from "~/server/platform/locks";
import {
  InventoryData,
  RevalidationData,
  type InventoryFilter,
  type InventoryStatus,
  type RecordRevalidationInput,
  type RiskAnswers,
  type RiskTier,
  type UpdateInventoryInput,
} from "~/server/shared/inventory.schema";

/*
 * The model inventory (model risk management): who owns each model, what it is for, its
 * risk tier and why, and when it is due for revalidation.
 *
 * "Last revalidated" is computed, not only stored: the latest of a revalidation recorded
 * by hand (models.last_revalidated_at), the latest approved review of the model, and the
 * latest run of the version that holds `production` that
 * failed no check (passed, or passed with warnings). Reviews and runs are
 * only read here, so approving a review or passing a validation counts without those
 * services knowing about the inventory.
 */

export type RevalidationSource = { kind: "recorded" | "review" | "validation"; at: Date; label: string; ref: number | null };

export type InventoryEntry = {
  modelId: string;
  workspaceId: string;
  name: string;
  owner: { id: string; name: string; email: string; member: boolean } | null;
  intendedUse: string | null;
  riskTier: RiskTier | null;
  riskRationale: string | null;
  riskAnswers: Partial<RiskAnswers> | null;
  /** Recomputed from the stored answers: which framework items drove the tier. */
  frameworks: FrameworkFinding[];
  revalidationDays: number | null;
  lastRevalidatedAt: Date | null;
  lastRevalidatedVia: RevalidationSource | null;
  dueAt: Date | null;
  status: InventoryStatus;
  createdAt: Date;
};

/** Raw subquery timestamps come back from the driver as strings. */
const date = (v: string | Date | null) => (v === null ? null : v instanceof Date ? v : new Date(v));

async function loadEntries(db: DbOrTx, where: SQL | undefined, now = new Date()): Promise<InventoryEntry[]> {
  const rows = await db
    .select({
      m: models,
      ownerName: users.name,
      ownerEmail: users.email,
      ownerMember: sql<boolean>`exists (select 1 from ${memberships} where ${memberships.workspaceId} = ${models.workspaceId} and ${memberships.userId} = ${models.ownerId}) and ${users.deactivatedAt} is null`,
      reviewAt: sql<string | null>`(select max(r.closed_at) from review_requests r where r.model_id = ${models.id} and r.status = 'approved')`,
      reviewNumber: sql<
        number | null
      >`(select r.number from review_requests r where r.model_id = ${models.id} and r.status = 'approved' and r.closed_at is not null order by r.closed_at desc limit 1)`,
      // A run that passed with warnings failed no check: it still validated the version.
      run: sql<{
        at: string;
        number: number;
        status: string;
      } | null>`(select json_build_object('at', pr.finished_at, 'number', pr.number, 'status', pr.status) from pipeline_runs pr join model_aliases ma on ma.model_version_id = pr.model_version_id where ma.model_id = ${models.id} and ma.alias = 'production' and pr.status in ('passed', 'warned') and pr.finished_at is not null order by pr.finished_at desc limit 1)`,
    })
    .from(models)
    .leftJoin(users, eq(users.id, models.ownerId))
    .where(where)
    .orderBy(models.name);
  return rows.map((r) => {
    const sources: RevalidationSource[] = [];
    if (r.m.lastRevalidatedAt) sources.push({ kind: "recorded", at: r.m.lastRevalidatedAt, label: "recorded by hand", ref: null });
    const reviewAt = date(r.reviewAt);
    if (reviewAt) sources.push({ kind: "review", at: reviewAt, label: `review #${r.reviewNumber} approved`, ref: r.reviewNumber });
    if (r.run)
      sources.push({
        kind: "validation",
        at: new Date(r.run.at),
        label: `run #${r.run.number} of the production version ${r.run.status === "warned" ? "passed with warnings" : "passed"}`,
        ref: r.run.number,
      });
    const via = sources.reduce<RevalidationSource | null>((best, s) => (!best || s.at > best.at ? s : best), null);
    const { dueAt, status } = revalidationStatus(
      { riskTier: r.m.riskTier, revalidationDays: r.m.revalidationDays, lastRevalidatedAt: via?.at ?? null, createdAt: r.m.createdAt },
      now,
    );
    const answers = (r.m.riskAnswers ?? null) as Partial<RiskAnswers> | null;
    return {
      modelId: r.m.id,
      workspaceId: r.m.workspaceId,
      name: r.m.name,
      owner: r.m.ownerId && r.ownerEmail ? { id: r.m.ownerId, name: r.ownerName ?? r.ownerEmail, email: r.ownerEmail, member: !!r.ownerMember } : null,
      intendedUse: r.m.intendedUse,
      riskTier: r.m.riskTier,
      riskRationale: r.m.riskRationale,
      riskAnswers: answers,
      frameworks: answers ? assessRisk(answers).frameworks : [],
      revalidationDays: r.m.revalidationDays,
      lastRevalidatedAt: via?.at ?? null,
      lastRevalidatedVia: via,
      dueAt,
      status,
      createdAt: r.m.createdAt,
    };
  });
}

/**
 * One model's inventory entry — owner, intended use, tier and rationale, cadence, last
 * revalidated (and by what), next due date and status — or null if there is no such model.
 * Not scoped to an actor: the caller has already found the model in its workspace (the
 * compliance report reads it this way).
 */
export async function inventoryOf(db: DbOrTx, modelId: string, now = new Date()): Promise<InventoryEntry | null> {
  const [entry] = await loadEntries(db, eq(models.id, modelId), now);
  return entry ?? null;
}

/** The workspace's inventory, filtered by tier ("unassessed" for none), status and owner ("none" for no owner). */
export async function listInventory(actor: WorkspaceActor, filter: InventoryFilter = {}, now = new Date()) {
  const entries = await loadEntries(getDb(), eq(models.workspaceId, actor.workspaceId), now);
  return entries.filter(
    (e) =>
      (!filter.tier || (filter.tier === "unassessed" ? e.riskTier === null : e.riskTier === filter.tier)) &&
      (!filter.status || e.status === filter.status) &&
      (!filter.owner || (filter.owner === "none" ? e.owner === null : e.owner?.id === filter.owner)),
  );
}

/** One model's inventory entry, by name. */
export async function getInventory(actor: WorkspaceActor, name: string) {
  const [entry] = await loadEntries(getDb(), and(eq(models.workspaceId, actor.workspaceId), eq(models.name, name)));
  if (!entry) throw noSuchModel(name, "name");
  return entry;
}

/** The questionnaire as plain data (for API clients; the dialog imports it directly). */
export function questionnaire() {
  return QUESTIONNAIRE.map((q) => ({
    id: q.id,
    framework: q.framework,
    text: q.text,
    help: "help" in q ? q.help : null,
    options: q.options.map((o) => ({ value: o.value, label: o.label, item: "item" in o ? o.item : null })),
    askedOnlyFor: "askedWhen" in q ? "an EU AI Act Annex III area" : null,
  }));
}

class NothingChanged extends Error {}

/** JSON with sorted keys: jsonb returns an object's keys in its own order. */
const canonical = (v: unknown): string =>
  v && typeof v === "object" && !Array.isArray(v) && !(v instanceof Date)
    ? `{${Object.keys(v)
        .sort()
        .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
        .join(",")}}`
    : JSON.stringify(v);

const lockModel = (tx: DbOrTx, workspaceId: string, name: string) => modelByName(tx, workspaceId, name, { field: "name", forUpdate: true });

/**
 * Sets a model's owner, intended use, questionnaire answers and revalidation cadence; the
 * tier and its rationale are computed from the answers (assessRisk). The owner must be an
 * active member of the workspace. Audited as model.inventory_updated with before/after of
 * every changed field; saving what is already there changes and records nothing.
 */
export async function updateInventory(actor: WorkspaceActor, input: Pick<UpdateInventoryInput, "name" | "data">, meta: RequestMeta = {}) {
  const data = InventoryData.parse(input.data);
  const assessment = assessRisk(data.riskAnswers);
  if (!assessment.tier) throw new AppError("INVALID", "Answer every question of the risk questionnaire.", { field: "riskAnswers" });
  // Keep only the answers that were asked, so a stale Article 6(3) answer cannot linger.
  const asked = new Set<string>(askedQuestions(data.riskAnswers).map((q) => q.id));
  const answers = Object.fromEntries(Object.entries(data.riskAnswers).filter(([k, v]) => v !== undefined && asked.has(k)));
  try {
    await mutate(
      actor,
      async (tx, audit) => {
        const before = await lockModel(tx, actor.workspaceId, input.name);
        const [owner] = await tx
          .select({ id: users.id, email: users.email })
          .from(memberships)
          .innerJoin(users, eq(users.id, memberships.userId))
          .where(and(eq(memberships.workspaceId, actor.workspaceId), eq(memberships.userId, data.ownerId), isNull(users.deactivatedAt)));
        if (!owner) throw new AppError("INVALID", "The owner must be an active member of this workspace.", { field: "ownerId" });
        const after = {
          ownerId: data.ownerId,
          intendedUse: data.intendedUse,
          riskTier: assessment.tier,
          riskRationale: assessment.rationale,
          riskAnswers: answers,
          revalidationDays: data.revalidationDays,
        };
        const changes: Record<string, [unknown, unknown]> = {};
        for (const k of Object.keys(after) as (keyof typeof after)[]) {
          if (canonical(before[k] ?? null) !== canonical(after[k])) changes[k] = [before[k] ?? null, after[k]];
        }
        if (!Object.keys(changes).length) throw new NothingChanged();
        await tx
          .update(models)
          .set({ ...after, updatedAt: new Date() })
          .where(and(eq(models.id, before.id), eq(models.workspaceId, actor.workspaceId)));
        audit({
          action: "model.inventory_updated",
          target: { type: "model", id: before.id },
          changes,
          metadata: { name: before.name, owner: owner.email, tier: assessment.tier },
        });
      },
      meta,
    );
  } catch (e) {
    if (!(e instanceof NothingChanged)) throw e;
  }
  return getInventory(actor, input.name);
}

/**
 * Records a revalidation done outside Steward's reviews and pipelines (compliance
 * officers): sets last_revalidated_at with a note, audited as model.revalidated. A date in
 * the future, or before a revalidation already recorded, is refused.
 */
export async function recordRevalidation(actor: WorkspaceActor, input: Pick<RecordRevalidationInput, "name" | "data">, meta: RequestMeta = {}) {
  const data = RevalidationData.parse(input.data);
  const now = new Date();
  const at = data.at ?? now;
  // A minute of slack for clocks that disagree.
  if (at.getTime() > now.getTime() + 60_000) throw new AppError("INVALID", "A revalidation cannot be recorded in the future.", { field: "at" });
  await mutate(
    actor,
    async (tx, audit) => {
      const before = await lockModel(tx, actor.workspaceId, input.name);
      if (at < before.createdAt) throw new AppError("INVALID", `The date is before ${before.name} was registered.`, { field: "at" });
      if (before.lastRevalidatedAt && at < before.lastRevalidatedAt) {
        throw new AppError("INVALID", `A later revalidation is already recorded (${before.lastRevalidatedAt.toISOString().slice(0, 10)}).`, { field: "at" });
      }
      const entry = await inventoryOf(tx, before.id, now);
      await tx
        .update(models)
        .set({ lastRevalidatedAt: at, updatedAt: new Date() })
        .where(and(eq(models.id, before.id), eq(models.workspaceId, actor.workspaceId)));
      audit({
        action: "model.revalidated",
        target: { type: "model", id: before.id },
        changes: { lastRevalidatedAt: [before.lastRevalidatedAt?.toISOString() ?? null, at.toISOString()] },
        metadata: { name: before.name, note: data.note, previousDueAt: entry?.dueAt?.toISOString() ?? null, status: entry?.status ?? null },
      });
    },
    meta,
  );
  return getInventory(actor, input.name);
}

export const REVALIDATION_JOB = "inventory.revalidations";

/**
 * Finds every model whose revalidation is due soon or overdue and tells its owner and the
 * workspace's compliance officers — once per due date: each notice is recorded as a
 * model.revalidation_due event carrying the due date, and a due date already recorded is
 * skipped (under a lock per model, so two workers running at once notify once).
 */
export async function notifyRevalidationsDue(now = new Date()) {
  const due = (await loadEntries(getDb(), undefined, now)).filter((e) => e.status === "due soon" || e.status === "overdue");
  const notified: { modelId: string; dueAt: string; recipients: number }[] = [];
  // The notices already sent, read once for every due model (then re-checked under the lock).
  const sent = new Set(
    due.length
      ? (
          await getDb()
            .select({ modelId: auditEvents.targetId, dueAt: sql<string>`${auditEvents.metadata}->>'dueAt'` })
            .from(auditEvents)
            .where(
              and(
                eq(auditEvents.action, "model.revalidation_due"),
                eq(auditEvents.targetType, "model"),
                inArray(
                  auditEvents.targetId,
                  due.map((e) => e.modelId),
                ),
              ),
            )
        ).map((r) => `${r.modelId}|${r.dueAt}`)
      : [],
  );
  for (const e of due) {
    const dueAt = e.dueAt!.toISOString();
    if (sent.has(`${e.modelId}|${dueAt}`)) continue;
    const actor: SystemActor = { type: "system", job: REVALIDATION_JOB, workspaceId: e.workspaceId };
    const rows = await mutate(actor, async (tx, audit) => {
      await lock(tx, LOCKS.revalidation(e.modelId));
      // Another worker may have notified while this one was reading: nothing to write, so roll back.
      if (await alreadyNotified(tx, e, dueAt)) throw new NothingChanged();
      const [ws] = await tx.select({ slug: workspaces.slug }).from(workspaces).where(eq(workspaces.id, e.workspaceId));
      const people = await tx
        .select({ id: users.id, role: memberships.role })
        .from(memberships)
        .innerJoin(users, eq(users.id, memberships.userId))
        .where(and(eq(memberships.workspaceId, e.workspaceId), isNull(users.deactivatedAt)));
      const recipients = people.filter((p) => p.role === "compliance_officer" || p.id === e.owner?.id).map((p) => p.id);
      const day = dueAt.slice(0, 10);
      const title = e.status === "overdue" ? `Revalidation of ${e.name} is overdue (due ${day})` : `Revalidation of ${e.name} is due on ${day}`;
      const body = `${e.name} is a ${e.riskTier}-risk model revalidated every ${e.revalidationDays} days; last revalidated ${e.lastRevalidatedAt ? `${e.lastRevalidatedAt.toISOString().slice(0, 10)} (${e.lastRevalidatedVia!.label})` : "never"}. Owner: ${e.owner?.name ?? "none"}.`;
      const items: NewNotification[] = recipients.map((userId) => ({
        userId,
        workspaceId: e.workspaceId,
        kind: "revalidation",
        title,
        body,
        link: `/w/${ws!.slug}/models/${encodeURIComponent(e.name)}`,
      }));
      const inserted = await notifyTx(tx, items);
      audit({
        action: "model.revalidation_due",
        target: { type: "model", id: e.modelId },
        metadata: { name: e.name, dueAt, status: e.status, tier: e.riskTier, owner: e.owner?.email ?? null, notified: inserted.length },
      });
      return inserted;
    }).catch((err: unknown) => {
      if (err instanceof NothingChanged) return null;
      throw err;
    });
    if (!rows) continue;
    deliver(rows);
    notified.push({ modelId: e.modelId, dueAt, recipients: rows.length });
  }
  return { due: due.length, notified };
}

async function alreadyNotified(db: DbOrTx, e: InventoryEntry, dueAt: string) {
  const [hit] = await db
    .select({ id: auditEvents.id })
    .from(auditEvents)
    .where(
      and(
        eq(auditEvents.targetType, "model"),
        eq(auditEvents.targetId, e.modelId),
        eq(auditEvents.workspaceId, e.workspaceId),
        eq(auditEvents.action, "model.revalidation_due"),
        sql`${auditEvents.metadata}->>'dueAt' = ${dueAt}`,
      ),
    )
    .limit(1);
  return !!hit;
}

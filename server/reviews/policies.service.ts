import "server-only";
import canonicalize from "canonicalize";
import { and, desc, eq, inArray, isNull, sql } from "drizzle-orm";
import { alias as aliasTable } from "drizzle-orm/pg-core";
import { z } from "zod";
import { getDb, type DbOrTx, type Tx } from "~/db/client";
import { approvalPolicies, memberships, policyChanges, users } from "~/db/schema";
import type { PolicyRules } from "~/db/schema/reviews";
import type { RequestMeta, WorkspaceActor } from "~/server/audit/actor";
import { mutate, type AuditFn } from "~/server/audit/mutate";
import { can } from "~/server/shared/permissions";
import { AppError, isUniqueViolation } from "~/server/errors";
import { AliasName } from "~/server/shared/registry.schema";
import { deliver, notifyTx } from "./notifications.service";
import { DEFAULT_POLICIES, normalizeRules, policyDiff, PolicyRulesInput } from "./policy";
import { lock, LOCKS } from "~/server/platform/locks";

/*
 * Approval policies, versioned per workspace and alias, and the two-person rule over them:
 * a change to the policy of a protected alias (weaker, stronger or switched off) is only
 * proposed by one admin or owner and applies when another approves it; until then the
 * current policy governs. Every step is audited with the before and after.
 */

export type EffectivePolicy = { alias: string; rules: PolicyRules; version: number; source: "default" | "workspace" };

/**
 * The policy governing an alias in a workspace, or null when the alias is not protected.
 * `staging` and `production` are protected by default; a saved policy (versioned) replaces
 * the default, and a saved policy switched off unprotects the alias. Pending changes do
 * not count until approved.
 */
export async function policyFor(db: DbOrTx, workspaceId: string, alias: string): Promise<EffectivePolicy | null> {
  const [p] = await db
    .select()
    .from(approvalPolicies)
    .where(and(eq(approvalPolicies.workspaceId, workspaceId), eq(approvalPolicies.alias, alias)))
    .orderBy(desc(approvalPolicies.version))
    .limit(1);
  if (p) return p.active ? { alias, rules: p.rules, version: p.version, source: "workspace" } : null;
  const d = DEFAULT_POLICIES[alias];
  return d ? { alias, rules: d, version: 0, source: "default" } : null;
}

/** The newest saved version of an alias's policy (active or not), or null when only a default (or nothing) exists. */
async function lastSaved(db: DbOrTx, workspaceId: string, alias: string) {
  const [last] = await db
    .select({ version: approvalPolicies.version, active: approvalPolicies.active, rules: approvalPolicies.rules })
    .from(approvalPolicies)
    .where(and(eq(approvalPolicies.workspaceId, workspaceId), eq(approvalPolicies.alias, alias)))
    .orderBy(desc(approvalPolicies.version))
    .limit(1);
  return last ?? null;
}

/** What the alias has now, for a diff: the saved rules (even switched off) or the default; null when it never had any. */
function currentOf(last: Awaited<ReturnType<typeof lastSaved>>, alias: string) {
  if (last) return { rules: last.rules, active: last.active, version: last.version };
  const d = DEFAULT_POLICIES[alias];
  return d ? { rules: d, active: true, version: 0 } : null;
}

const lockPolicy = (tx: Tx, workspaceId: string, alias: string) => lock(tx, LOCKS.policy(workspaceId, alias));
const isAdmin = (actor: WorkspaceActor) => can(actor.role, "workspace:update");
const settingsLink = (slug: string) => `/w/${slug}/settings/policies`;

async function slugOf(db: DbOrTx, workspaceId: string) {
  const rows = await db.execute<{ slug: string }>(sql`select slug from workspaces where id = ${workspaceId}`);
  return rows[0]!.slug;
}

/** Every alias with a policy (defaults included), newest version each, its history, and the change waiting for a second admin. */
export async function listPolicies(actor: WorkspaceActor) {
  const db = getDb();
  const approver = aliasTable(users, "approver");
  const rows = await db
    .select({ p: approvalPolicies, by: users.name, approvedBy: approver.name })
    .from(approvalPolicies)
    .leftJoin(users, eq(users.id, approvalPolicies.createdBy))
    .leftJoin(approver, eq(approver.id, approvalPolicies.approvedBy))
    .where(eq(approvalPolicies.workspaceId, actor.workspaceId))
    .orderBy(approvalPolicies.alias, desc(approvalPolicies.version));
  type History = { version: number; active: boolean; savedBy: string | null; approvedBy: string | null; savedAt: Date };
  const out = new Map<
    string,
    {
      alias: string;
      rules: PolicyRules;
      version: number;
      active: boolean;
      source: "default" | "workspace";
      savedBy: string | null;
      approvedBy: string | null;
      savedAt: Date | null;
      history: History[];
    }
  >();
  for (const { p, by, approvedBy } of rows) {
    const h = { version: p.version, active: p.active, savedBy: by, approvedBy, savedAt: p.createdAt };
    const e = out.get(p.alias);
    if (!e)
      out.set(p.alias, {
        alias: p.alias,
        rules: normalizeRules(p.rules),
        version: p.version,
        active: p.active,
        source: "workspace",
        savedBy: by,
        approvedBy,
        savedAt: p.createdAt,
        history: [h],
      });
    else e.history.push(h);
  }
  for (const [alias, rules] of Object.entries(DEFAULT_POLICIES)) {
    if (!out.has(alias))
      out.set(alias, {
        alias,
        rules: normalizeRules(rules),
        version: 0,
        active: true,
        source: "default",
        savedBy: null,
        approvedBy: null,
        savedAt: null,
        history: [],
      });
  }
  const pending = await db
    .select({ c: policyChanges, proposer: users.name })
    .from(policyChanges)
    .innerJoin(users, eq(users.id, policyChanges.proposedBy))
    .where(and(eq(policyChanges.workspaceId, actor.workspaceId), eq(policyChanges.status, "pending")));
  return [...out.values()]
    .map((p) => {
      const c = pending.find((x) => x.c.alias === p.alias);
      return {
        ...p,
        pendingChange: c
          ? {
              id: c.c.id,
              rules: normalizeRules(c.c.rules),
              active: c.c.active,
              reason: c.c.reason,
              baseVersion: c.c.baseVersion,
              proposedBy: { id: c.c.proposedBy, name: c.proposer },
              proposedAt: c.c.createdAt,
              /** Proposed against an older version: it can no longer be approved. */
              stale: c.c.baseVersion !== p.version,
              diff: policyDiff({ rules: p.rules, active: p.active }, { rules: c.c.rules, active: c.c.active }),
            }
          : null,
      };
    })
    .sort((a, b) => a.alias.localeCompare(b.alias));
}

/** Admins and owners other than `except`: the people who can approve a policy change. */
async function otherAdmins(tx: Tx, workspaceId: string, except: string) {
  const rows = await tx
    .select({ id: users.id, role: memberships.role })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(eq(memberships.workspaceId, workspaceId), inArray(memberships.role, ["admin", "owner"]), isNull(users.deactivatedAt)));
  return rows.filter((r) => r.id !== except);
}

function parseRules(raw: unknown): PolicyRules {
  const parsed = PolicyRulesInput.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new AppError("INVALID", i.message.includes(":") || i.message.startsWith(String(i.path[0] ?? "")) ? i.message : `${i.path.join(".")}: ${i.message}`, {
      field: `rules.${i.path.join(".")}`,
    });
  }
  return parsed.data;
}

const Reason = z.string().trim().max(2000).optional();

export type SavePolicyResult =
  | { pending: false; alias: string; version: number; active: boolean }
  | { pending: true; alias: string; changeId: string; baseVersion: number; approvers: number };

/**
 * Saves an alias's policy (admins and owners). On an alias that is protected now (a saved
 * policy in force, or a default), nothing applies yet: the change waits for another admin
 * or owner (decidePolicyChange), whether it weakens, tightens or switches the policy off —
 * every change, because "strictly stronger" has corner cases (a named check replacing "*",
 * an admin slot replacing a reviewer slot) that one person should not get to decide. On an
 * alias that is not protected now (no default and never saved, or switched off), the
 * policy applies at once: protecting an alias only adds a gate.
 */
export async function savePolicy(
  actor: WorkspaceActor,
  input: { alias: string; rules: unknown; active?: boolean; reason?: string },
  meta: RequestMeta = {},
): Promise<SavePolicyResult> {
  const alias = AliasName.parse(input.alias);
  const rules = parseRules(input.rules);
  const active = input.active ?? true;
  const reason = Reason.parse(input.reason) || null;
  if (!isAdmin(actor)) throw new AppError("FORBIDDEN", "Only admins and owners may change approval policies.");
  let toDeliver: { id: string; userId: string }[] = [];
  try {
    const out = await mutate(
      actor,
      async (tx, audit): Promise<SavePolicyResult> => {
        await lockPolicy(tx, actor.workspaceId, alias);
        const inForce = await policyFor(tx, actor.workspaceId, alias);
        const last = await lastSaved(tx, actor.workspaceId, alias);
        const current = currentOf(last, alias);
        const baseVersion = last?.version ?? 0;
        const wasActive = Boolean(inForce);
        if (current && current.active === active && canonicalize(normalizeRules(current.rules)) === canonicalize(normalizeRules(rules)))
          throw new AppError("PRECONDITION_FAILED", "Nothing changed: this is the policy already.");
        if (!current && !active) throw new AppError("PRECONDITION_FAILED", `"${alias}" has no policy to switch off.`);
        const diff = policyDiff(current ? { rules: current.rules, active: current.active } : null, { rules, active });
        const changes = { rules: [current?.rules ?? null, rules] as [unknown, unknown], active: [wasActive, active] as [unknown, unknown] };

        if (!inForce) {
          // Not protected now: protecting it (or editing a switched-off policy) applies at once.
          const version = baseVersion + 1;
          await tx.insert(approvalPolicies).values({ workspaceId: actor.workspaceId, alias, version, rules, active, createdBy: actor.userId });
          audit({
            action: "policy.saved",
            target: { type: "approval_policy", id: `${actor.workspaceId}:${alias}` },
            changes,
            metadata: { alias, version, reason },
          });
          return { pending: false, alias, version, active };
        }

        const [open] = await tx
          .select({ id: policyChanges.id, proposer: users.name })
          .from(policyChanges)
          .innerJoin(users, eq(users.id, policyChanges.proposedBy))
          .where(and(eq(policyChanges.workspaceId, actor.workspaceId), eq(policyChanges.alias, alias), eq(policyChanges.status, "pending")));
        if (open)
          throw new AppError(
            "CONFLICT",
            `A change to the "${alias}" policy proposed by ${open.proposer} is waiting for approval: approve, reject or withdraw it before proposing another.`,
            { field: "alias" },
          );
        const [change] = await tx
          .insert(policyChanges)
          .values({ workspaceId: actor.workspaceId, alias, rules, active, baseVersion, reason, proposedBy: actor.userId })
          .returning({ id: policyChanges.id });
        audit({
          action: "policy.change_proposed",
          target: { type: "approval_policy", id: `${actor.workspaceId}:${alias}` },
          changes,
          metadata: { alias, changeId: change!.id, baseVersion, reason, weakens: diff.filter((d) => d.weakens).map((d) => d.label) },
        });
        const admins = await otherAdmins(tx, actor.workspaceId, actor.userId);
        const link = settingsLink(await slugOf(tx, actor.workspaceId));
        const weak = diff.filter((d) => d.weakens);
        toDeliver = await notifyTx(
          tx,
          admins.map((a) => ({
            userId: a.id,
            workspaceId: actor.workspaceId,
            kind: "approval_needed" as const,
            title: `${actor.email} proposes a change to the "${alias}" approval policy: it needs your approval`,
            body:
              [
                active ? null : "Switches the policy off: the alias would no longer be protected.",
                weak.length ? `Weakens: ${weak.map((d) => `${d.label} ${d.before} → ${d.after}`).join("; ")}.` : null,
                reason,
              ]
                .filter(Boolean)
                .join(" ") || undefined,
            link,
            actorLabel: actor.email,
          })),
        );
        return { pending: true, alias, changeId: change!.id, baseVersion, approvers: admins.length };
      },
      meta,
    );
    deliver(toDeliver);
    return out;
  } catch (err) {
    if (isUniqueViolation(err))
      throw new AppError("CONFLICT", `A change to the "${alias}" policy is already waiting for approval: approve, reject or withdraw it first.`, {
        field: "alias",
        cause: err,
      });
    throw err;
  }
}

/** The change, locked under its alias's policy lock (policy lock → change row), refusing one that is not pending. */
async function lockPending(tx: Tx, workspaceId: string, id: string) {
  const [peek] = await tx
    .select({ alias: policyChanges.alias })
    .from(policyChanges)
    .where(and(eq(policyChanges.id, id), eq(policyChanges.workspaceId, workspaceId)));
  if (!peek) throw new AppError("NOT_FOUND", "There is no such policy change in this workspace.", { field: "id" });
  await lockPolicy(tx, workspaceId, peek.alias);
  const [c] = await tx.select().from(policyChanges).where(eq(policyChanges.id, id)).for("update");
  if (c!.status !== "pending") throw new AppError("PRECONDITION_FAILED", `This change to the "${c!.alias}" policy is already ${c!.status}.`);
  return c!;
}

export const DecidePolicyChangeInput = z.object({
  id: z.uuid("id must be a policy change id."),
  decision: z.enum(["approve", "reject"]),
  note: z.string().trim().max(2000).optional(),
});

/**
 * Approves or rejects a pending policy change: an admin or owner who did not propose it.
 * Approving writes the new policy version (createdBy the proposer, approvedBy the approver)
 * in the same transaction, under the policy lock; a change proposed against a version that
 * is no longer the newest is stale and cannot be approved (it is closed as stale).
 */
export async function decidePolicyChange(actor: WorkspaceActor, raw: z.input<typeof DecidePolicyChangeInput>, meta: RequestMeta = {}) {
  const input = DecidePolicyChangeInput.parse(raw);
  if (!isAdmin(actor)) throw new AppError("FORBIDDEN", "Only admins and owners may approve or reject a policy change.");
  let toDeliver: { id: string; userId: string }[] = [];
  const out = await mutate(
    actor,
    async (tx, audit: AuditFn) => {
      const c = await lockPending(tx, actor.workspaceId, input.id);
      if (c.proposedBy === actor.userId) throw new AppError("FORBIDDEN", "You proposed this change: another admin or owner must approve or reject it.");
      const last = await lastSaved(tx, actor.workspaceId, c.alias);
      const current = currentOf(last, c.alias);
      const currentVersion = last?.version ?? 0;
      const target = { type: "approval_policy", id: `${actor.workspaceId}:${c.alias}` };
      const now = new Date();
      const slug = await slugOf(tx, actor.workspaceId);
      const tell = async (title: string, body?: string) =>
        (toDeliver = await notifyTx(tx, [
          { userId: c.proposedBy, workspaceId: actor.workspaceId, kind: "decision", title, body, link: settingsLink(slug), actorLabel: actor.email },
        ]));
      if (input.decision === "approve" && c.baseVersion !== currentVersion) {
        // Stale: the policy changed since the proposal. Closed, audited, and refused below (after commit).
        await tx
          .update(policyChanges)
          .set({ status: "stale", decidedBy: actor.userId, decidedAt: now, decisionNote: input.note ?? null })
          .where(eq(policyChanges.id, c.id));
        audit({
          action: "policy.change_rejected",
          target,
          metadata: { alias: c.alias, changeId: c.id, stale: true, baseVersion: c.baseVersion, currentVersion, note: input.note ?? null },
        });
        await tell(
          `Your change to the "${c.alias}" policy is stale: the policy is at version ${currentVersion} now`,
          "Propose it again against the current policy.",
        );
        return { status: "stale" as const, alias: c.alias, baseVersion: c.baseVersion, currentVersion };
      }
      const wasActive = Boolean(await policyFor(tx, actor.workspaceId, c.alias));
      const changes = { rules: [current?.rules ?? null, c.rules] as [unknown, unknown], active: [wasActive, c.active] as [unknown, unknown] };
      if (input.decision === "reject") {
        await tx
          .update(policyChanges)
          .set({ status: "rejected", decidedBy: actor.userId, decidedAt: now, decisionNote: input.note ?? null })
          .where(eq(policyChanges.id, c.id));
        audit({
          action: "policy.change_rejected",
          target,
          changes,
          metadata: { alias: c.alias, changeId: c.id, proposedBy: c.proposedBy, note: input.note ?? null },
        });
        await tell(`${actor.email} rejected your change to the "${c.alias}" policy`, input.note);
        return { status: "rejected" as const, alias: c.alias };
      }
      const version = currentVersion + 1;
      await tx.insert(approvalPolicies).values({
        workspaceId: actor.workspaceId,
        alias: c.alias,
        version,
        rules: c.rules,
        active: c.active,
        createdBy: c.proposedBy,
        approvedBy: actor.userId,
      });
      await tx
        .update(policyChanges)
        .set({ status: "approved", decidedBy: actor.userId, decidedAt: now, decisionNote: input.note ?? null, appliedVersion: version })
        .where(eq(policyChanges.id, c.id));
      const diff = policyDiff(current ? { rules: current.rules, active: current.active } : null, { rules: c.rules, active: c.active });
      audit({
        action: "policy.change_approved",
        target,
        changes,
        metadata: {
          alias: c.alias,
          changeId: c.id,
          version,
          proposedBy: c.proposedBy,
          approvedBy: actor.userId,
          note: input.note ?? null,
          weakens: diff.filter((d) => d.weakens).map((d) => d.label),
        },
      });
      await tell(`${actor.email} approved your change to the "${c.alias}" policy: version ${version} applies now`, input.note);
      return { status: "approved" as const, alias: c.alias, version, active: c.active };
    },
    meta,
  );
  deliver(toDeliver);
  if (out.status === "stale")
    throw new AppError(
      "CONFLICT",
      `This change was proposed against version ${out.baseVersion} of the "${out.alias}" policy, which is at version ${out.currentVersion} now: it was closed as stale. Propose it again against the current policy.`,
    );
  return out;
}

/** The proposer takes back a pending change. */
export async function withdrawPolicyChange(actor: WorkspaceActor, input: { id: string }, meta: RequestMeta = {}) {
  const id = z.uuid("id must be a policy change id.").parse(input.id);
  const out = await mutate(
    actor,
    async (tx, audit) => {
      const c = await lockPending(tx, actor.workspaceId, id);
      if (c.proposedBy !== actor.userId) throw new AppError("FORBIDDEN", "Only the admin who proposed this change may withdraw it; reject it instead.");
      await tx.update(policyChanges).set({ status: "withdrawn", decidedBy: actor.userId, decidedAt: new Date() }).where(eq(policyChanges.id, c.id));
      audit({
        action: "policy.change_withdrawn",
        target: { type: "approval_policy", id: `${actor.workspaceId}:${c.alias}` },
        metadata: { alias: c.alias, changeId: c.id },
      });
      return { status: "withdrawn" as const, alias: c.alias };
    },
    meta,
  );
  return out;
}

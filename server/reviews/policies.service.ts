import "server-only";
import canonicalize from "canonicalize";
import { and, desc, eq, sql } from "drizzle-orm";
import { getDb, type DbOrTx } from "~/db/client";
import { approvalPolicies, users } from "~/db/schema";
import type { PolicyRules } from "~/db/schema/reviews";
import type { RequestMeta, WorkspaceActor } from "~/server/audit/actor";
import { mutate } from "~/server/audit/mutate";
import { AppError } from "~/server/errors";
import { AliasName } from "~/server/registry/registry.schema";
import { DEFAULT_POLICIES, PolicyRulesInput } from "./policy";

export type EffectivePolicy = { alias: string; rules: PolicyRules; version: number; source: "default" | "workspace" };

/**
 * The policy governing an alias in a workspace, or null when the alias is not protected.
 * `staging` and `production` are protected by default; an admin's saved policy (versioned)
 * replaces the default, and a saved policy switched off unprotects the alias.
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

/** Every alias with a policy (defaults included), newest version each, with its history length. */
export async function listPolicies(actor: WorkspaceActor) {
  const rows = await getDb()
    .select({ p: approvalPolicies, by: users.name })
    .from(approvalPolicies)
    .leftJoin(users, eq(users.id, approvalPolicies.createdBy))
    .where(eq(approvalPolicies.workspaceId, actor.workspaceId))
    .orderBy(approvalPolicies.alias, desc(approvalPolicies.version));
  const out = new Map<string, { alias: string; rules: PolicyRules; version: number; active: boolean; source: "default" | "workspace"; savedBy: string | null; savedAt: Date | null; history: { version: number; active: boolean; savedBy: string | null; savedAt: Date }[] }>();
  for (const { p, by } of rows) {
    const e = out.get(p.alias);
    if (!e) out.set(p.alias, { alias: p.alias, rules: p.rules, version: p.version, active: p.active, source: "workspace", savedBy: by, savedAt: p.createdAt, history: [{ version: p.version, active: p.active, savedBy: by, savedAt: p.createdAt }] });
    else e.history.push({ version: p.version, active: p.active, savedBy: by, savedAt: p.createdAt });
  }
  for (const [alias, rules] of Object.entries(DEFAULT_POLICIES)) {
    if (!out.has(alias)) out.set(alias, { alias, rules, version: 0, active: true, source: "default", savedBy: null, savedAt: null, history: [] });
  }
  return [...out.values()].sort((a, b) => a.alias.localeCompare(b.alias));
}

/** Saves a new version of an alias's policy (admins). Every save is audited with before and after. */
export async function savePolicy(actor: WorkspaceActor, input: { alias: string; rules: unknown; active?: boolean }, meta: RequestMeta = {}) {
  const alias = AliasName.parse(input.alias);
  const parsed = PolicyRulesInput.safeParse(input.rules);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new AppError("INVALID", i.message.includes(":") || i.message.startsWith(String(i.path[0] ?? "")) ? i.message : `${i.path.join(".")}: ${i.message}`, { field: `rules.${i.path.join(".")}` });
  }
  const rules: PolicyRules = parsed.data;
  const active = input.active ?? true;
  return mutate(
    actor,
    async (tx, audit) => {
      await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`policy:${actor.workspaceId}:${alias}`}, 0))`);
      const before = await policyFor(tx, actor.workspaceId, alias);
      const [last] = await tx
        .select({ version: approvalPolicies.version, active: approvalPolicies.active })
        .from(approvalPolicies)
        .where(and(eq(approvalPolicies.workspaceId, actor.workspaceId), eq(approvalPolicies.alias, alias)))
        .orderBy(desc(approvalPolicies.version))
        .limit(1);
      const wasActive = last ? last.active : Boolean(before);
      if (before && wasActive === active && canonicalize(before.rules) === canonicalize(rules)) throw new AppError("PRECONDITION_FAILED", "Nothing changed: this is the policy already.");
      const version = (last?.version ?? 0) + 1;
      await tx.insert(approvalPolicies).values({ workspaceId: actor.workspaceId, alias, version, rules, active, createdBy: actor.userId });
      audit({
        action: "policy.saved",
        target: { type: "approval_policy", id: `${actor.workspaceId}:${alias}` },
        changes: { rules: [before?.rules ?? null, rules], active: [wasActive, active] },
        metadata: { alias, version },
      });
      return { alias, version, active };
    },
    meta,
  );
}

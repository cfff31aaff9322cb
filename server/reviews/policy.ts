import { z } from "zod";
import type { Role } from "~/db/schema/identity";
import type { PolicyRules } from "~/db/schema/reviews";
import { checkLabel } from "~/server/shared/check-labels";
import { can, type Permission } from "~/server/shared/permissions";

/*
 * Approval policies: what must be true before a protected alias moves, and the state of
 * a review request computed from it. Pure and isomorphic: the server decides with it, the
 * review room shows the same checklist.
 */

import { APPROVER_ROLES, normalizeRules } from "~/server/shared/policy-diff";

export { APPROVER_ROLES, normalizeRules };

export const PolicyRulesInput = z.object({
  requiredApprovals: z
    .array(
      z.object({
        role: z.enum(APPROVER_ROLES, { error: "requiredApprovals[].role must be reviewer, compliance_officer, admin or owner." }),
        count: z.number().int().min(1, "requiredApprovals[].count must be at least 1.").max(10),
      }),
    )
    .max(4)
    .refine((xs) => new Set(xs.map((x) => x.role)).size === xs.length, "requiredApprovals names a role twice: give it one count."),
  minDistinctApprovers: z.number().int().min(1, "minDistinctApprovers must be at least 1: somebody must approve.").max(20),
  requiredChecks: z.array(z.string().trim().min(1).max(100)).max(50),
  allowRequesterApproval: z.boolean(),
  approvalValidDays: z.number().int().min(1).max(3650).nullable(),
  /** Off (null) by default; on, a version under open review may take up to maxPercent of traffic as a canary. */
  canaryBeforeApproval: z
    .object({
      maxPercent: z
        .number({ error: "canaryBeforeApproval.maxPercent must be a number from 1 to 50." })
        .int("canaryBeforeApproval.maxPercent must be a whole percentage.")
        .min(1, "canaryBeforeApproval.maxPercent must be at least 1.")
        .max(50, "canaryBeforeApproval.maxPercent may be at most 50: a canary is a minority of traffic."),
    })
    .nullable()
    .default(null),
});

/** The rules with every optional field present (null when off), so two policies compare by meaning. */
/** Aliases protected even before an admin writes a policy for them. */
export const DEFAULT_POLICIES: Record<string, PolicyRules> = {
  production: {
    requiredApprovals: [
      { role: "reviewer", count: 1 },
      { role: "compliance_officer", count: 1 },
    ],
    minDistinctApprovers: 2,
    requiredChecks: ["*"],
    allowRequesterApproval: false,
    approvalValidDays: 30,
  },
  staging: {
    requiredApprovals: [{ role: "reviewer", count: 1 }],
    minDistinctApprovers: 1,
    requiredChecks: ["*"],
    allowRequesterApproval: false,
    approvalValidDays: 30,
  },
};

/** Which approvals fill a role's slot: the permission that role's approval stands for. */
const SLOT_PERMISSION: Record<(typeof APPROVER_ROLES)[number], Permission | "owner" | "admin"> = {
  reviewer: "review:approve_technical",
  compliance_officer: "review:approve_compliance",
  admin: "admin",
  owner: "owner",
};
function fills(signerRole: Role, slot: (typeof APPROVER_ROLES)[number]) {
  const p = SLOT_PERMISSION[slot];
  if (p === "admin") return signerRole === "admin" || signerRole === "owner";
  if (p === "owner") return signerRole === "owner";
  return can(signerRole, p);
}
/** May this role sign for any slot of the policy? */
export function mayApprove(role: Role, rules: PolicyRules) {
  return rules.requiredApprovals.some((r) => fills(role, r.role)) || can(role, "review:approve_technical") || can(role, "review:approve_compliance");
}

export type SignatureFact = {
  signerId: string;
  signerName: string;
  role: Role;
  decision: "approve" | "reject";
  evidenceHash: string;
  signedAt: Date;
  /** The request's re-base round it was given in (0 before any re-base). */
  round?: number;
};
export type CheckFact = { name: string; status: "pass" | "warn" | "fail"; required: boolean };
export type ReviewFacts = {
  rules: PolicyRules;
  requesterId: string;
  authorId: string | null;
  signatures: SignatureFact[];
  openChangeRequests: { reviewerName: string; reason: string }[];
  /** The version's latest validation run: null when none ran; "running" while it runs. */
  validation: null | "running" | { checks: CheckFact[] };
  currentEvidenceHash: string;
  now: Date;
  /** The request's current round: signatures of earlier rounds no longer count. */
  round?: number;
  /**
   * The alias moved since the request was opened (or last re-based): who holds it now.
   * Its approvals do not count until the requester re-bases it. `alreadyHolds`: the
   * requested version itself holds the alias now, so there is nothing left to approve.
   */
  superseded?: { alias: string; holderVersion: number | null; alreadyHolds?: boolean } | null;
};

export type ChecklistItem = { ok: boolean; text: string };
export type ReviewState = {
  satisfied: boolean;
  checklist: ChecklistItem[];
  /** Approvals that count now. */
  valid: SignatureFact[];
  /** Approvals given for evidence that has since changed, or expired. */
  stale: (SignatureFact & { why: "evidence_changed" | "expired" })[];
  /** True when the alias moved under the request: nothing counts until it is re-based. */
  superseded: boolean;
};

/** The checklist line of a superseded request (also the reason signing is refused). */
export function supersededText(s: NonNullable<ReviewFacts["superseded"]>) {
  if (s.alreadyHolds) return `v${s.holderVersion} already holds ${s.alias} — nothing left to approve; withdraw this request`;
  return s.holderVersion === null
    ? `superseded: nobody holds ${s.alias} now — re-base to continue`
    : `superseded: v${s.holderVersion} holds ${s.alias} now — re-base to continue`;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const roleLabel = (r: string) => r.replace("_", " ");

/** The request's state from its policy and facts: what is done, what is still missing. */
export function evaluate(f: ReviewFacts): ReviewState {
  const { rules } = f;
  const stale: ReviewState["stale"] = [];
  const valid: SignatureFact[] = [];
  // The latest approval per person counts (a person can re-approve after the evidence changed).
  // Only this round's signatures count (a re-base starts a new round), and none while superseded.
  const round = f.round ?? 0;
  const latest = new Map<string, SignatureFact>();
  for (const s of [...f.signatures].sort((a, b) => a.signedAt.getTime() - b.signedAt.getTime()))
    if (s.decision === "approve" && (s.round ?? 0) === round) latest.set(s.signerId, s);
  if (f.superseded) latest.clear();
  for (const s of latest.values()) {
    const self = !rules.allowRequesterApproval && (s.signerId === f.requesterId || s.signerId === f.authorId);
    if (self) continue; // refused at signing; never counted even if policy changed since
    if (s.evidenceHash !== f.currentEvidenceHash) stale.push({ ...s, why: "evidence_changed" });
    else if (rules.approvalValidDays !== null && f.now.getTime() - s.signedAt.getTime() > rules.approvalValidDays * 86_400_000)
      stale.push({ ...s, why: "expired" });
    else valid.push(s);
  }

  const checklist: ChecklistItem[] = [];
  if (f.superseded) checklist.push({ ok: false, text: supersededText(f.superseded) });
  // Role slots: the most constrained slots are filled first; one approval fills one slot.
  const slots = rules.requiredApprovals
    .flatMap((r) => Array.from({ length: r.count }, () => r.role))
    .sort((a, b) => valid.filter((s) => fills(s.role, a)).length - valid.filter((s) => fills(s.role, b)).length);
  const used = new Set<string>();
  const missing = new Map<string, number>();
  for (const slot of slots) {
    const s = valid.find((x) => !used.has(x.signerId) && fills(x.role, slot));
    if (s) used.add(s.signerId);
    else missing.set(slot, (missing.get(slot) ?? 0) + 1);
  }
  for (const r of rules.requiredApprovals) {
    const m = missing.get(r.role) ?? 0;
    checklist.push(
      m
        ? { ok: false, text: `needs ${plural(m, `${roleLabel(r.role)} approval`)}` }
        : { ok: true, text: `${plural(r.count, `${roleLabel(r.role)} approval`)}` },
    );
  }
  const distinct = new Set(valid.map((s) => s.signerId)).size;
  if (rules.minDistinctApprovers > 0) {
    checklist.push(
      distinct >= rules.minDistinctApprovers
        ? { ok: true, text: `${plural(rules.minDistinctApprovers, "distinct approver")}` }
        : {
            ok: false,
            text: `needs ${plural(rules.minDistinctApprovers - distinct, "more distinct approver")} (${distinct} of ${rules.minDistinctApprovers})`,
          },
    );
  }
  for (const s of stale)
    checklist.push({
      ok: false,
      text:
        s.why === "expired"
          ? `${s.signerName}'s approval expired (older than ${rules.approvalValidDays} days)`
          : `${s.signerName}'s approval is stale: the evidence changed since they signed`,
    });

  // Checks.
  if (rules.requiredChecks.length) {
    if (f.validation === null) checklist.push({ ok: false, text: "no validation run for this version yet" });
    else if (f.validation === "running") checklist.push({ ok: false, text: "validation is still running" });
    else {
      const checks = f.validation.checks;
      const wanted = rules.requiredChecks.includes("*") ? checks.filter((c) => c.required).map((c) => c.name) : rules.requiredChecks;
      for (const name of wanted) {
        const c = checks.find((x) => x.name === name);
        // As people read it ("Fairness: demographic parity ratio passed"), the key kept for hover and scripts.
        const label = `${checkLabel(name)} (${name})`;
        if (!c) checklist.push({ ok: false, text: `${label} did not run` });
        else if (c.status === "fail") checklist.push({ ok: false, text: `${label} failed` });
        else checklist.push({ ok: true, text: `${label} ${c.status === "warn" ? "passed with a warning" : "passed"}` });
      }
      if (!wanted.length) checklist.push({ ok: true, text: "no required checks in the validation run" });
    }
  }

  for (const c of f.openChangeRequests) checklist.push({ ok: false, text: `${c.reviewerName} requested changes: ${c.reason}` });
  return { satisfied: checklist.every((c) => c.ok), checklist, valid, stale, superseded: Boolean(f.superseded) };
}

// Policy changes (two-person rule): what a proposed change does, field by field. In
// server/shared so the settings page shows the same diff before proposing it.
export { policyDiff, type PolicyDiffRow } from "~/server/shared/policy-diff";

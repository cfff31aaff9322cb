import type { PolicyRules } from "~/db/schema/reviews";
import { checkLabel } from "./check-labels";

/*
 * What a policy change does, field by field: pure, shared by the policy service (the diff
 * stored with a proposed change) and the settings page (the confirmation before proposing).
 */

export const APPROVER_ROLES = ["reviewer", "compliance_officer", "admin", "owner"] as const;

/** Rules as stored and compared: an absent canary setting is "off". */
export function normalizeRules(r: PolicyRules): PolicyRules {
  return { ...r, canaryBeforeApproval: r.canaryBeforeApproval ?? null };
}

const roleLabel = (r: string) => r.replace("_", " ");

export type PolicyDiffRow = { field: string; label: string; before: string; after: string; weakens: boolean };

/** Checks as people read them: "*" is every required check of the validation run; names get their labels. */
const checksText = (xs: string[]) =>
  xs.length ? xs.map((c) => (c === "*" ? "every required check of the validation run" : `${checkLabel(c)} (${c})`)).join(", ") : "none";
const daysText = (d: number | null) => (d === null ? "no expiry" : `${d} days`);
const canaryText = (c: PolicyRules["canaryBeforeApproval"]) => (c ? `up to ${c.maxPercent}%` : "off");

/**
 * Every difference between the policy in force (null: the alias is unprotected) and a
 * proposed one, each marked when it weakens the gate. Every change of a protected alias's
 * policy needs a second admin whatever this says; the marks tell the approver what to look at.
 */
export function policyDiff(before: { rules: PolicyRules; active: boolean } | null, after: { rules: PolicyRules; active: boolean }): PolicyDiffRow[] {
  const rows: PolicyDiffRow[] = [];
  const wasOn = before?.active ?? false;
  if (wasOn !== after.active)
    rows.push({ field: "active", label: "Protection", before: wasOn ? "on" : "off", after: after.active ? "on" : "off", weakens: wasOn && !after.active });
  if (!before) {
    if (after.active) rows.push({ field: "rules", label: "Policy", before: "none", after: "new policy", weakens: false });
    return rows;
  }
  const b = normalizeRules(before.rules);
  const a = normalizeRules(after.rules);
  for (const role of APPROVER_ROLES) {
    const x = b.requiredApprovals.find((r) => r.role === role)?.count ?? 0;
    const y = a.requiredApprovals.find((r) => r.role === role)?.count ?? 0;
    if (x !== y) rows.push({ field: `requiredApprovals.${role}`, label: `${roleLabel(role)} approvals`, before: String(x), after: String(y), weakens: y < x });
  }
  if (b.minDistinctApprovers !== a.minDistinctApprovers)
    rows.push({
      field: "minDistinctApprovers",
      label: "Distinct approvers",
      before: String(b.minDistinctApprovers),
      after: String(a.minDistinctApprovers),
      weakens: a.minDistinctApprovers < b.minDistinctApprovers,
    });
  const bc = [...b.requiredChecks].sort();
  const ac = [...a.requiredChecks].sort();
  if (bc.join("\n") !== ac.join("\n"))
    rows.push({
      field: "requiredChecks",
      label: "Checks that must pass",
      before: checksText(b.requiredChecks),
      after: checksText(a.requiredChecks),
      weakens: bc.some((c) => !ac.includes(c)),
    });
  if (b.allowRequesterApproval !== a.allowRequesterApproval)
    rows.push({
      field: "allowRequesterApproval",
      label: "Requester may approve",
      before: b.allowRequesterApproval ? "yes" : "no",
      after: a.allowRequesterApproval ? "yes" : "no",
      weakens: a.allowRequesterApproval,
    });
  if (b.approvalValidDays !== a.approvalValidDays)
    rows.push({
      field: "approvalValidDays",
      label: "Approvals valid for",
      before: daysText(b.approvalValidDays),
      after: daysText(a.approvalValidDays),
      weakens: a.approvalValidDays === null || (b.approvalValidDays !== null && a.approvalValidDays > b.approvalValidDays),
    });
  const bk = b.canaryBeforeApproval?.maxPercent ?? 0;
  const ak = a.canaryBeforeApproval?.maxPercent ?? 0;
  if (bk !== ak)
    rows.push({
      field: "canaryBeforeApproval",
      label: "Canary before approval",
      before: canaryText(b.canaryBeforeApproval),
      after: canaryText(a.canaryBeforeApproval),
      weakens: ak > bk,
    });
  return rows;
}

import { describe, expect, it } from "vitest";
import type { Role } from "~/db/schema/identity";
import type { PolicyRules } from "~/db/schema/reviews";
import { DEFAULT_POLICIES, evaluate, policyDiff, PolicyRulesInput, type ReviewFacts, type SignatureFact } from "./policy";

const NOW = new Date("2026-11-22T12:00:00Z");
const EV = "evidence-1";
const sig = (signerId: string, role: Role, o: Partial<SignatureFact> = {}): SignatureFact => ({
  signerId,
  signerName: signerId,
  role,
  decision: "approve",
  evidenceHash: EV,
  signedAt: new Date(NOW.getTime() - 3600_000),
  ...o,
});
const PROD = DEFAULT_POLICIES.production!;
const passing = {
  checks: [
    { name: "evaluate.roc_auc", status: "pass" as const, required: true },
    { name: "fairness.parity", status: "warn" as const, required: true },
    { name: "perf.p99", status: "fail" as const, required: false },
  ],
};
const facts = (o: Partial<ReviewFacts>): ReviewFacts => ({
  rules: PROD,
  requesterId: "req",
  authorId: "author",
  signatures: [],
  openChangeRequests: [],
  validation: passing,
  currentEvidenceHash: EV,
  now: NOW,
  ...o,
});

describe("evaluate(): the request's state from its policy", () => {
  const cases: { name: string; f: Partial<ReviewFacts>; satisfied: boolean; missing: string[] }[] = [
    {
      name: "nothing signed yet",
      f: {},
      satisfied: false,
      missing: ["needs 1 reviewer approval", "needs 1 compliance officer approval", "needs 2 more distinct approvers (0 of 2)"],
    },
    { name: "reviewer + compliance officer", f: { signatures: [sig("r", "reviewer"), sig("c", "compliance_officer")] }, satisfied: true, missing: [] },
    {
      name: "two reviewers are not a compliance officer",
      f: { signatures: [sig("r1", "reviewer"), sig("r2", "reviewer")] },
      satisfied: false,
      missing: ["needs 1 compliance officer approval"],
    },
    { name: "an admin fills the reviewer slot", f: { signatures: [sig("a", "admin"), sig("c", "compliance_officer")] }, satisfied: true, missing: [] },
    {
      name: "one person cannot fill two slots",
      f: { rules: { ...PROD, minDistinctApprovers: 1 }, signatures: [sig("o", "owner")] },
      satisfied: false,
      missing: ["needs 1 compliance officer approval"],
    },
    {
      name: "the requester's approval never counts by default",
      f: { signatures: [sig("req", "reviewer"), sig("c", "compliance_officer")] },
      satisfied: false,
      missing: ["needs 1 reviewer approval", "needs 1 more distinct approver (1 of 2)"],
    },
    {
      name: "nor the version author's",
      f: { signatures: [sig("author", "reviewer"), sig("c", "compliance_officer")] },
      satisfied: false,
      missing: ["needs 1 reviewer approval", "needs 1 more distinct approver (1 of 2)"],
    },
    {
      name: "unless the policy allows it",
      f: { rules: { ...PROD, allowRequesterApproval: true }, signatures: [sig("req", "reviewer"), sig("c", "compliance_officer")] },
      satisfied: true,
      missing: [],
    },
    {
      name: "stale after new evidence",
      f: { currentEvidenceHash: "evidence-2", signatures: [sig("r", "reviewer"), sig("c", "compliance_officer", { evidenceHash: "evidence-2" })] },
      satisfied: false,
      missing: ["needs 1 reviewer approval", "needs 1 more distinct approver (1 of 2)", "r's approval is stale: the evidence changed since they signed"],
    },
    {
      name: "re-approval after new evidence counts",
      f: {
        currentEvidenceHash: "evidence-2",
        signatures: [
          sig("r", "reviewer"),
          sig("r", "reviewer", { evidenceHash: "evidence-2", signedAt: NOW }),
          sig("c", "compliance_officer", { evidenceHash: "evidence-2" }),
        ],
      },
      satisfied: true,
      missing: [],
    },
    {
      name: "expired approvals",
      f: { signatures: [sig("r", "reviewer", { signedAt: new Date(NOW.getTime() - 31 * 86_400_000) }), sig("c", "compliance_officer")] },
      satisfied: false,
      missing: ["needs 1 reviewer approval", "needs 1 more distinct approver (1 of 2)", "r's approval expired (older than 30 days)"],
    },
    {
      name: "no expiry when the policy has none",
      f: { rules: { ...PROD, approvalValidDays: null }, signatures: [sig("r", "reviewer", { signedAt: new Date(0) }), sig("c", "compliance_officer")] },
      satisfied: true,
      missing: [],
    },
    {
      name: "a failed required check blocks",
      f: {
        signatures: [sig("r", "reviewer"), sig("c", "compliance_officer")],
        validation: { checks: [{ name: "fairness.parity", status: "fail", required: true }] },
      },
      satisfied: false,
      missing: ["Fairness: parity (fairness.parity) failed"],
    },
    {
      name: "a named check that did not run blocks",
      f: { rules: { ...PROD, requiredChecks: ["robustness.noise"] }, signatures: [sig("r", "reviewer"), sig("c", "compliance_officer")] },
      satisfied: false,
      missing: ["Robustness: noise (robustness.noise) did not run"],
    },
    {
      name: "no validation yet",
      f: { signatures: [sig("r", "reviewer"), sig("c", "compliance_officer")], validation: null },
      satisfied: false,
      missing: ["no validation run for this version yet"],
    },
    {
      name: "validation still running",
      f: { signatures: [sig("r", "reviewer"), sig("c", "compliance_officer")], validation: "running" },
      satisfied: false,
      missing: ["validation is still running"],
    },
    {
      name: "checks not required by the policy",
      f: { rules: { ...PROD, requiredChecks: [] }, validation: null, signatures: [sig("r", "reviewer"), sig("c", "compliance_officer")] },
      satisfied: true,
      missing: [],
    },
    {
      name: "requested changes block until cleared",
      f: {
        signatures: [sig("r", "reviewer"), sig("c", "compliance_officer")],
        openChangeRequests: [{ reviewerName: "Rita", reason: "add the limitations section" }],
      },
      satisfied: false,
      missing: ["Rita requested changes: add the limitations section"],
    },
    {
      name: "rejections do not count as approvals",
      f: { signatures: [sig("r", "reviewer", { decision: "reject" }), sig("c", "compliance_officer")] },
      satisfied: false,
      missing: ["needs 1 reviewer approval", "needs 1 more distinct approver (1 of 2)"],
    },
    {
      name: "minimum distinct approvers beyond the role slots",
      f: {
        rules: { ...PROD, requiredApprovals: [{ role: "reviewer", count: 1 }], minDistinctApprovers: 3 },
        signatures: [sig("r", "reviewer"), sig("c", "compliance_officer")],
      },
      satisfied: false,
      missing: ["needs 1 more distinct approver (2 of 3)"],
    },
    {
      name: "only this round's approvals count",
      f: { round: 1, signatures: [sig("r", "reviewer", { round: 0 }), sig("c", "compliance_officer", { round: 1 })] },
      satisfied: false,
      missing: ["needs 1 reviewer approval", "needs 1 more distinct approver (1 of 2)"],
    },
    {
      name: "a re-approval in the new round counts",
      f: { round: 1, signatures: [sig("r", "reviewer", { round: 0 }), sig("r", "reviewer", { round: 1 }), sig("c", "compliance_officer", { round: 1 })] },
      satisfied: true,
      missing: [],
    },
    {
      name: "superseded: nothing counts",
      f: { superseded: { alias: "production", holderVersion: 3 }, signatures: [sig("r", "reviewer"), sig("c", "compliance_officer")] },
      satisfied: false,
      missing: [
        "superseded: v3 holds production now — re-base to continue",
        "needs 1 reviewer approval",
        "needs 1 compliance officer approval",
        "needs 2 more distinct approvers (0 of 2)",
      ],
    },
    {
      name: "the requested version already holds the alias",
      f: { rules: { ...PROD, requiredApprovals: [], minDistinctApprovers: 1 }, superseded: { alias: "production", holderVersion: 2, alreadyHolds: true } },
      satisfied: false,
      missing: ["v2 already holds production — nothing left to approve; withdraw this request", "needs 1 more distinct approver (0 of 1)"],
    },
    {
      name: "two reviewers required",
      f: { rules: { ...PROD, requiredApprovals: [{ role: "reviewer", count: 2 }], minDistinctApprovers: 2 }, signatures: [sig("r", "reviewer")] },
      satisfied: false,
      missing: ["needs 1 reviewer approval", "needs 1 more distinct approver (1 of 2)"],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const s = evaluate(facts(c.f));
      expect(s.checklist.filter((x) => !x.ok).map((x) => x.text)).toEqual(c.missing);
      expect(s.satisfied).toBe(c.satisfied);
    });
  }
  it("lists what is done too, so the room shows a complete checklist", () => {
    const s = evaluate(facts({ signatures: [sig("r", "reviewer"), sig("c", "compliance_officer")] }));
    expect(s.checklist.map((x) => x.text)).toEqual([
      "1 reviewer approval",
      "1 compliance officer approval",
      "2 distinct approvers",
      "ROC AUC (evaluate.roc_auc) passed",
      "Fairness: parity (fairness.parity) passed with a warning",
    ]);
  });
});

describe("policy rules input", () => {
  const ok: PolicyRules = DEFAULT_POLICIES.production!;
  it.each([
    [{ ...ok, minDistinctApprovers: 0 }, /somebody must approve/],
    [
      {
        ...ok,
        requiredApprovals: [
          { role: "reviewer", count: 1 },
          { role: "reviewer", count: 2 },
        ],
      },
      /names a role twice/,
    ],
    [{ ...ok, requiredApprovals: [{ role: "viewer", count: 1 }] }, /must be reviewer, compliance_officer, admin or owner/],
    [{ ...ok, requiredApprovals: [{ role: "reviewer", count: 0 }] }, /count must be at least 1/],
  ])("refuses %j", (rules, message) => {
    const r = PolicyRulesInput.safeParse(rules);
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.message).toMatch(message);
  });
});

describe("policyDiff(): what a proposed change does", () => {
  const on = (rules: PolicyRules) => ({ rules, active: true });
  it("marks weakenings and tightenings", () => {
    const d = policyDiff(
      on(PROD),
      on({
        ...PROD,
        requiredApprovals: [{ role: "reviewer", count: 2 }],
        requiredChecks: ["evaluate.roc_auc"],
        approvalValidDays: null,
        allowRequesterApproval: true,
        canaryBeforeApproval: { maxPercent: 5 },
      }),
    );
    expect(d.map((x) => [x.field, x.weakens])).toEqual([
      ["requiredApprovals.reviewer", false],
      ["requiredApprovals.compliance_officer", true],
      ["requiredChecks", true],
      ["allowRequesterApproval", true],
      ["approvalValidDays", true],
      ["canaryBeforeApproval", true],
    ]);
    // Checks read as words, the key beside: "*" is not shown bare.
    expect(d.find((x) => x.field === "requiredChecks")).toMatchObject({
      before: "every required check of the validation run",
      after: expect.stringMatching(/^.+ \(evaluate\.roc_auc\)$/),
    });
    expect(
      policyDiff(
        on({ ...PROD, canaryBeforeApproval: { maxPercent: 20 } }),
        on({ ...PROD, canaryBeforeApproval: { maxPercent: 10 }, approvalValidDays: 7 }),
      ).map((x) => [x.field, x.weakens]),
    ).toEqual([
      ["approvalValidDays", false],
      ["canaryBeforeApproval", false],
    ]);
  });
  it("switching off weakens; protecting an unprotected alias does not; an absent option equals off", () => {
    expect(policyDiff(on(PROD), { rules: PROD, active: false })).toEqual([{ field: "active", label: "Protection", before: "on", after: "off", weakens: true }]);
    expect(policyDiff(null, on(PROD)).every((x) => !x.weakens)).toBe(true);
    expect(policyDiff(on(PROD), on({ ...PROD, canaryBeforeApproval: null }))).toEqual([]);
  });
  it("canaryBeforeApproval is off by default and limited to 1..50%", () => {
    expect(PolicyRulesInput.parse(PROD).canaryBeforeApproval).toBeNull();
    expect(PolicyRulesInput.safeParse({ ...PROD, canaryBeforeApproval: { maxPercent: 51 } }).success).toBe(false);
    expect(PolicyRulesInput.parse({ ...PROD, canaryBeforeApproval: { maxPercent: 50 } }).canaryBeforeApproval).toEqual({ maxPercent: 50 });
  });
});

import { describe, expect, it } from "vitest";
import { askedQuestions, assessRisk, QUESTIONNAIRE, revalidationStatus } from "./inventory.risk";
import { RiskAnswers } from "./inventory.schema";

const base = {
  annexIII: "none",
  annexI: "no",
  purpose: "business",
  exposure: "medium",
  reliance: "primary",
  complexity: "medium",
  generative: "no",
} as const satisfies RiskAnswers;

describe("assessRisk", () => {
  it("makes a credit-scoring model high-risk under EU AI Act Annex III 5(b), naming the item and the answers", () => {
    const r = assessRisk({
      ...base,
      annexIII: "creditworthiness",
      narrowTask: "no",
      profiling: "yes",
      purpose: "customer",
      exposure: "high",
      reliance: "automated",
      complexity: "low",
    });
    expect(r.tier).toBe("high");
    expect(r.euHighRisk).toBe(true);
    expect(r.frameworks.map((f) => f.text)).toContain("EU AI Act Annex III 5(b) creditworthiness of natural persons, with profiling → high-risk");
    expect(r.rationale).toMatch(
      /^High: a high-risk AI system under the EU AI Act because it is used for creditworthiness of natural persons \(Annex III 5\(b\)\) and profiles natural persons\./,
    );
    expect(r.rationale).toContain("SR 26-2 materiality on its own: high");
    expect(r.missing).toEqual([]);
  });

  it("is high for an Annex III area even when SR 26-2 materiality alone is low", () => {
    const r = assessRisk({
      ...base,
      annexIII: "employment",
      narrowTask: "no",
      profiling: "no",
      purpose: "informational",
      exposure: "low",
      reliance: "supporting",
      complexity: "low",
    });
    expect(r.materiality).toBe("low");
    expect(r.tier).toBe("high");
    expect(r.frameworks.find((f) => f.framework === "eu-ai-act")).toMatchObject({ item: "Annex III 4", outcome: "high-risk" });
  });

  it("applies the Article 6(3) exception for a narrow task without profiling, and never with profiling", () => {
    const narrow = assessRisk({
      ...base,
      annexIII: "education",
      narrowTask: "yes",
      profiling: "no",
      purpose: "informational",
      exposure: "low",
      reliance: "supporting",
      complexity: "low",
    });
    expect(narrow.euHighRisk).toBe(false);
    expect(narrow.tier).toBe("low");
    expect(narrow.frameworks[0]!.text).toMatch(/Annex III 3 .*Article 6\(3\)/);
    expect(narrow.rationale).toContain("Article 6(3)");
    const profiling = assessRisk({ ...base, annexIII: "education", narrowTask: "yes", profiling: "yes" });
    expect(profiling.tier).toBe("high");
  });

  it("treats a safety component under Annex I as high-risk (Article 6(1))", () => {
    const r = assessRisk({ ...base, annexI: "yes" });
    expect(r.tier).toBe("high");
    expect(r.frameworks.map((f) => f.item)).toContain("Article 6(1), Annex I");
  });

  it("excepts fraud detection from 5(b) and rates it by materiality", () => {
    const r = assessRisk({ ...base, annexIII: "fraud_detection" });
    expect(r.euHighRisk).toBe(false);
    expect(r.tier).toBe("medium");
    expect(askedQuestions({ annexIII: "fraud_detection" }).map((q) => q.id)).not.toContain("narrowTask");
  });

  it("rates SR 26-2 materiality from use, exposure, reliance and complexity", () => {
    // A material use meeting a high exposure is high whatever else.
    expect(assessRisk({ ...base, purpose: "regulatory", exposure: "high", reliance: "supporting", complexity: "low" }).tier).toBe("high");
    // A score of 10 or more is high.
    expect(assessRisk({ ...base, purpose: "business", exposure: "medium", reliance: "automated", complexity: "high" }).tier).toBe("high");
    // Informational, limited exposure, one input among several: low.
    const low = assessRisk({ ...base, purpose: "informational", exposure: "low", reliance: "supporting", complexity: "medium" });
    expect(low.tier).toBe("low");
    expect(low.rationale).toBe(
      "Low: SR 26-2 materiality is low (use: information only: analysis, exploration, no decision; low exposure; reliance: it is one input among several). Not high-risk under the EU AI Act.",
    );
    // A customer-decision model is never low, even with everything else low.
    expect(assessRisk({ ...base, purpose: "customer", exposure: "low", reliance: "supporting", complexity: "low" }).tier).toBe("medium");
    expect(assessRisk(base).tier).toBe("medium");
  });

  it("notes that generative and agentic AI are outside SR 26-2", () => {
    const r = assessRisk({ ...base, generative: "yes" });
    expect(r.frameworks.some((f) => f.framework === "us-mrm-2026" && f.outcome === "outside scope")).toBe(true);
    expect(r.rationale).toContain("outside the scope of SR 26-2");
  });

  it("has no tier until every asked question is answered, and says how many are left", () => {
    expect(assessRisk({})).toMatchObject({ tier: null, rationale: "Answer 7 more questions to compute the tier." });
    const r = assessRisk({ ...base, annexIII: "insurance" });
    expect(r.tier).toBeNull();
    expect(r.missing).toEqual(["narrowTask", "profiling"]);
  });

  it("maps every Annex III option except none and fraud detection to an Annex III item", () => {
    const q = QUESTIONNAIRE.find((x) => x.id === "annexIII")!;
    for (const o of q.options) expect("item" in o, o.value).toBe(o.value !== "none" && o.value !== "fraud_detection");
  });

  it("the schema asks the Article 6(3) questions for an Annex III area only", () => {
    expect(RiskAnswers.safeParse(base).success).toBe(true);
    const missing = RiskAnswers.safeParse({ ...base, annexIII: "migration" });
    expect(missing.success).toBe(false);
    expect(missing.error!.issues.map((i) => i.path[0])).toEqual(["narrowTask", "profiling"]);
  });
});

describe("revalidationStatus", () => {
  const createdAt = new Date("2026-01-01T00:00:00Z");
  const m = { riskTier: "high" as const, revalidationDays: 100, lastRevalidatedAt: null, createdAt };
  it("is not assessed without a tier or a cadence", () => {
    expect(revalidationStatus({ ...m, riskTier: null }, new Date("2026-02-01"))).toEqual({ dueAt: null, status: "not assessed" });
    expect(revalidationStatus({ ...m, revalidationDays: null }, new Date("2026-02-01")).status).toBe("not assessed");
  });
  it("is due the cadence after the last revalidation (else creation): current, due soon within 14 days, then overdue", () => {
    expect(revalidationStatus(m, new Date("2026-03-01")).dueAt!.toISOString()).toBe("2026-04-11T00:00:00.000Z");
    expect(revalidationStatus(m, new Date("2026-03-27T23:59:59Z")).status).toBe("current");
    expect(revalidationStatus(m, new Date("2026-03-28T00:00:00Z")).status).toBe("due soon");
    expect(revalidationStatus(m, new Date("2026-04-11T00:00:00Z")).status).toBe("due soon");
    expect(revalidationStatus(m, new Date("2026-04-11T00:00:01Z")).status).toBe("overdue");
    expect(revalidationStatus({ ...m, lastRevalidatedAt: new Date("2026-04-01T00:00:00Z") }, new Date("2026-04-20")).dueAt!.toISOString()).toBe(
      "2026-07-10T00:00:00.000Z",
    );
  });
});

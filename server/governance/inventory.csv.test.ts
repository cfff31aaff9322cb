import { describe, expect, it } from "vitest";
import { inventoryCsv } from "./inventory.csv";

describe("inventoryCsv", () => {
  it("writes a header and one neutralised, quoted row per model", () => {
    const csv = inventoryCsv([
      {
        name: "credit-risk",
        owner: { name: "=cmd|' /C calc'!A0", email: "ada@example.com" },
        intendedUse: '-Scores applicants, "retail"\nonly',
        riskTier: "high",
        riskRationale: "High: because",
        frameworks: [{ text: "EU AI Act Annex III 5(b) → high-risk" }, { text: "SR 26-2 → high" }],
        revalidationDays: 365,
        lastRevalidatedAt: new Date("2026-03-01T00:00:00Z"),
        lastRevalidatedVia: { label: "review #3 approved" },
        dueAt: new Date("2027-03-01T00:00:00Z"),
        status: "current",
      },
    ]);
    const [header, row] = csv.split("\n");
    expect(header).toBe(
      "model,owner_name,owner_email,intended_use,risk_tier,risk_rationale,frameworks,revalidation_days,last_revalidated_at,last_revalidated_via,next_due_at,status",
    );
    expect(row).toBe(`credit-risk,'=cmd|' /C calc'!A0,ada@example.com,"'-Scores applicants, ""retail""`);
    expect(csv).toContain(
      `only",high,High: because,EU AI Act Annex III 5(b) → high-risk; SR 26-2 → high,365,2026-03-01T00:00:00.000Z,review #3 approved,2027-03-01T00:00:00.000Z,current\n`,
    );
  });
});

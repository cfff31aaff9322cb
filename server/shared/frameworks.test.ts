import { describe, expect, it } from "vitest";
import { EVIDENCE, FRAMEWORKS, frameworkById, frameworksFor, retentionFloor } from "./frameworks";
import { figure, flatten, mb, ms, num, pct, thresholdWithUnits, utc } from "./report-format";

describe("compliance frameworks", () => {
  it("each carries its name, version, issuing body, dated applicability, legal status, sources read on a date, and known evidence keys", () => {
    expect(FRAMEWORKS.map((f) => f.id)).toEqual(["eu-ai-act", "us-mrm-2026", "sr-11-7"]);
    // Nothing below may pass on an empty list: every framework has sources and items, and the unverified ones are named.
    expect(FRAMEWORKS.filter((f) => !f.verified).map((f) => f.id)).toEqual(["eu-ai-act", "us-mrm-2026", "sr-11-7"]);
    for (const f of FRAMEWORKS) {
      expect(f.sources.length, f.id).toBeGreaterThan(0);
      expect(f.items.length, f.id).toBeGreaterThan(0);
      expect(f.version.length).toBeGreaterThan(10);
      expect(f.issuingBody.length).toBeGreaterThan(5);
      expect(f.appliesFrom.length).toBeGreaterThan(0);
      for (const s of f.sources) expect(s.read).toMatch(/^2026-\d\d-\d\d$/);
      // Not checked against the primary source from here: each file says so, and why.
      if (!f.verified) expect(f.verification).toMatch(/could not be fetched/);
      for (const i of f.items) for (const k of i.evidence) expect(EVIDENCE).toHaveProperty(k);
    }
  });

  it("maps to the 2026 interagency guidance and keeps SR 11-7 as its superseded predecessor", () => {
    const now = frameworkById("us-mrm-2026")!;
    const old = frameworkById("sr-11-7")!;
    expect(now).toMatchObject({ legalStatus: "in_force", supersedes: ["sr-11-7"] });
    expect(now.version).toContain("SR 26-2, OCC Bulletin 2026-13, FDIC FIL-15-2026");
    expect(now.appliesFrom[0]!.date).toBe("2026-04-17");
    expect(now.scope).toMatch(/\$30 billion/);
    expect(now.scope).toMatch(/[Gg]enerative and agentic AI/);
    expect(old).toMatchObject({ legalStatus: "superseded", supersededBy: "us-mrm-2026", supersededOn: "2026-04-17" });
    // A workspace that chose nothing reports against what is in force; SR 11-7 only when chosen.
    expect(frameworksFor([]).map((f) => f.id)).toEqual(["eu-ai-act", "us-mrm-2026"]);
    expect(frameworksFor(["sr-11-7"]).map((f) => f.id)).toEqual(["sr-11-7"]);
  });

  it("dates the EU AI Act as the Digital Omnibus left it", () => {
    const eu = frameworkById("eu-ai-act")!;
    const at = (id: string) => eu.appliesFrom.find((a) => a.id === id)!;
    expect(at("art-4-5")).toMatchObject({ date: "2025-02-02", status: "in_force" });
    expect(at("gpai")).toMatchObject({ date: "2025-08-02", status: "in_force" });
    expect(at("high-risk-annex-iii")).toMatchObject({ date: "2027-12-02", originalDate: "2026-08-02", status: "agreed_not_yet_published" });
    expect(at("high-risk-annex-i")).toMatchObject({ date: "2028-08-02", originalDate: "2027-08-02" });
    expect(eu.items.every((i) => i.appliesFrom === "high-risk-annex-iii")).toBe(true);
  });

  it("takes the highest retention floor of the enabled frameworks: six months under the AI Act", () => {
    expect(retentionFloor([])).toBeNull();
    expect(retentionFloor(["us-mrm-2026"])).toBeNull();
    expect(retentionFloor(["us-mrm-2026", "eu-ai-act"])).toMatchObject({ days: 184, framework: { id: "eu-ai-act" } });
  });
});

describe("report figures", () => {
  it("carry their units", () => {
    expect(figure("performance.latency_p99_ms_b1", 0.19560681999999224)).toBe("0.196 ms");
    expect(figure("robustness.changed_share_noise_0_1", 0.011666)).toBe("1.17 %");
    expect(figure("evaluate.roc_auc", 0.6926083968153961)).toBe("0.6926");
    expect(figure("integrity.null_cells", 1200)).toBe("1,200");
    expect(thresholdWithUnits("robustness.changed_share_noise_0_1", "fail > 0.15 · warn > 0.05")).toBe("fail > 15.0 % · warn > 5.00 %");
    expect(thresholdWithUnits("performance.latency_p99_ms_b1", "fail > 250 · warn > 50")).toBe("fail > 250 ms · warn > 50 ms");
    expect(pct(null)).toBe("-");
    expect(ms(1234.5)).toBe("1,235 ms");
    expect(mb(487)).toBe("487 bytes");
    expect(mb(2_500_000)).toBe("2.5 MB (2,500,000 bytes)");
    expect(num(-0.0050000000000000044)).toBe("-0.005");
    expect(utc(new Date("2026-11-30T21:30:09.123Z"))).toBe("2026-11-30T21:30:09Z");
  });

  it("lay the manifest out as rows, one per plain array element", () => {
    expect(flatten({ model: { sha256: "ab" }, auditEvents: [{ seq: 1, hash: "x" }], checkpoint: null, datasets: [] })).toEqual([
      ["model.sha256", "ab"],
      ["auditEvents[0]", "seq: 1 · hash: x"],
      ["checkpoint", "null"],
      ["datasets", "[]"],
    ]);
  });
});

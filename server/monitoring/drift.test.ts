import { describe, expect, it } from "vitest";
import { benjaminiHochberg, categoricalDrift, chiSquare, driftReport, histogram, jensenShannon, ksTest, numericDrift, numericEdges, psi, wasserstein } from "./drift";

/*
 * Literals computed once with SciPy 1.10.1 (stats.ks_2samp statistic, stats.kstwobign.sf for its p-value,
 * stats.wasserstein_distance, spatial.distance.jensenshannon(base=2),
 * stats.chi2_contingency(correction=False), numpy.quantile) by
 * docs/reference/drift-reference.py, on the same deterministic samples.
 */
function lcg(n: number, seed: number) {
  // The same generator as the Python script, in exact integer arithmetic.
  const out: number[] = [];
  let s = BigInt(seed);
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245n + 12345n) % 2147483648n;
    out.push(Number(s) / 2147483648);
  }
  return out;
}
const ref = lcg(500, 1).map((u) => 20 + 40 * u);
const shifted = lcg(300, 7).map((u) => 25 + 45 * u);
const same = lcg(400, 99).map((u) => 20 + 40 * u);

describe("drift statistics against SciPy", () => {
  it("bins from the reference's quantiles and counts the current window into them", () => {
    const e = numericEdges(ref);
    expect(e.map((x) => +x.toFixed(9))).toEqual([24.476805808, 27.782548022, 31.734925067, 35.365074664, 39.458755851, 43.200072795, 46.830418242, 51.205513496, 55.241289686]);
    expect(histogram(ref, e)).toEqual(new Array(10).fill(50));
    expect(histogram(shifted, e)).toEqual([0, 19, 31, 20, 29, 28, 21, 32, 29, 91]);
    expect(histogram(same, e)).toEqual([41, 40, 39, 40, 42, 45, 23, 47, 34, 49]);
  });

  it.each([
    ["shifted", shifted, 0.9578799067438462, 0.31028718520735893, 0.21533333333333332, 5.61623358059933e-8, 7.428477962901816],
    ["same distribution", same, 0.03518628295616632, 0.07930623510218401, 0.033, 0.9688701728781526, 0.4046323539875447],
  ])("%s: PSI, Jensen–Shannon, KS and Wasserstein", (_name, cur, psiRef, jsRef, ksStat, ksP, w) => {
    const e = numericEdges(ref);
    const r = histogram(ref, e);
    const c = histogram(cur, e);
    expect(psi(r, c)).toBeCloseTo(psiRef, 12);
    expect(jensenShannon(r, c)).toBeCloseTo(jsRef, 12);
    const ks = ksTest(ref, cur);
    expect(ks.statistic).toBeCloseTo(ksStat, 12);
    expect(ks.pValue / ksP).toBeCloseTo(1, 6);
    expect(wasserstein(ref, cur)).toBeCloseTo(w, 9);
  });

  it("smooths empty bins: a window entirely inside one reference bin has a finite, large PSI", () => {
    const e = numericEdges(ref);
    const c = histogram(new Array(150).fill(30), e);
    expect(c).toEqual([0, 0, 150, 0, 0, 0, 0, 0, 0, 0]);
    expect(psi(histogram(ref, e), c)).toBeCloseTo(8.281024482111187, 10);
    expect(jensenShannon(histogram(ref, e), c)).toBeCloseTo(0.8707908228691708, 12);
  });

  it("chi-square of homogeneity with a category unseen in the reference", () => {
    const r = chiSquare([120, 80, 50, 0], [40, 90, 30, 40])!;
    expect(r.statistic).toBeCloseTo(81.03308823529412, 10);
    expect(r.dof).toBe(3);
    expect(r.pValue / 1.842567196390376e-17).toBeCloseTo(1, 6);
    expect(psi([120, 80, 50, 0], [40, 90, 30, 40])).toBeCloseTo(1.8232194212479662, 10);
    expect(chiSquare([5, 0], [7, 0])).toBeNull(); // one category left: no test
  });

  it("Benjamini–Hochberg (hand-computed: p·n/rank, cumulative minimum from the largest rank, as statsmodels' fdr_bh)", () => {
    expect(benjaminiHochberg([0.01, 0.04, 0.03, 0.2, 0.001, 0.5]).map((x) => +x.toFixed(12))).toEqual([0.03, 0.06, 0.06, 0.24, 0.006, 0.5]);
  });
});

describe("drift of a feature, explained", () => {
  it("does not move with the batch size: the same distribution in 200 or 20,000 rows gives about the same PSI", () => {
    const big = lcg(20000, 5).map((u) => 20 + 40 * u);
    const small = big.slice(0, 200);
    const a = numericDrift("age", ref, small);
    const b = numericDrift("age", ref, big);
    if (a.status !== "ok" || b.status !== "ok") throw new Error("expected results");
    expect(Math.abs(a.psi - b.psi)).toBeLessThan(0.06);
    expect(b.severity).toBe("none");
  });

  it("reports not enough data when the reference is too small, rather than calling every value unseen", () => {
    const current = Array.from({ length: 300 }, (_, i) => i % 50);
    expect(numericDrift("age", [30, 40], current)).toMatchObject({ status: "not_enough_data", explanation: "age: not enough data in the reference (2 of at least 100 values)." });
    expect(categoricalDrift("region", [], current.map(String))).toMatchObject({ status: "not_enough_data", explanation: "region: not enough data in the reference (0 of at least 100 values)." });
  });

  it("reports not enough data below the minimum sample size, never a number", () => {
    const d = numericDrift("age", ref, shifted.slice(0, 99));
    expect(d).toMatchObject({ status: "not_enough_data", n: 99, minSample: 100, explanation: "age: not enough data (99 of at least 100 values in this window)." });
  });

  it("explains a shift in plain language, with a severity band", () => {
    const income = ref.map((x) => x * 1000);
    const higher = shifted.map((x) => x * 1000 + 8000);
    const d = numericDrift("income", income, higher);
    if (d.status !== "ok") throw new Error("expected a result");
    expect(d.severity).toBe("major");
    expect(d.explanation).toMatch(/^income: \d+% of current traffic falls above the reference's 95th percentile \(\d{2},\d{3}\), where 5% is expected\.$/);
  });

  it("handles constant features and categories unseen in the reference", () => {
    const c = numericDrift("flag", new Array(300).fill(1), [...new Array(150).fill(1), ...new Array(150).fill(2)]);
    if (c.status !== "ok") throw new Error("expected a result");
    expect(c.explanation).toBe("flag: always 1 in the reference; 50% of current traffic differs.");
    const regionsRef = [...new Array(200).fill("north"), ...new Array(100).fill("south")];
    const regionsCur = [...new Array(100).fill("north"), ...new Array(60).fill("south"), ...new Array(40).fill("west")];
    const r = categoricalDrift("region", regionsRef, regionsCur);
    if (r.status !== "ok") throw new Error("expected a result");
    expect(r.bins.labels).toEqual(["north", "south", "(not in reference)"]);
    expect(r.bins.current).toEqual([100, 60, 40]);
    expect(r.explanation).toBe("region: 20% of current traffic has values never seen in the reference.");
    expect(r.chiSquare!.dof).toBe(2);
  });

  it("adjusts p-values across features", () => {
    const report = driftReport([numericDrift("a", ref, shifted), numericDrift("b", ref, same), numericDrift("c", ref, shifted.slice(0, 10))]);
    const [a, b, c] = report;
    if (a!.status !== "ok" || b!.status !== "ok") throw new Error("expected results");
    expect(a!.pAdjusted).toBeCloseTo(Math.min(1, a!.pValue! * 2), 12);
    expect(b!.pAdjusted).toBeCloseTo(b!.pValue!, 12);
    expect(c!.status).toBe("not_enough_data");
  });
});

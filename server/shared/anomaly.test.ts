import { describe, expect, it } from "vitest";
import {
  bandOf,
  baselinePlan,
  MIN_BASELINE_WINDOWS,
  outside,
  poissonUpperTail,
  rareEventTail,
  robustCentre,
  samplingSd,
  SENSITIVITY_TAIL,
  windowValue,
} from "./anomaly";

const H = 3600_000;
const DAY = 24 * H;
const end = Date.UTC(2026, 10, 30, 14, 0);

describe("the anomaly baseline", () => {
  it("is the median and 1.4826 × MAD, which one outlier barely moves", () => {
    // numpy: median([1..9]) = 5, MAD = 2 → 2.9652
    expect(robustCentre([1, 2, 3, 4, 5, 6, 7, 8, 9])).toEqual({ median: 5, spread: 1.4826 * 2 });
    const calm = robustCentre([100, 102, 98, 101, 99, 100, 103, 97]);
    const withOutage = robustCentre([100, 102, 98, 101, 99, 100, 103, 5000]);
    expect(withOutage.median - calm.median).toBeLessThan(1);
    expect(withOutage.spread).toBeLessThan(calm.spread * 1.6);
  });

  it("never draws a band narrower than 10% of the median or the series' floor", () => {
    const flat = bandOf("latency_p95", Array(20).fill(120), "medium");
    expect(flat.median).toBe(120);
    expect(flat.high).toBeCloseTo(120 + 3.5 * 12);
    const quiet = bandOf("error_rate", Array(20).fill(0), "medium");
    expect(quiet.high).toBeCloseTo(3.5 * 0.005);
    expect(quiet.low).toBe(0);
  });

  it("fires on errors and latency only above the band, on traffic either way", () => {
    const band = { low: 10, high: 20 };
    expect(outside("error_rate", 5, band)).toBe(false);
    expect(outside("error_rate", 25, band)).toBe(true);
    expect(outside("latency_p99", 5, band)).toBe(false);
    expect(outside("traffic", 5, band)).toBe(true);
    expect(outside("traffic", 25, band)).toBe(true);
    expect(outside("traffic", 15, band)).toBe(false);
  });

  it("is seasonal by hour of week with three weeks of history, by hour of day with three days, else the windows before", () => {
    const weekly = baselinePlan(end, 15, end - 30 * DAY)!;
    expect(weekly.kind).toBe("weekly");
    expect(weekly.starts).toHaveLength(4 * 5);
    // The same 15 minutes one week back, and two windows either side.
    expect(weekly.starts).toContain(end - 15 * 60_000 - 7 * DAY);
    expect(weekly.starts).toContain(end - 15 * 60_000 - 7 * DAY - 2 * 15 * 60_000);
    // Three weeks and a bit: the fourth week back is before the history and left out.
    expect(baselinePlan(end, 15, end - 22 * DAY)!.starts).toHaveLength(3 * 5);

    const daily = baselinePlan(end, 60, end - 4 * DAY)!;
    expect(daily.kind).toBe("daily");
    expect(daily.starts.every((s) => s >= end - 4 * DAY)).toBe(true);
    expect(daily.starts).toContain(end - H - DAY);

    const recent = baselinePlan(end, 10, end - 5 * H)!;
    expect(recent.kind).toBe("recent");
    expect(recent.starts[0]).toBe(end - 20 * 60_000);
    expect(recent.starts).toHaveLength(29);
    // Capped at a day of windows.
    expect(baselinePlan(end, 60, end - 2.5 * DAY)!.starts).toHaveLength(24);
  });

  it("does not judge before it has twelve windows of history", () => {
    expect(baselinePlan(end, 10, null)).toBeNull();
    expect(baselinePlan(end, 10, end - (MIN_BASELINE_WINDOWS + 1) * 10 * 60_000 + 60_000)).toBeNull();
    expect(baselinePlan(end, 10, end - (MIN_BASELINE_WINDOWS + 1) * 10 * 60_000)).not.toBeNull();
  });

  it("judges a rate or a latency only on windows with 20 requests", () => {
    const buckets = [0, 10, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    expect(windowValue("error_rate", { requests: 19, errors: 5, buckets }, 10)).toBeNull();
    expect(windowValue("error_rate", { requests: 20, errors: 5, buckets }, 10)).toBe(0.25);
    expect(windowValue("traffic", { requests: 6, errors: 0, buckets }, 1)).toBe(0.1);
    expect(windowValue("latency_p50", { requests: 20, errors: 0, buckets }, 10)).toBe(2);
  });
});

describe("the sampling noise of the current window", () => {
  const w = (requests: number, errors: number) => ({ requests, errors, buckets: [] as number[] });
  it("is binomial for the error rate at the baseline's pooled rate", () => {
    // 30 errors in 3,000 baseline requests: p = 0.01; 100 requests now → sqrt(0.0099 / 100)
    expect(samplingSd("error_rate", w(100, 3), [w(1000, 10), w(2000, 20), w(5, 5)], 10, 0.01)).toBeCloseTo(Math.sqrt(0.0099 / 100), 12);
    // Two errors in 84 requests at a 1% normal rate is not an anomaly at medium sensitivity.
    const band = bandOf("error_rate", Array(20).fill(0), "medium", samplingSd("error_rate", w(84, 3), [w(3000, 30)], 3, 0));
    expect(outside("error_rate", 3 / 84, band)).toBe(false);
    expect(outside("error_rate", 12 / 84, band)).toBe(true);
  });
  it("is Poisson for traffic", () => {
    expect(samplingSd("traffic", w(0, 0), [], 3, 0.25)).toBeCloseTo(Math.sqrt(0.25 / 180), 12);
    expect(samplingSd("latency_p95", w(100, 0), [], 3, 12)).toBe(0);
  });
});

describe("rare events", () => {
  // scipy.stats.poisson.sf(k - 1, λ) (SciPy 1.17.1):
  //   python3 -c "from scipy import stats; print([float(stats.poisson.sf(k-1, l)) for k, l in [(3,.58),(1,.01),(10,2.5),(40,20.),(0,3.),(120,50.),(5,1e-4)]])"
  it.each([
    [3, 0.58, 0.021185675570364156],
    [1, 0.01, 0.009950166250831952],
    [10, 2.5, 0.0002773520946208362],
    [40, 20, 5.320202511246237e-5],
    [0, 3, 1],
    [120, 50, 3.682131314864391e-17],
    [5, 1e-4, 8.332638918649925e-23],
  ])("P(X ≥ %d) for Poisson(%d) is SciPy's, far tail included", (k, lambda, want) => {
    expect(Math.abs(poissonUpperTail(k, lambda) - want) / want).toBeLessThan(1e-9);
  });

  it("keeps three missing inputs in three quiet minutes from firing at a 1% rate, and lets a burst through", () => {
    const w = (checked: number, incomplete: number) => ({ requests: checked, errors: 0, buckets: [], checked, incomplete, outliers: 0 });
    const baseline = Array.from({ length: 60 }, (_, i) => w(70, i % 5 < 3 ? 1 : 0)); // ~0.9% of requests
    const three = rareEventTail("missing_share", w(70, 3), baseline)!;
    expect(three).toBeGreaterThan(SENSITIVITY_TAIL.high); // chance, a few times a week
    expect(rareEventTail("missing_share", w(70, 20), baseline)!).toBeLessThan(SENSITIVITY_TAIL.low);
    // Common events are judged by the band alone.
    expect(rareEventTail("missing_share", w(100_000, 3000), baseline)).toBeNull();
    expect(rareEventTail("latency_p95", w(70, 3), baseline)).toBeNull();
  });
});

import { describe, expect, it } from "vitest";
import { emptyBuckets } from "./latency";
import { shapeTrafficSeries, type RollupRow } from "./traffic-series";

const T0 = Date.UTC(2026, 0, 1, 12, 0);
const min = (n: number) => new Date(T0 + n * 60_000);
const row = (m: number, version: number, requests: number, errors = 0): RollupRow => {
  const buckets = emptyBuckets();
  buckets[3] = requests;
  return { minute: min(m), version, role: "primary", requests, errors, latencySumMs: requests * 8, buckets };
};

describe("shapeTrafficSeries", () => {
  it("draws a burst to one version as a spike between zeros, not as traffic ending", () => {
    // 15-minute steps over two hours; v2 got 4,000 requests in one minute.
    const s = shapeTrafficSeries([row(0, 1, 100), row(61, 2, 4000), row(90, 1, 100)], { from: min(0), rolledUpTo: min(120), stepMinutes: 15 });
    const v2 = s.find((x) => x.key === "v2 primary")!;
    expect(v2.points.map((p) => p.t)).toEqual([0, 15, 30, 45, 60, 75, 90, 105].map((m) => T0 + m * 60_000));
    expect(v2.points.map((p) => p.requests)).toEqual([0, 0, 0, 0, 4000, 0, 0, 0]);
    expect(v2.points[4]!.rps).toBeCloseTo(4000 / 900);
    // No requests: no error rate or latency (a gap), never 0 % or 0 ms.
    expect(v2.points[0]).toMatchObject({ rps: 0, errorRate: null, p50: null, p95: null, p99: null });
    expect(v2.points[4]!.errorRate).toBe(0);
    expect(v2.points[4]!.p95).not.toBeNull();
  });

  it("keeps a single-point series and leaves what is not rolled up yet as no data", () => {
    const s = shapeTrafficSeries([row(3, 1, 10, 1)], { from: min(0), rolledUpTo: min(5), stepMinutes: 1 });
    expect(s).toHaveLength(1);
    // Minutes 0..4 are rolled up (zeros but minute 3); minute 5 onwards has no point at all.
    expect(s[0]!.points.map((p) => p.requests)).toEqual([0, 0, 0, 10, 0]);
    expect(s[0]!.points[3]!.errorRate).toBeCloseTo(0.1);
  });

  it("fills nothing before the first rollup and nothing before `from`", () => {
    expect(shapeTrafficSeries([row(3, 1, 10)], { from: min(0), rolledUpTo: null, stepMinutes: 1 })[0]!.points).toHaveLength(1);
    expect(shapeTrafficSeries([row(3, 1, 10)], { from: min(2), rolledUpTo: min(5), stepMinutes: 1 })[0]!.points.map((p) => p.t)).toEqual(
      [2, 3, 4].map((m) => T0 + m * 60_000),
    );
  });

  it("divides a partly covered first or last step by the seconds covered, not the whole step", () => {
    // 15-minute steps; rolled up to 12:20, so the 12:15 step covers 5 minutes; the range starts at 11:50 (10 minutes of the 11:45 step).
    const s = shapeTrafficSeries([row(-12, 1, 600), row(16, 1, 600)], { from: min(-10), rolledUpTo: min(20), stepMinutes: 15 });
    const rps = new Map(s[0]!.points.map((p) => [(p.t - T0) / 60_000, p.rps]));
    expect(rps.get(-15)).toBeCloseTo(600 / 600);
    expect(rps.get(0)).toBe(0);
    expect(rps.get(15)).toBeCloseTo(600 / 300);
  });

  it("has no series for a version without rollups", () => {
    expect(shapeTrafficSeries([], { from: min(0), rolledUpTo: min(60), stepMinutes: 1 })).toEqual([]);
  });
});

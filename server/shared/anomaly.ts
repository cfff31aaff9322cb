import type { AlertMetric } from "./alert-metrics";
import { bucketQuantile } from "./latency";

/*
 * Anomaly rules, the part the browser also reads: which series a rule may watch, which way
 * each is unusual, and what a sensitivity means. The baseline itself is computed on the
 * server (server/monitoring/anomaly.ts); docs/MONITORING.md explains the method.
 */

/** The series an anomaly rule may watch (stored in alert_rules.metric). */
export const ANOMALY_METRICS = [
  "traffic",
  "error_rate",
  "latency_p50",
  "latency_p95",
  "latency_p99",
  "outlier_share",
  "missing_share",
  "prediction_mean",
] as const satisfies readonly AlertMetric[];
export type AnomalyMetric = (typeof ANOMALY_METRICS)[number];

export const isAnomalyMetric = (m: string): m is AnomalyMetric => (ANOMALY_METRICS as readonly string[]).includes(m);

/**
 * How many robust standard deviations (1.4826 × MAD) from the baseline's median a value must
 * be before the rule fires. Medium, 3.5, is the usual cut for the modified z-score
 * (Iglewicz & Hoaglin); low and high trade missed anomalies against false alerts.
 */
export const SENSITIVITIES = { low: 5, medium: 3.5, high: 2.5 } as const;
export type Sensitivity = keyof typeof SENSITIVITIES;
export const SENSITIVITY_NAMES = Object.keys(SENSITIVITIES) as Sensitivity[];

type AnomalyInfo = {
  label: string;
  /** How an explanation names it. */
  noun: string;
  /** Which way is unusual: a burst of errors is, a quiet hour of errors is good news. */
  direction: "above" | "both";
  /** The band is never narrower than this either side of the median (the series' own noise floor). */
  floor: number;
  /**
   * Nor narrower than this share of the median (0.1 unless said): for traffic, rates and
   * latencies a 10% wobble is never news. A mean prediction has no such scale — a probability
   * moving from 0.30 to 0.36 is — so it is judged on its history and its own standard error.
   */
  relative?: number;
  format: (v: number) => string;
};

export const ANOMALY_METRIC_INFO = {
  traffic: { label: "Traffic (requests/s)", noun: "traffic", direction: "both", floor: 0.02, format: (v) => `${v.toFixed(2)} req/s` },
  error_rate: { label: "Error rate", noun: "error rate", direction: "above", floor: 0.005, format: (v) => `${(v * 100).toFixed(1)}%` },
  latency_p50: { label: "Latency p50 (ms)", noun: "p50 latency", direction: "above", floor: 1, format: (v) => `${v.toFixed(v < 10 ? 1 : 0)} ms` },
  latency_p95: { label: "Latency p95 (ms)", noun: "p95 latency", direction: "above", floor: 1, format: (v) => `${v.toFixed(v < 10 ? 1 : 0)} ms` },
  latency_p99: { label: "Latency p99 (ms)", noun: "p99 latency", direction: "above", floor: 1, format: (v) => `${v.toFixed(v < 10 ? 1 : 0)} ms` },
  outlier_share: {
    label: "Input outliers (share of requests)",
    noun: "share of requests with an input outside the reference",
    direction: "above",
    floor: 0.005,
    format: (v) => `${(v * 100).toFixed(1)}%`,
  },
  missing_share: {
    label: "Missing inputs (share of requests)",
    noun: "share of requests with a missing input",
    direction: "above",
    floor: 0.005,
    format: (v) => `${(v * 100).toFixed(1)}%`,
  },
  prediction_mean: {
    label: "Mean prediction (probability or value)",
    noun: "mean prediction",
    direction: "both",
    floor: 0.001,
    relative: 0,
    format: (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3)),
  },
} as const satisfies Record<AnomalyMetric, AnomalyInfo>;

/** Which history the baseline came from: the same hour of the week, of the day, or the hours just before. */
export type BaselineKind = "weekly" | "daily" | "recent";

/** The expected band at one time, as the evaluator judged it and the charts draw it. */
export type AnomalyBand = {
  at: string;
  value: number | null;
  median: number;
  low: number;
  high: number;
  baseline: BaselineKind;
  samples: number;
};

/** Baseline windows a rule needs before it may fire. */
export const MIN_BASELINE_WINDOWS = 12;
const MIN_REQUESTS = 20;
const JITTER = [-2, -1, 0, 1, 2];
const DAY = 86_400_000;
const WEEK = 7 * DAY;

/** Median and scaled MAD of the samples (a copy is sorted). */
export function robustCentre(samples: readonly number[]) {
  const s = [...samples].sort((a, b) => a - b);
  const med = medianOfSorted(s);
  const dev = s.map((v) => Math.abs(v - med)).sort((a, b) => a - b);
  return { median: med, spread: 1.4826 * medianOfSorted(dev) };
}

function medianOfSorted(s: readonly number[]) {
  const n = s.length;
  if (!n) return NaN;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

/**
 * The expected band of a series from its baseline samples. `samplingSd` is the noise the
 * current window has by itself (a rate from few requests, a count at low traffic), which the
 * history's spread cannot know: the band is never narrower than it either.
 */
export function bandOf(metric: AnomalyMetric, samples: readonly number[], sensitivity: Sensitivity, samplingSd = 0) {
  const { median, spread } = robustCentre(samples);
  const info = ANOMALY_METRIC_INFO[metric];
  const relative: number = "relative" in info ? info.relative : 0.1;
  const width = SENSITIVITIES[sensitivity] * Math.max(spread, relative * Math.abs(median), info.floor, samplingSd);
  return { median, low: Math.max(0, median - width), high: median + width };
}

/**
 * The sampling noise of the current window's value: binomial for the error rate (at the
 * baseline's pooled rate and this window's requests), Poisson for traffic; none for latency.
 */
export function samplingSd(metric: AnomalyMetric, current: AnomalyWindow, baseline: readonly AnomalyWindow[], windowMinutes: number, median: number) {
  if (metric === "traffic") return Math.sqrt(Math.max(median, 0) / (windowMinutes * 60));
  if (metric === "prediction_mean") {
    // The standard error of the window's mean, from its own spread.
    const n = current.predictions ?? 0;
    if (n < 2) return 0;
    const mean = current.predictionSum! / n;
    return Math.sqrt(Math.max(0, current.predictionSqSum! / n - mean * mean) / (n - 1));
  }
  const share = SHARES[metric as keyof typeof SHARES];
  if (!share) return 0;
  const n = share.of(current);
  if (!n) return 0;
  const judged = baseline.filter((w) => share.of(w) >= MIN_REQUESTS);
  const total = judged.reduce((a, w) => a + share.of(w), 0);
  const p = total ? judged.reduce((a, w) => a + share.count(w), 0) / total : 0;
  return Math.sqrt((p * (1 - p)) / n);
}

/** The series that are a share of requests: what they count, out of how many. */
const SHARES = {
  error_rate: { count: (w: AnomalyWindow) => w.errors, of: (w: AnomalyWindow) => w.requests },
  outlier_share: { count: (w: AnomalyWindow) => w.outliers ?? 0, of: (w: AnomalyWindow) => w.checked ?? 0 },
  missing_share: { count: (w: AnomalyWindow) => w.incomplete ?? 0, of: (w: AnomalyWindow) => w.checked ?? 0 },
} as const;

/**
 * The upper-tail probability of each sensitivity's cut on a normal scale (scipy.stats.norm.sf
 * of 5, 3.5 and 2.5): how improbable a count must be before a rare-event share may fire.
 */
export const SENSITIVITY_TAIL: Record<Sensitivity, number> = { low: 2.866515718791933e-7, medium: 2.3262907903552502e-4, high: 6.209665325776132e-3 };
/** Below this many expected events in the window, a share's count is judged by its Poisson tail, not by the band alone. */
const RARE_EVENTS = 50;

/** P(X ≥ k) for X ~ Poisson(λ), accurate in the far tail (summed upwards from k, not 1 − the rest). */
export function poissonUpperTail(k: number, lambda: number): number {
  if (k <= 0) return 1;
  if (lambda <= 0) return 0;
  if (k <= lambda) {
    let term = Math.exp(-lambda);
    let below = 0;
    for (let i = 0; i < k; i++) {
      below += term;
      term *= lambda / (i + 1);
    }
    return Math.min(1, Math.max(0, 1 - below));
  }
  let log = -lambda + k * Math.log(lambda);
  for (let i = 2; i <= k; i++) log -= Math.log(i);
  let term = Math.exp(log);
  let sum = 0;
  for (let i = k; term > sum * 1e-17 && i < k + 100_000; i++) {
    sum += term;
    term *= lambda / (i + 1);
  }
  return sum;
}

/**
 * For a share of requests whose events are rare (errors, outliers, missing inputs at a few
 * per window), the normal band is too generous to chance: three missing inputs in three
 * minutes happen a few times a week at a 1% rate. There the count must also be improbable
 * under the baseline's pooled rate — its Poisson tail below the sensitivity's — before the
 * rule fires. Null for other metrics, or where events are common enough for the band.
 */
export function rareEventTail(metric: AnomalyMetric, current: AnomalyWindow, baseline: readonly AnomalyWindow[]): number | null {
  const share = SHARES[metric as keyof typeof SHARES];
  if (!share) return null;
  const judged = baseline.filter((w) => share.of(w) >= MIN_REQUESTS);
  const total = judged.reduce((a, w) => a + share.of(w), 0);
  // Half an event of prior: a deployment that has never failed does not make one failure impossible.
  const p = (judged.reduce((a, w) => a + share.count(w), 0) + 0.5) / (total + 1);
  const lambda = p * share.of(current);
  return lambda > RARE_EVENTS ? null : poissonUpperTail(share.count(current), lambda);
}

/** Whether a value lies outside the band in the direction that matters for the metric. */
export function outside(metric: AnomalyMetric, value: number, band: { low: number; high: number }) {
  return value > band.high || (ANOMALY_METRIC_INFO[metric].direction === "both" && value < band.low);
}

/**
 * Which windows form the baseline of the window ending at `end`, given the time the
 * deployment's history starts: the start of each window (ms), newest first.
 */
export function baselinePlan(end: number, windowMinutes: number, historyFrom: number | null): { kind: BaselineKind; starts: number[] } | null {
  const w = windowMinutes * 60_000;
  const start = end - w;
  if (historyFrom === null) return null;
  const seasonal = (period: number, count: number) =>
    Array.from({ length: count }, (_, i) => i + 1)
      .flatMap((k) => JITTER.map((j) => start - k * period + j * w))
      .filter((s) => s >= historyFrom);
  if (start - 3 * WEEK >= historyFrom) return { kind: "weekly", starts: seasonal(WEEK, 4) };
  if (start - 3 * DAY >= historyFrom) return { kind: "daily", starts: seasonal(DAY, 7) };
  const count = Math.min(Math.floor(DAY / w), Math.floor((start - historyFrom) / w));
  if (count < MIN_BASELINE_WINDOWS) return null;
  return { kind: "recent", starts: Array.from({ length: count }, (_, i) => start - (i + 1) * w) };
}

/** A window's rollups: requests, errors, the latency histogram, and the requests checked against the reference with their outliers and missing inputs. */
export type AnomalyWindow = {
  requests: number;
  errors: number;
  buckets: number[];
  checked?: number;
  outliers?: number;
  incomplete?: number;
  /** The model's numeric predictions read in the window: count, sum, sum of squares. */
  predictions?: number;
  predictionSum?: number;
  predictionSqSum?: number;
};

/** The metric over one window; null when a rate or latency has too few requests to judge. */
export function windowValue(metric: AnomalyMetric, x: AnomalyWindow, windowMinutes: number): number | null {
  if (metric === "traffic") return x.requests / (windowMinutes * 60);
  if (metric === "prediction_mean") return (x.predictions ?? 0) < MIN_REQUESTS ? null : x.predictionSum! / x.predictions!;
  const share = SHARES[metric as keyof typeof SHARES];
  if (share) return share.of(x) < MIN_REQUESTS ? null : share.count(x) / share.of(x);
  if (x.requests < MIN_REQUESTS) return null;
  return bucketQuantile(x.buckets, metric === "latency_p50" ? 0.5 : metric === "latency_p95" ? 0.95 : 0.99);
}

import { bucketQuantile, emptyBuckets } from "./latency";

/*
 * The traffic charts' series, shaped from per-minute rollups (pure, so it is unit-tested).
 *
 * Zeros versus gaps — the rule every time chart follows:
 * - A step the rollups cover (at or after the deployment was created, before the rollup
 *   watermark) with no rollup row for a series had no traffic for that version: it is a
 *   point with 0 requests (rps 0). The rollups write a row for every minute that served
 *   anything, so a missing row up to the watermark means "nothing was served", not "unknown".
 *   A burst to one version therefore draws as a spike between zeros, not as a line that
 *   ends where the burst does.
 * - Rates that do not exist without requests (error rate, latency quantiles) are null at
 *   those steps: drawn as a gap, never as 0 % or 0 ms.
 * - Steps past the watermark (not rolled up yet) and before the deployment existed have no
 *   point at all: no data, so the line stops there. The live card shows the minutes not
 *   rolled up yet.
 */

export type RollupRow = {
  minute: Date;
  version: number;
  role: string;
  requests: number;
  errors: number;
  latencySumMs: number;
  buckets: number[];
  /** Requests checked against the reference's bounds, and of those with an outlier or a missing feature. */
  checked?: number;
  outliers?: number;
  incomplete?: number;
  /** The model's numeric predictions read in the step, and their sum. */
  predictions?: number;
  predictionSum?: number;
};

export type TrafficPoint = {
  t: number;
  rps: number;
  /** null when the step served no request. */
  errorRate: number | null;
  requests: number;
  errors: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  /** Share of the checked requests with a feature outside the reference (or missing); null when none was checked. */
  outlierShare: number | null;
  missingShare: number | null;
  /** The mean positive-class probability or regression value; null when no prediction was read. */
  predictionMean: number | null;
};

export type TrafficSeries = { key: string; points: TrafficPoint[] };

/** The start of the `step`-minute bucket `ms` falls in. */
export const stepStart = (ms: number, stepMinutes: number) => Math.floor(ms / (stepMinutes * 60_000)) * stepMinutes * 60_000;

/**
 * Series per version × role, one point per `stepMinutes` from `from` (the range start or the
 * deployment's creation, whichever is later) up to the last step that ends by `rolledUpTo`
 * (no fill at all when nothing has been rolled up yet).
 */
export function shapeTrafficSeries(rows: RollupRow[], opts: { from: Date; rolledUpTo: Date | null; stepMinutes: number }): TrafficSeries[] {
  const step = opts.stepMinutes * 60_000;
  type Acc = {
    requests: number;
    errors: number;
    buckets: number[];
    checked: number;
    outliers: number;
    incomplete: number;
    predictions: number;
    predictionSum: number;
  };
  const empty = (): Acc => ({ requests: 0, errors: 0, buckets: emptyBuckets(), checked: 0, outliers: 0, incomplete: 0, predictions: 0, predictionSum: 0 });
  const series = new Map<string, Map<number, Acc>>();
  for (const r of rows) {
    const key = `v${r.version} ${r.role}`;
    const t = stepStart(r.minute.getTime(), opts.stepMinutes);
    const s = series.get(key) ?? new Map<number, Acc>();
    series.set(key, s);
    const p = s.get(t) ?? empty();
    p.requests += r.requests;
    p.errors += r.errors;
    p.checked += r.checked ?? 0;
    p.outliers += r.outliers ?? 0;
    p.incomplete += r.incomplete ?? 0;
    p.predictions += r.predictions ?? 0;
    p.predictionSum += r.predictionSum ?? 0;
    r.buckets.forEach((c, i) => (p.buckets[i] = (p.buckets[i] ?? 0) + c));
    s.set(t, p);
  }
  // Steps fully covered by the rollups: [first, last]. A step partly rolled up keeps whatever rows it has.
  const first = stepStart(opts.from.getTime(), opts.stepMinutes);
  const last = opts.rolledUpTo ? stepStart(opts.rolledUpTo.getTime(), opts.stepMinutes) - step : first - step;
  const fromMs = opts.from.getTime();
  const upTo = opts.rolledUpTo?.getTime() ?? Infinity;
  const covered = (t: number) => Math.max(60, (Math.min(t + step, upTo) - Math.max(t, fromMs)) / 1000);
  return [...series.entries()]
    .sort((a, b) => a[0].localeCompare(b[0]))
    .map(([key, points]) => {
      for (let t = first; t <= last; t += step) if (!points.has(t)) points.set(t, empty());
      return {
        key,
        points: [...points.entries()]
          .sort((a, b) => a[0] - b[0])
          .map(([t, p]) => ({
            t,
            // Per second of the step that is covered: the first step may start before `from` and the
            // last may be only partly rolled up; dividing by the whole step would flatten a recent burst.
            rps: p.requests / covered(t),
            errorRate: p.requests ? p.errors / p.requests : null,
            requests: p.requests,
            errors: p.errors,
            p50: p.requests ? bucketQuantile(p.buckets, 0.5) : null,
            p95: p.requests ? bucketQuantile(p.buckets, 0.95) : null,
            p99: p.requests ? bucketQuantile(p.buckets, 0.99) : null,
            outlierShare: p.checked ? p.outliers / p.checked : null,
            missingShare: p.checked ? p.incomplete / p.checked : null,
            predictionMean: p.predictions ? p.predictionSum / p.predictions : null,
          })),
      };
    });
}

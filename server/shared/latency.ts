/*
 * Latency histograms shared by the rollups, the alerts, the inference replicas' live
 * ticks and the browser, which merges the ticks of several replicas: fixed bucket bounds,
 * so counts add up, and quantiles read from the counts.
 */

/** Upper bounds (ms) of the latency buckets; the last bucket is everything above. */
export const LATENCY_BUCKETS_MS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500] as const;

export const emptyBuckets = () => new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);

export function bucketOf(ms: number) {
  const i = LATENCY_BUCKETS_MS.findIndex((b) => ms <= b);
  return i === -1 ? LATENCY_BUCKETS_MS.length : i;
}

/** The latency at quantile q from bucket counts (linear within the bucket); null without counts. */
export function bucketQuantile(counts: number[], q: number) {
  const total = counts.reduce((a, b) => a + b, 0);
  if (!total) return null;
  const target = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    if (seen + counts[i]! >= target) {
      const lo = i === 0 ? 0 : LATENCY_BUCKETS_MS[i - 1]!;
      const hi = LATENCY_BUCKETS_MS[i] ?? LATENCY_BUCKETS_MS.at(-1)! * 2;
      return lo + ((target - seen) / Math.max(1, counts[i]!)) * (hi - lo);
    }
    seen += counts[i]!;
  }
  return LATENCY_BUCKETS_MS.at(-1)!;
}

/*
 * What a metric's number means: which way is better, and when a value the uploader typed
 * disagrees with the one Steward measured. Isomorphic: the review room, the Compare page
 * and the compare-to-champion step all ask here, so a colour cannot mean two things.
 */

/** Metrics where a smaller value is the better one: losses, errors, latencies, gaps between groups. */
const LOWER_IS_BETTER = /loss|error|(^|_)(mae|mse|rmse|mape|msle)(_|$)|brier|latency|(^|_)gap(_|$)|(^|_)(fpr|fnr)(_|$)/i;

export type MetricDirection = "higher" | "lower";

/** Which way is better for a metric, from its name ("log_loss", "val_rmse", "log_loss_delta" are lower-is-better). */
export function metricDirection(name: string): MetricDirection {
  return LOWER_IS_BETTER.test(name) ? "lower" : "higher";
}

export const lowerIsBetter = (name: string) => metricDirection(name) === "lower";

export type ChangeVerdict = "better" | "worse" | "same";

/** Is going from `before` to `after` (a change of `delta` = after − before) an improvement of this metric? */
export function changeVerdict(name: string, delta: number): ChangeVerdict {
  if (delta === 0 || !Number.isFinite(delta)) return "same";
  return (lowerIsBetter(name) ? delta < 0 : delta > 0) ? "better" : "worse";
}

/**
 * A self-reported value differs from the measured one when the gap is more than 1% of the
 * measured value, and at least 0.005 (so 0.768 against 0.745 is flagged, 0.7451 is not).
 */
export function reportedDiffers(reported: number, measured: number) {
  const gap = reported - measured;
  return { differs: Math.abs(gap) > Math.max(0.005, 0.01 * Math.abs(measured)), gap };
}

/** Names the same figure goes by: an uploader's "auc" is what validation calls "roc_auc". */
const SYNONYMS: Record<string, string[]> = { auc: ["roc_auc"], roc_auc: ["auc"], logloss: ["log_loss"], log_loss: ["logloss"] };

/** The measured value of a metric, under its own name or a synonym (undefined: not measured). */
export function measuredValue(name: string, measured: Record<string, number>): number | undefined {
  for (const n of [name, ...(SYNONYMS[name.toLowerCase()] ?? [])]) if (measured[n] !== undefined) return measured[n];
  return undefined;
}

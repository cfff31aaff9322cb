/*
 * Input outliers per request, the part the schema and the browser also read. The bounds are
 * computed by the drift job (server/monitoring/drift.ts `outlierBounds`) and applied to each
 * logged request as the log is rolled up (server/monitoring/monitoring.service.ts).
 */

/** A numeric value is an outlier below the reference's 0.1% or above its 99.9% quantile. */
export const OUTLIER_QUANTILES = [0.001, 0.999] as const;
/** A categorical feature with more reference categories than this (an id, a free text) is not checked for unseen values. */
export const MAX_BOUND_CATEGORIES = 1000;

/**
 * What the per-minute rollups check every logged request against (reference_bounds): each
 * feature's range (numeric) or categories (categorical), from the same reference as drift.
 * `features` lists every feature checked for missing values.
 */
export type OutlierBounds = {
  features: string[];
  numeric: Record<string, [number, number]>;
  categorical: Record<string, string[]>;
  /**
   * Where the rollup reads the model's numeric prediction in a logged answer: the output's
   * rows, each a number or a row whose first value is it (`value`, a regressor), or a
   * probability row of at most two classes whose last value is the positive class's (`proba`).
   */
  score?: { output: string; pick: "value" | "proba" };
};

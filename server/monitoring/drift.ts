/*
 * Drift statistics for monitoring (issue #7). Pure and isomorphic.
 *
 * Sound by construction where common tools are not:
 * - bins come from the REFERENCE's quantiles and are fixed: current data is counted into
 *   the reference's bins, so PSI and Jensen–Shannon do not move with the batch size;
 * - a window below the minimum sample size reports "not enough data", not a number;
 * - p-values across features are corrected for multiple testing (Benjamini–Hochberg);
 * - empty bins are smoothed (PSI is infinite otherwise), constant features and categories
 *   unseen in the reference have their own handling;
 * - every drift comes with a severity band and a plain-language explanation;
 * - the KS p-value is SciPy's ks_2samp(method="auto") (exact up to 10,000 a side, kstwo above;
 *   ./kolmogorov.ts), chi-square applies Yates' correction at one degree of freedom as
 *   chi2_contingency does by default;
 * - missing values (null, NaN, ±∞, empty or unparseable strings) are never a number: the
 *   low-level functions refuse them (RangeError), the feature functions count them as
 *   missing and test the missing share on its own;
 * - values never seen in the reference have their own bin and are named, however many
 *   categories the reference has ("(other)" holds only the rarer reference categories).
 * Reference values for the tests: ./reference/gen_drift_reference.py (SciPy) → drift-reference.json.
 */

import { ksTwoSamplePValue, type KsMethod } from "~/server/monitoring/kolmogorov";
import { MAX_BOUND_CATEGORIES, OUTLIER_QUANTILES, type OutlierBounds } from "~/server/shared/outliers";

export { OUTLIER_QUANTILES, type OutlierBounds } from "~/server/shared/outliers";

export const MIN_SAMPLE = 100;
const EPS = 1e-4;

/** Sorted copy of finite values; anything else is refused, naming where it is (a NaN would otherwise stall the KS merge). */
function finiteSorted(values: ArrayLike<number>, what: string): Float64Array {
  const out = Float64Array.from(values);
  for (let i = 0; i < out.length; i++) {
    if (!Number.isFinite(out[i]))
      throw new RangeError(`${what} must be finite numbers: ${String(values[i])} at index ${i} (count missing values before calling).`);
  }
  return out.sort();
}

// ---------------------------------------------------------------------------
// Binning from the reference
// ---------------------------------------------------------------------------

/** The value at quantile q of sorted values (linear interpolation, NumPy's default). */
export function quantile(sorted: ArrayLike<number>, q: number) {
  const n = sorted.length;
  if (!n) return NaN;
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Interior bin edges at the reference's quantiles (deduplicated); bins are (-∞, e0], (e0, e1], …, (ek, ∞). */
export function numericEdges(reference: ArrayLike<number>, bins = 10): number[] {
  const sorted = finiteSorted(reference, "numericEdges: the reference");
  const edges: number[] = [];
  for (let i = 1; i < bins; i++) {
    const e = quantile(sorted, i / bins);
    if (!edges.length || e > edges.at(-1)!) edges.push(e);
  }
  return edges;
}

/** Counts of values in the bins defined by `edges` (length edges.length + 1). */
export function histogram(values: ArrayLike<number>, edges: number[]): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) throw new RangeError(`histogram: values must be finite numbers: ${String(v)} at index ${i}.`);
    // Binary search: first edge >= v.
    let lo = 0;
    let hi = edges.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (edges[mid]! < v) lo = mid + 1;
      else hi = mid;
    }
    counts[lo]!++;
  }
  return counts;
}

export const UNSEEN = "(not in reference)";
export const OTHER = "(other)";

/**
 * Bins of a categorical feature from the reference: its categories (most frequent first,
 * ties by code point, at most `max`), "(other)" for the rarer reference categories when there
 * are more, and a bin for values never seen in the reference. `index` maps every reference
 * category to its bin, so an unseen value can never fall into "(other)".
 */
export type CategoricalBins = { labels: string[]; index: Map<string, number> };
export function categoricalBins(reference: ArrayLike<string>, max = 30): CategoricalBins {
  const freq = new Map<string, number>();
  for (let i = 0; i < reference.length; i++) freq.set(reference[i]!, (freq.get(reference[i]!) ?? 0) + 1);
  const cats = [...freq.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([k]) => k);
  const kept = cats.slice(0, max);
  const labels = cats.length > max ? [...kept, OTHER, UNSEEN] : [...kept, UNSEEN];
  const index = new Map(kept.map((c, i) => [c, i]));
  for (const c of cats.slice(max)) index.set(c, max);
  return { labels, index };
}

export function categoricalCounts(values: ArrayLike<string>, bins: CategoricalBins): number[] {
  const unseen = bins.labels.length - 1;
  const counts = new Array<number>(bins.labels.length).fill(0);
  for (let i = 0; i < values.length; i++) counts[bins.index.get(values[i]!) ?? unseen]!++;
  return counts;
}

/** The values of `values` never seen in the reference, by name, most frequent first, with their share of `values`. */
export function unseenValues(values: ArrayLike<string>, bins: CategoricalBins): { value: string; count: number; share: number }[] {
  const counts = new Map<string, number>();
  for (let i = 0; i < values.length; i++) if (!bins.index.has(values[i]!)) counts.set(values[i]!, (counts.get(values[i]!) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([value, count]) => ({ value, count, share: count / values.length }));
}

// ---------------------------------------------------------------------------
// Distances between binned distributions
// ---------------------------------------------------------------------------

const proportions = (counts: number[], eps = 0) => {
  const total = counts.reduce((a, b) => a + b, 0);
  const p = counts.map((c) => Math.max(c / total, eps));
  const s = p.reduce((a, b) => a + b, 0);
  return p.map((x) => x / s);
};

/** Population stability index, with empty bins smoothed to 1e-4 (then renormalised). */
export function psi(reference: number[], current: number[]) {
  const r = proportions(reference, EPS);
  const c = proportions(current, EPS);
  return r.reduce((a, ri, i) => a + (c[i]! - ri) * Math.log(c[i]! / ri), 0);
}

/** Jensen–Shannon distance, base 2 (0 = identical, 1 = disjoint); SciPy's jensenshannon(p, q, base=2). */
export function jensenShannon(reference: number[], current: number[]) {
  const p = proportions(reference);
  const q = proportions(current);
  let d = 0;
  for (let i = 0; i < p.length; i++) {
    const m = (p[i]! + q[i]!) / 2;
    if (p[i]! > 0) d += 0.5 * p[i]! * Math.log2(p[i]! / m);
    if (q[i]! > 0) d += 0.5 * q[i]! * Math.log2(q[i]! / m);
  }
  return Math.sqrt(Math.max(0, d));
}

// ---------------------------------------------------------------------------
// Tests on raw samples
// ---------------------------------------------------------------------------

/**
 * Two-sample Kolmogorov–Smirnov test, two-sided, as SciPy's ks_2samp(method="auto"): the
 * exact p-value when both samples have at most 10,000 values, else kstwo.sf(D, round(nm/(n+m)));
 * `method` says which. Both samples must be non-empty and finite (RangeError otherwise).
 */
export function ksTest(a: ArrayLike<number>, b: ArrayLike<number>): { statistic: number; pValue: number; method: KsMethod } {
  const x = finiteSorted(a, "ksTest: the first sample");
  const y = finiteSorted(b, "ksTest: the second sample");
  const n = x.length;
  const m = y.length;
  if (!n || !m) throw new RangeError("ksTest: both samples need at least one value.");
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < n && j < m) {
    const v = Math.min(x[i]!, y[j]!);
    while (i < n && x[i]! <= v) i++;
    while (j < m && y[j]! <= v) j++;
    d = Math.max(d, Math.abs(i / n - j / m));
  }
  return ksTwoSamplePValue(n, m, d);
}

/** First Wasserstein distance between two samples (SciPy's wasserstein_distance). */
export function wasserstein(a: ArrayLike<number>, b: ArrayLike<number>) {
  const x = finiteSorted(a, "wasserstein: the first sample");
  const y = finiteSorted(b, "wasserstein: the second sample");
  if (!x.length || !y.length) throw new RangeError("wasserstein: both samples need at least one value.");
  const all = Float64Array.from([...x, ...y]).sort();
  let i = 0;
  let j = 0;
  let w = 0;
  for (let k = 0; k < all.length - 1; k++) {
    const v = all[k]!;
    while (i < x.length && x[i]! <= v) i++;
    while (j < y.length && y[j]! <= v) j++;
    w += Math.abs(i / x.length - j / y.length) * (all[k + 1]! - v);
  }
  return w;
}

/** Regularised upper incomplete gamma Q(a, x) (Numerical Recipes' gammq). */
function gammaQ(a: number, x: number) {
  if (x <= 0) return 1;
  const lnGammaA = lnGamma(a);
  if (x < a + 1) {
    let sum = 1 / a;
    let del = sum;
    let ap = a;
    for (let n = 0; n < 1000; n++) {
      ap += 1;
      del *= x / ap;
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * 1e-15) break;
    }
    return 1 - sum * Math.exp(-x + a * Math.log(x) - lnGammaA);
  }
  let b = x + 1 - a;
  let c = 1 / 1e-300;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < 1e-300) d = 1e-300;
    c = b + an / c;
    if (Math.abs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return Math.exp(-x + a * Math.log(x) - lnGammaA) * h;
}

function lnGamma(z: number): number {
  // Lanczos approximation (g = 7, n = 9).
  const g = 7;
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
    9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (z < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * z)) - lnGamma(1 - z);
  z -= 1;
  let x = c[0]!;
  for (let i = 1; i < g + 2; i++) x += c[i]! / (z + i);
  const t = z + g + 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(x);
}

/**
 * Chi-square test of homogeneity between the reference's and the current category counts,
 * as SciPy's chi2_contingency on the 2×k table: with Yates' continuity correction when there
 * is one degree of freedom (each cell moved towards its expected count by at most 0.5) unless
 * `correction: false`. Categories absent from both are dropped first (SciPy refuses a zero
 * expected count); fewer than two left, or an empty side → no test.
 */
export function chiSquare(reference: number[], current: number[], opts: { correction?: boolean } = {}) {
  const keep = reference.map((r, i) => r + current[i]! > 0);
  const r = reference.filter((_, i) => keep[i]);
  const c = current.filter((_, i) => keep[i]);
  if (r.length < 2) return null;
  const R = r.reduce((a, b) => a + b, 0);
  const C = c.reduce((a, b) => a + b, 0);
  if (!R || !C) return null;
  const N = R + C;
  const dof = r.length - 1;
  const yates = dof === 1 && (opts.correction ?? true);
  let stat = 0;
  for (const [observed, total] of [
    [r, R],
    [c, C],
  ] as const) {
    for (let i = 0; i < observed.length; i++) {
      const expected = (total * (r[i]! + c[i]!)) / N;
      let o = observed[i]!;
      if (yates) o += Math.sign(expected - o) * Math.min(0.5, Math.abs(expected - o));
      stat += (o - expected) ** 2 / expected;
    }
  }
  return { statistic: stat, dof, pValue: gammaQ(dof / 2, stat / 2), correction: yates };
}

/** Benjamini–Hochberg adjusted p-values (SciPy's false_discovery_control(method="bh"), statsmodels' fdr_bh), in input order. */
export function benjaminiHochberg(pValues: number[]): number[] {
  const n = pValues.length;
  const order = pValues.map((p, i) => [p, i] as const).sort((a, b) => a[0] - b[0]);
  const adjusted = new Array<number>(n);
  let min = 1;
  for (let k = n - 1; k >= 0; k--) {
    const [p, i] = order[k]!;
    min = Math.min(min, (p * n) / (k + 1));
    adjusted[i] = Math.min(1, min);
  }
  return adjusted;
}

// ---------------------------------------------------------------------------
// One feature, explained
// ---------------------------------------------------------------------------

export type Severity = "none" | "moderate" | "major";
/** PSI bands in common use: < 0.1 stable, 0.1–0.25 moderate shift, ≥ 0.25 major shift. */
export const severityOf = (psiValue: number): Severity => (psiValue >= 0.25 ? "major" : psiValue >= 0.1 ? "moderate" : "none");

/**
 * Missing values of a feature on each side (null, undefined, NaN, ±∞, empty or unparseable
 * strings) and the test of their share: chi-square on the 2×2 table missing/present ×
 * reference/current with Yates' correction (chi2_contingency's default); null when neither
 * side has a missing value. Not part of the features' Benjamini–Hochberg family.
 */
export type MissingShare = { reference: number; current: number; referenceShare: number; currentShare: number; pValue: number | null };

export type FeatureDrift =
  | { feature: string; kind: "numeric" | "categorical"; status: "not_enough_data"; n: number; minSample: number; missing: MissingShare; explanation: string }
  | {
      feature: string;
      kind: "numeric" | "categorical";
      status: "ok";
      n: number;
      psi: number;
      jensenShannon: number;
      ks: { statistic: number; pValue: number; method: KsMethod } | null;
      wasserstein: number | null;
      chiSquare: { statistic: number; dof: number; pValue: number; correction: boolean } | null;
      pValue: number | null;
      /** How pValue was computed: "ks_exact", "ks_asymptotic" (kstwo), "chi2" or "chi2_yates". */
      pMethod: "ks_exact" | "ks_asymptotic" | "chi2" | "chi2_yates" | null;
      pAdjusted: number | null;
      severity: Severity;
      missing: MissingShare;
      /** Values never seen in the reference, by name, with their share of the current window (at most 10). */
      unseen?: { value: string; count: number; share: number }[];
      /**
       * Current values outside the reference: below its 0.1% or above its 99.9% quantile
       * (numeric; `range` holds the two), or a category never seen in it. Share of present values.
       */
      outside?: { count: number; share: number; range?: [number, number] };
      explanation: string;
      bins: { labels: string[]; reference: number[]; current: number[] };
    };

const pct = (x: number) => `${Math.round(x * 100)}%`;
const fmt = (x: number) => (Math.abs(x) >= 1000 || Number.isInteger(x) ? x.toLocaleString("en", { maximumFractionDigits: 0 }) : x.toPrecision(3));

/** A value as a number, or null when it is missing: null, undefined, NaN, ±∞, "" and strings that do not parse as a number. Booleans are 0/1. */
export function toNumberOrMissing(v: unknown): number | null {
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "string") {
    if (v.trim() === "") return null;
    const x = Number(v);
    return Number.isFinite(x) ? x : null;
  }
  return null;
}

/** A value as a category, or null when it is missing: null, undefined, NaN and empty (or blank) strings. */
export function toCategoryOrMissing(v: unknown): string | null {
  if (v === null || v === undefined || (typeof v === "number" && Number.isNaN(v))) return null;
  const s = typeof v === "string" ? v : typeof v === "number" || typeof v === "boolean" || typeof v === "bigint" ? String(v) : (JSON.stringify(v) ?? "");
  return s.trim() === "" ? null : s;
}

function split<T>(values: ArrayLike<unknown>, read: (v: unknown) => T | null): { present: T[]; missing: number } {
  const present: T[] = [];
  let missing = 0;
  for (let i = 0; i < values.length; i++) {
    const v = read(values[i]);
    if (v === null) missing++;
    else present.push(v);
  }
  return { present, missing };
}

function missingShare(refMissing: number, refRows: number, curMissing: number, curRows: number): MissingShare {
  const chi = refMissing + curMissing > 0 ? chiSquare([refMissing, refRows - refMissing], [curMissing, curRows - curMissing]) : null;
  return {
    reference: refMissing,
    current: curMissing,
    referenceShare: refRows ? refMissing / refRows : 0,
    currentShare: curRows ? curMissing / curRows : 0,
    pValue: chi?.pValue ?? null,
  };
}

/** "income_k: 12% of current traffic has no value (2% in the reference)." when the missing share rose by 5 points or more, significantly. */
function missingNote(feature: string, m: MissingShare) {
  return m.currentShare - m.referenceShare >= 0.05 && m.pValue !== null && m.pValue < 0.01
    ? `${feature}: ${pct(m.currentShare)} of current traffic has no value (${pct(m.referenceShare)} in the reference).`
    : null;
}

/**
 * Either side below the minimum sample size is "not enough data", never a number: a thin
 * current window says nothing yet, and a thin reference (an empty reference window, a
 * column mostly missing) would make every value look unseen. A window whose values are
 * mostly missing says so.
 */
function tooFew(
  feature: string,
  kind: "numeric" | "categorical",
  reference: number,
  current: number,
  minSample: number,
  missing: MissingShare,
): FeatureDrift | null {
  const note = missingNote(feature, missing);
  if (current < minSample)
    return {
      feature,
      kind,
      status: "not_enough_data",
      n: current,
      minSample,
      missing,
      explanation: `${feature}: not enough data (${current} of at least ${minSample} values in this window).${note ? ` ${note}` : ""}`,
    };
  if (reference < minSample)
    return {
      feature,
      kind,
      status: "not_enough_data",
      n: current,
      minSample,
      missing,
      explanation: `${feature}: not enough data in the reference (${reference} of at least ${minSample} values).`,
    };
  return null;
}

/**
 * Drift of a numeric feature. Values may hold missing ones (see toNumberOrMissing): they are
 * counted, tested as a share, and left out of every distribution statistic.
 */
export function numericDrift(
  feature: string,
  reference: ArrayLike<unknown>,
  current: ArrayLike<unknown>,
  opts: { bins?: number; minSample?: number } = {},
): FeatureDrift {
  const minSample = opts.minSample ?? MIN_SAMPLE;
  const ref = split(reference, toNumberOrMissing);
  const cur = split(current, toNumberOrMissing);
  const missing = missingShare(ref.missing, reference.length, cur.missing, current.length);
  const thin = tooFew(feature, "numeric", ref.present.length, cur.present.length, minSample, missing);
  if (thin) return thin;
  const refValues = ref.present;
  const curValues = cur.present;
  const edges = numericEdges(refValues, opts.bins ?? 10);
  const r = histogram(refValues, edges);
  const c = histogram(curValues, edges);
  const psiValue = psi(r, c);
  const ks = ksTest(refValues, curValues);
  const sortedRef = Float64Array.from(refValues).sort();
  const p5 = quantile(sortedRef, 0.05);
  const p95 = quantile(sortedRef, 0.95);
  let above = 0;
  let below = 0;
  for (const v of curValues) {
    if (v > p95) above++;
    else if (v < p5) below++;
  }
  const n = curValues.length;
  const range: [number, number] = [quantile(sortedRef, OUTLIER_QUANTILES[0]), quantile(sortedRef, OUTLIER_QUANTILES[1])];
  const outsideCount = curValues.filter((v) => v < range[0] || v > range[1]).length;
  const severity = severityOf(psiValue);
  const constant = sortedRef[0] === sortedRef[sortedRef.length - 1];
  const note = missingNote(feature, missing);
  const explanation =
    severity === "none"
      ? (note ?? `${feature}: stable (PSI ${psiValue.toFixed(3)}).`)
      : constant
        ? `${feature}: always ${fmt(sortedRef[0]!)} in the reference; ${pct(curValues.filter((v) => v !== sortedRef[0]).length / n)} of current traffic differs.`
        : above / n >= below / n
          ? `${feature}: ${pct(above / n)} of current traffic falls above the reference's 95th percentile (${fmt(p95)}), where 5% is expected.`
          : `${feature}: ${pct(below / n)} of current traffic falls below the reference's 5th percentile (${fmt(p5)}), where 5% is expected.`;
  const labels = [...edges.map((e, i) => (i === 0 ? `≤ ${fmt(e)}` : `${fmt(edges[i - 1]!)} – ${fmt(e)}`)), `> ${fmt(edges.at(-1) ?? NaN)}`];
  return {
    feature,
    kind: "numeric",
    status: "ok",
    n,
    psi: psiValue,
    jensenShannon: jensenShannon(r, c),
    ks,
    wasserstein: wasserstein(refValues, curValues),
    chiSquare: null,
    pValue: ks.pValue,
    pMethod: ks.method === "exact" ? "ks_exact" : "ks_asymptotic",
    pAdjusted: null,
    severity,
    missing,
    outside: { count: outsideCount, share: outsideCount / n, range },
    explanation,
    bins: { labels, reference: r, current: c },
  };
}

/**
 * Drift of a categorical feature. Values may hold missing ones (see toCategoryOrMissing):
 * counted and tested as a share, never a category of their own.
 */
export function categoricalDrift(
  feature: string,
  reference: ArrayLike<unknown>,
  current: ArrayLike<unknown>,
  opts: { minSample?: number; maxCategories?: number } = {},
): FeatureDrift {
  const minSample = opts.minSample ?? MIN_SAMPLE;
  const ref = split(reference, toCategoryOrMissing);
  const cur = split(current, toCategoryOrMissing);
  const missing = missingShare(ref.missing, reference.length, cur.missing, current.length);
  const thin = tooFew(feature, "categorical", ref.present.length, cur.present.length, minSample, missing);
  if (thin) return thin;
  const bins = categoricalBins(ref.present, opts.maxCategories ?? 30);
  const r = categoricalCounts(ref.present, bins);
  const c = categoricalCounts(cur.present, bins);
  const psiValue = psi(r, c);
  const chi = chiSquare(r, c);
  const R = ref.present.length;
  const C = cur.present.length;
  const severity = severityOf(psiValue);
  const unseenList = unseenValues(cur.present, bins);
  const unseen = c.at(-1)! / C;
  const note = missingNote(feature, missing);
  let explanation = note ?? `${feature}: stable (PSI ${psiValue.toFixed(3)}).`;
  if (severity !== "none") {
    if (unseen >= 0.05) {
      const named = unseenList.slice(0, 3).map((u) => `"${u.value}" ${pct(u.share)}`);
      explanation = `${feature}: ${pct(unseen)} of current traffic has values never seen in the reference (${named.join(", ")}${unseenList.length > 3 ? `, ${unseenList.length - 3} more` : ""}).`;
    } else {
      const k = bins.labels.map((_, i) => i).sort((a, b) => Math.abs(c[b]! / C - r[b]! / R) - Math.abs(c[a]! / C - r[a]! / R))[0]!;
      explanation = `${feature}: "${bins.labels[k]}" is ${pct(c[k]! / C)} of current traffic vs ${pct(r[k]! / R)} in the reference.`;
    }
  }
  return {
    feature,
    kind: "categorical",
    status: "ok",
    n: C,
    psi: psiValue,
    jensenShannon: jensenShannon(r, c),
    ks: null,
    wasserstein: null,
    chiSquare: chi,
    pValue: chi?.pValue ?? null,
    pMethod: chi ? (chi.correction ? "chi2_yates" : "chi2") : null,
    pAdjusted: null,
    severity,
    missing,
    unseen: unseenList.slice(0, 10),
    outside: { count: c.at(-1)!, share: unseen },
    explanation,
    bins: { labels: bins.labels, reference: r, current: c },
  };
}

/** Drift of every feature, p-values adjusted across features (Benjamini–Hochberg). */
export function driftReport(features: FeatureDrift[]) {
  const tested = features.filter((f): f is Extract<FeatureDrift, { status: "ok" }> => f.status === "ok" && f.pValue !== null);
  const adjusted = benjaminiHochberg(tested.map((f) => f.pValue!));
  tested.forEach((f, i) => (f.pAdjusted = adjusted[i]!));
  return features;
}

// ---------------------------------------------------------------------------
// Input outliers, per request
// ---------------------------------------------------------------------------

/** The bounds of the reference's features; a feature with no present value is checked for missing values only. */
export function outlierBounds(features: { name: string; kind: "numeric" | "categorical"; values: ArrayLike<unknown> }[]): OutlierBounds {
  const bounds: OutlierBounds = { features: [], numeric: {}, categorical: {} };
  for (const f of features) {
    bounds.features.push(f.name);
    if (f.kind === "numeric") {
      const present = split(f.values, toNumberOrMissing).present;
      if (!present.length) continue;
      const sorted = Float64Array.from(present).sort();
      bounds.numeric[f.name] = [quantile(sorted, OUTLIER_QUANTILES[0]), quantile(sorted, OUTLIER_QUANTILES[1])];
    } else {
      const cats = new Set(split(f.values, toCategoryOrMissing).present);
      if (cats.size && cats.size <= MAX_BOUND_CATEGORIES) bounds.categorical[f.name] = [...cats].sort();
    }
  }
  return bounds;
}

/**
 * How one logged record reads against the bounds: `missing` when a listed feature is missing
 * (as the drift functions count it), `outlier` when a present value lies outside its range or
 * is a category the reference never had. The rollup's SQL (monitoring.service.ts) applies the
 * same rule inside the database; a test holds the two together.
 */
export function checkRecord(record: Record<string, unknown>, bounds: OutlierBounds): { missing: boolean; outlier: boolean } {
  let missing = false;
  let outlier = false;
  for (const name of bounds.features) {
    const v = record[name];
    const range = bounds.numeric[name];
    if (range) {
      const x = toNumberOrMissing(v);
      if (x === null) missing = true;
      else if (x < range[0] || x > range[1]) outlier = true;
      continue;
    }
    const c = toCategoryOrMissing(v);
    if (c === null) missing = true;
    else if (bounds.categorical[name] && !bounds.categorical[name].includes(c)) outlier = true;
  }
  return { missing, outlier };
}

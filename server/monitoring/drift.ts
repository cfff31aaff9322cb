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
 * - every drift comes with a severity band and a plain-language explanation.
 * Reference values for the tests: docs/reference/drift-reference.py (SciPy).
 */

export const MIN_SAMPLE = 100;
const EPS = 1e-4;

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
  const sorted = Float64Array.from(reference).sort();
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

/** Categories of the reference (most frequent first, at most `max`, the rest as "(other)"), plus a bin for unseen ones. */
export function categoricalBins(reference: ArrayLike<string>, max = 30): string[] {
  const freq = new Map<string, number>();
  for (let i = 0; i < reference.length; i++) freq.set(reference[i]!, (freq.get(reference[i]!) ?? 0) + 1);
  const cats = [...freq.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([k]) => k);
  return cats.length > max ? [...cats.slice(0, max), "(other)", UNSEEN] : [...cats, UNSEEN];
}

export function categoricalCounts(values: ArrayLike<string>, bins: string[]): number[] {
  const index = new Map(bins.map((b, i) => [b, i]));
  const other = index.get("(other)");
  const unseen = index.get(UNSEEN)!;
  const counts = new Array<number>(bins.length).fill(0);
  for (let i = 0; i < values.length; i++) {
    const j = index.get(values[i]!);
    counts[j ?? other ?? unseen]!++;
  }
  return counts;
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

/** Survival function of the Kolmogorov distribution (SciPy's kstwobign.sf). */
function kolmogorovSf(x: number) {
  if (x <= 0) return 1;
  if (x < 0.3) {
    // The alternating series converges slowly here; use the complementary (Jacobi) form.
    const y = Math.PI ** 2 / (8 * x * x);
    let s = 0;
    for (let k = 1; k < 100; k += 2) s += Math.exp(-k * k * y);
    return 1 - (Math.sqrt(2 * Math.PI) / x) * s;
  }
  let s = 0;
  for (let k = 1; k <= 100; k++) {
    const term = Math.exp(-2 * k * k * x * x);
    s += (k % 2 ? 1 : -1) * term;
    if (term < 1e-16) break;
  }
  return Math.min(1, Math.max(0, 2 * s));
}

/** Two-sample Kolmogorov–Smirnov test; p-value from the asymptotic Kolmogorov distribution (R's ks.test(exact = FALSE); SciPy's kstwobign.sf(√(nm/(n+m))·D)). */
export function ksTest(a: ArrayLike<number>, b: ArrayLike<number>) {
  const x = Float64Array.from(a).sort();
  const y = Float64Array.from(b).sort();
  const n = x.length;
  const m = y.length;
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < n && j < m) {
    const v = Math.min(x[i]!, y[j]!);
    while (i < n && x[i]! <= v) i++;
    while (j < m && y[j]! <= v) j++;
    d = Math.max(d, Math.abs(i / n - j / m));
  }
  const en = Math.sqrt((n * m) / (n + m));
  return { statistic: d, pValue: kolmogorovSf(en * d) };
}

/** First Wasserstein distance between two samples (SciPy's wasserstein_distance). */
export function wasserstein(a: ArrayLike<number>, b: ArrayLike<number>) {
  const x = Float64Array.from(a).sort();
  const y = Float64Array.from(b).sort();
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
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (z < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * z)) - lnGamma(1 - z);
  z -= 1;
  let x = c[0]!;
  for (let i = 1; i < g + 2; i++) x += c[i]! / (z + i);
  const t = z + g + 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(x);
}

/**
 * Chi-square test of homogeneity between the reference's and the current category counts
 * (SciPy's chi2_contingency on the 2×k table, no continuity correction). Categories absent
 * from both are dropped; fewer than two left → no test.
 */
export function chiSquare(reference: number[], current: number[]) {
  const keep = reference.map((r, i) => r + current[i]! > 0);
  const r = reference.filter((_, i) => keep[i]);
  const c = current.filter((_, i) => keep[i]);
  if (r.length < 2) return null;
  const R = r.reduce((a, b) => a + b, 0);
  const C = c.reduce((a, b) => a + b, 0);
  const N = R + C;
  let stat = 0;
  for (let i = 0; i < r.length; i++) {
    const col = r[i]! + c[i]!;
    const er = (R * col) / N;
    const ec = (C * col) / N;
    stat += (r[i]! - er) ** 2 / er + (c[i]! - ec) ** 2 / ec;
  }
  const dof = r.length - 1;
  return { statistic: stat, dof, pValue: gammaQ(dof / 2, stat / 2) };
}

/** Benjamini–Hochberg adjusted p-values (statsmodels' multipletests(method="fdr_bh")), in input order. */
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

export type FeatureDrift =
  | { feature: string; kind: "numeric" | "categorical"; status: "not_enough_data"; n: number; minSample: number; explanation: string }
  | {
      feature: string;
      kind: "numeric" | "categorical";
      status: "ok";
      n: number;
      psi: number;
      jensenShannon: number;
      ks: { statistic: number; pValue: number } | null;
      wasserstein: number | null;
      chiSquare: { statistic: number; dof: number; pValue: number } | null;
      pValue: number | null;
      pAdjusted: number | null;
      severity: Severity;
      explanation: string;
      bins: { labels: string[]; reference: number[]; current: number[] };
    };

const pct = (x: number) => `${Math.round(x * 100)}%`;
const fmt = (x: number) => (Math.abs(x) >= 1000 || Number.isInteger(x) ? x.toLocaleString("en", { maximumFractionDigits: 0 }) : x.toPrecision(3));

/**
 * Either side below the minimum sample size is "not enough data", never a number: a thin
 * current window says nothing yet, and a thin reference (an empty reference window, a
 * column mostly missing) would make every value look unseen.
 */
function tooFew(feature: string, kind: "numeric" | "categorical", reference: number, current: number, minSample: number): FeatureDrift | null {
  if (current < minSample) return { feature, kind, status: "not_enough_data", n: current, minSample, explanation: `${feature}: not enough data (${current} of at least ${minSample} values in this window).` };
  if (reference < minSample) return { feature, kind, status: "not_enough_data", n: current, minSample, explanation: `${feature}: not enough data in the reference (${reference} of at least ${minSample} values).` };
  return null;
}

export function numericDrift(feature: string, reference: ArrayLike<number>, current: ArrayLike<number>, opts: { bins?: number; minSample?: number } = {}): FeatureDrift {
  const minSample = opts.minSample ?? MIN_SAMPLE;
  const thin = tooFew(feature, "numeric", reference.length, current.length, minSample);
  if (thin) return thin;
  const edges = numericEdges(reference, opts.bins ?? 10);
  const r = histogram(reference, edges);
  const c = histogram(current, edges);
  const psiValue = psi(r, c);
  const ks = ksTest(reference, current);
  const sortedRef = Float64Array.from(reference).sort();
  const p5 = quantile(sortedRef, 0.05);
  const p95 = quantile(sortedRef, 0.95);
  let above = 0;
  let below = 0;
  for (let i = 0; i < current.length; i++) {
    if (current[i]! > p95) above++;
    else if (current[i]! < p5) below++;
  }
  const severity = severityOf(psiValue);
  const constant = sortedRef[0] === sortedRef[sortedRef.length - 1];
  const explanation =
    severity === "none"
      ? `${feature}: stable (PSI ${psiValue.toFixed(3)}).`
      : constant
        ? `${feature}: always ${fmt(sortedRef[0]!)} in the reference; ${pct(Array.from(current).filter((v) => v !== sortedRef[0]).length / current.length)} of current traffic differs.`
        : above / current.length >= below / current.length
          ? `${feature}: ${pct(above / current.length)} of current traffic falls above the reference's 95th percentile (${fmt(p95)}), where 5% is expected.`
          : `${feature}: ${pct(below / current.length)} of current traffic falls below the reference's 5th percentile (${fmt(p5)}), where 5% is expected.`;
  const labels = [...edges.map((e, i) => (i === 0 ? `≤ ${fmt(e)}` : `${fmt(edges[i - 1]!)} – ${fmt(e)}`)), `> ${fmt(edges.at(-1) ?? NaN)}`];
  return { feature, kind: "numeric", status: "ok", n: current.length, psi: psiValue, jensenShannon: jensenShannon(r, c), ks, wasserstein: wasserstein(reference, current), chiSquare: null, pValue: ks.pValue, pAdjusted: null, severity, explanation, bins: { labels, reference: r, current: c } };
}

export function categoricalDrift(feature: string, reference: ArrayLike<string>, current: ArrayLike<string>, opts: { minSample?: number } = {}): FeatureDrift {
  const minSample = opts.minSample ?? MIN_SAMPLE;
  const thin = tooFew(feature, "categorical", reference.length, current.length, minSample);
  if (thin) return thin;
  const bins = categoricalBins(reference);
  const r = categoricalCounts(reference, bins);
  const c = categoricalCounts(current, bins);
  const psiValue = psi(r, c);
  const chi = chiSquare(r, c);
  const R = reference.length;
  const C = current.length;
  const severity = severityOf(psiValue);
  const unseen = c[bins.indexOf(UNSEEN)]! / C;
  let explanation = `${feature}: stable (PSI ${psiValue.toFixed(3)}).`;
  if (severity !== "none") {
    if (unseen >= 0.05) explanation = `${feature}: ${pct(unseen)} of current traffic has values never seen in the reference.`;
    else {
      const k = bins.map((_, i) => i).sort((a, b) => Math.abs(c[b]! / C - r[b]! / R) - Math.abs(c[a]! / C - r[a]! / R))[0]!;
      explanation = `${feature}: "${bins[k]}" is ${pct(c[k]! / C)} of current traffic vs ${pct(r[k]! / R)} in the reference.`;
    }
  }
  return { feature, kind: "categorical", status: "ok", n: C, psi: psiValue, jensenShannon: jensenShannon(r, c), ks: null, wasserstein: null, chiSquare: chi, pValue: chi?.pValue ?? null, pAdjusted: null, severity, explanation, bins: { labels: bins, reference: r, current: c } };
}

/** Drift of every feature, p-values adjusted across features (Benjamini–Hochberg). */
export function driftReport(features: FeatureDrift[]) {
  const tested = features.filter((f): f is Extract<FeatureDrift, { status: "ok" }> => f.status === "ok" && f.pValue !== null);
  const adjusted = benjaminiHochberg(tested.map((f) => f.pValue!));
  tested.forEach((f, i) => (f.pAdjusted = adjusted[i]!));
  return features;
}

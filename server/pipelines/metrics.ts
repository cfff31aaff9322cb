/*
 * Model metrics as plain functions over arrays: what the evaluate, fairness, robustness,
 * explain and compare steps compute, and what the report draws. Definitions follow
 * scikit-learn (and fairlearn for the fairness figures) so results can be checked
 * against them; the tests do exactly that. Undefined values (AUC of a single-class
 * slice, R² of a constant target) are null with a reason, never NaN.
 */

export type Curve = { x: number[]; y: number[]; thresholds?: number[] };

const mean = (xs: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i]!;
  return xs.length ? s / xs.length : NaN;
};

/**
 * Area under the ROC curve: the trapezoids under the curve's points, which is the
 * Mann–Whitney U statistic with ties counting one half (and sklearn's roc_auc_score). Null
 * without both classes.
 */
export function rocAuc(yTrue: ArrayLike<number>, score: ArrayLike<number>): number | null {
  const { tps, fps, pos, neg } = cumulative(yTrue, score);
  if (pos === 0 || neg === 0) return null;
  let area = 0;
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < tps.length; k++) {
    area += (fps[k]! - fp) * (tps[k]! + tp);
    tp = tps[k]!;
    fp = fps[k]!;
  }
  return area / 2 / (pos * neg);
}

/**
 * Points of the curve at each distinct score, highest threshold first (as sklearn, without
 * the drop of collinear points). The scores of each class are sorted as typed arrays (a
 * native numeric sort, no comparator) and merged from the top: at a million rows this is
 * tens of milliseconds where sorting row indices with a comparator took most of a second.
 */
function cumulative(yTrue: ArrayLike<number>, score: ArrayLike<number>) {
  let pos = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === 1) pos++;
  const neg = yTrue.length - pos;
  const p = new Float64Array(pos);
  const n = new Float64Array(neg);
  for (let i = 0, a = 0, b = 0; i < yTrue.length; i++) {
    // An undefined score (a model that returns NaN for a row it cannot handle, as a robustness
    // probe with missing values provokes) ranks below every other: the model's worst answer.
    const v = Number.isNaN(score[i]) ? -Infinity : score[i]!;
    if (yTrue[i] === 1) p[a++] = v;
    else n[b++] = v;
  }
  p.sort();
  n.sort();
  const tps: number[] = [];
  const fps: number[] = [];
  const thresholds: number[] = [];
  let i = pos - 1;
  let j = neg - 1;
  let tp = 0;
  let fp = 0;
  while (i >= 0 || j >= 0) {
    const s = i < 0 ? n[j]! : j < 0 ? p[i]! : Math.max(p[i]!, n[j]!);
    while (i >= 0 && p[i] === s) {
      tp++;
      i--;
    }
    while (j >= 0 && n[j] === s) {
      fp++;
      j--;
    }
    tps.push(tp);
    fps.push(fp);
    thresholds.push(s);
  }
  return { tps, fps, thresholds, pos, neg };
}

export function rocCurve(yTrue: ArrayLike<number>, score: ArrayLike<number>): Curve | null {
  const { tps, fps, thresholds, pos, neg } = cumulative(yTrue, score);
  if (pos === 0 || neg === 0) return null;
  return { x: [0, ...fps.map((f) => f / neg)], y: [0, ...tps.map((t) => t / pos)], thresholds: [Infinity, ...thresholds] };
}

/** Precision–recall curve (recall on x) and average precision, Σ (Rₙ − Rₙ₋₁)·Pₙ as sklearn's average_precision_score. */
export function prCurve(yTrue: ArrayLike<number>, score: ArrayLike<number>): { curve: Curve; averagePrecision: number } | null {
  const { tps, fps, thresholds, pos } = cumulative(yTrue, score);
  if (pos === 0) return null;
  const precision = tps.map((t, i) => t / (t + fps[i]!));
  const recall = tps.map((t) => t / pos);
  let ap = 0;
  let prevR = 0;
  for (let i = 0; i < recall.length; i++) {
    ap += (recall[i]! - prevR) * precision[i]!;
    prevR = recall[i]!;
  }
  return { curve: { x: [0, ...recall], y: [1, ...precision], thresholds: [Infinity, ...thresholds] }, averagePrecision: ap };
}

/** Binary log loss with probabilities clipped to [ε, 1−ε] (ε = float64 machine epsilon, as sklearn ≥ 1.5). */
export function logLoss(yTrue: ArrayLike<number>, p: ArrayLike<number>): number {
  const eps = 2.220446049250313e-16;
  let s = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const q = Math.min(1 - eps, Math.max(eps, p[i]!));
    s += yTrue[i] === 1 ? -Math.log(q) : -Math.log(1 - q);
  }
  return s / yTrue.length;
}

/** Multiclass log loss over rows of probabilities (normalised to sum to one, as sklearn). */
export function logLossMulti(yTrue: ArrayLike<number>, proba: number[][]): number {
  const eps = 2.220446049250313e-16;
  let s = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const row = proba[i]!;
    const total = row.reduce((a, b) => a + b, 0) || 1;
    const q = Math.min(1 - eps, Math.max(eps, row[yTrue[i]!]! / total));
    s -= Math.log(q);
  }
  return s / yTrue.length;
}

export function brier(yTrue: ArrayLike<number>, p: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < yTrue.length; i++) s += (p[i]! - yTrue[i]!) ** 2;
  return s / yTrue.length;
}

/** Reliability diagram: uniform bins over [0, 1]; empty bins are left out (sklearn's calibration_curve). */
export function calibrationCurve(yTrue: ArrayLike<number>, p: ArrayLike<number>, bins = 10) {
  const sumP = new Float64Array(bins);
  const sumY = new Float64Array(bins);
  const count = new Float64Array(bins);
  for (let i = 0; i < yTrue.length; i++) {
    // searchsorted(edges[1:-1], p, side="left"): the number of inner edges strictly below p.
    let b = 0;
    while (b < bins - 1 && (b + 1) / bins < p[i]!) b++;
    sumP[b] = sumP[b]! + p[i]!;
    sumY[b] = sumY[b]! + yTrue[i]!;
    count[b] = count[b]! + 1;
  }
  const out = { predicted: [] as number[], observed: [] as number[], count: [] as number[] };
  for (let b = 0; b < bins; b++) {
    if (!count[b]) continue;
    out.predicted.push(sumP[b]! / count[b]!);
    out.observed.push(sumY[b]! / count[b]!);
    out.count.push(count[b]!);
  }
  return out;
}

export type ClassReport = { label: string; precision: number; recall: number; f1: number; support: number };

/**
 * Confusion matrix (rows true, columns predicted) and per-class figures over classes 0..k−1;
 * macro averages over the classes that occur in the labels or the predictions, as
 * scikit-learn's default (unique_labels(y_true, y_pred)) — a class that never occurs is not
 * averaged in as a 0. `opts.averageOver` names the label set instead (sklearn's `labels=`),
 * for a pipeline that wants every class of its label set counted.
 */
export function classification(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, labels: string[], opts: { averageOver?: number[] } = {}) {
  const k = labels.length;
  const matrix = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let correct = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const t = yTrue[i]!;
    const p = yPred[i]!;
    if (t >= 0 && t < k && p >= 0 && p < k) matrix[t]![p]!++;
    if (t === p) correct++;
  }
  const perClass: ClassReport[] = labels.map((label, c) => {
    const tp = matrix[c]![c]!;
    const predicted = matrix.reduce((s, row) => s + row[c]!, 0);
    const support = matrix[c]!.reduce((s, v) => s + v, 0);
    // zero_division = 0, as sklearn's default outcome.
    const precision = predicted ? tp / predicted : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    return { label, precision, recall, f1, support };
  });
  const occurs = labels.map((_, c) => perClass[c]!.support > 0 || matrix.some((row) => row[c]! > 0));
  const averaged = opts.averageOver ?? labels.map((_, c) => c).filter((c) => occurs[c]);
  const present = averaged.filter((c) => c >= 0 && c < k).map((c) => perClass[c]!);
  return {
    accuracy: yTrue.length ? correct / yTrue.length : NaN,
    matrix,
    perClass,
    macro: {
      /** The classes (indices into labels) the macro figures average over. */
      classes: averaged,
      precision: mean(present.map((c) => c.precision)),
      recall: mean(present.map((c) => c.recall)),
      f1: mean(present.map((c) => c.f1)),
    },
  };
}

/** Macro one-vs-rest ROC AUC over classes present with both outcomes. */
export function rocAucOvr(yTrue: ArrayLike<number>, proba: number[][], k: number): number | null {
  const aucs: number[] = [];
  for (let c = 0; c < k; c++) {
    const y = Array.from(yTrue, (t) => (t === c ? 1 : 0));
    const a = rocAuc(
      y,
      proba.map((r) => r[c]!),
    );
    if (a !== null) aucs.push(a);
  }
  return aucs.length ? mean(aucs) : null;
}

export function regression(yTrue: ArrayLike<number>, yPred: ArrayLike<number>) {
  const n = yTrue.length;
  let abs = 0;
  let sq = 0;
  const m = mean(yTrue);
  let tot = 0;
  for (let i = 0; i < n; i++) {
    const e = yPred[i]! - yTrue[i]!;
    abs += Math.abs(e);
    sq += e * e;
    tot += (yTrue[i]! - m) ** 2;
  }
  return { mae: abs / n, rmse: Math.sqrt(sq / n), r2: tot > 0 ? 1 - sq / tot : null };
}

export type GroupRates = { group: string; count: number; selectionRate: number; tpr: number | null; fpr: number | null };

/**
 * Fairness by group (binary outcome, 1 = positive), with fairlearn's definitions: selection
 * rate, TPR and FPR per group; demographic parity difference (max − min selection rate) and
 * ratio (min / max); equalized odds difference (the larger of the between-group TPR and FPR
 * gaps). Where fairlearn divides by zero:
 * - a group with no positives (or no negatives) has an undefined TPR (FPR), shown as null —
 *   fairlearn's true_positive_rate counts it as 0 (scikit-learn's normalised confusion
 *   matrix), and so does the equalized-odds gap here, with a note naming the group;
 * - when no group has any positive prediction the parity ratio is 0/0: null with the
 *   reason (fairlearn gives NaN), never 1.
 * `undefinedBecause` says why a figure is null or rests on such a convention.
 */
export function fairness(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, groups: ArrayLike<string>) {
  const acc = new Map<string, { n: number; sel: number; tp: number; pos: number; fp: number; neg: number }>();
  for (let i = 0; i < yPred.length; i++) {
    const g = groups[i]!;
    const a = acc.get(g) ?? { n: 0, sel: 0, tp: 0, pos: 0, fp: 0, neg: 0 };
    a.n++;
    if (yPred[i] === 1) a.sel++;
    if (yTrue[i] === 1) {
      a.pos++;
      if (yPred[i] === 1) a.tp++;
    } else {
      a.neg++;
      if (yPred[i] === 1) a.fp++;
    }
    acc.set(g, a);
  }
  const entries = [...acc.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const rates: GroupRates[] = entries.map(([group, a]) => ({
    group,
    count: a.n,
    selectionRate: a.sel / a.n,
    tpr: a.pos ? a.tp / a.pos : null,
    fpr: a.neg ? a.fp / a.neg : null,
  }));
  const spread = (xs: number[]) => (xs.length ? Math.max(...xs) - Math.min(...xs) : null);
  const sel = rates.map((r) => r.selectionRate);
  const maxSel = Math.max(...sel);
  const undefinedBecause: Record<string, string> = {};
  // fairlearn's rates: zero division counts as 0.
  const tprGap = spread(rates.map((r) => r.tpr ?? 0));
  const fprGap = spread(rates.map((r) => r.fpr ?? 0));
  const noPos = rates.filter((r) => r.tpr === null).map((r) => r.group);
  const noNeg = rates.filter((r) => r.fpr === null).map((r) => r.group);
  if (rates.length > 1 && (noPos.length || noNeg.length)) {
    undefinedBecause.equalized_odds_difference = [
      noPos.length
        ? `${noPos.map((g) => `"${g}"`).join(", ")} ${noPos.length > 1 ? "have" : "has"} no positive labels, so ${noPos.length > 1 ? "their" : "its"} true positive rate is undefined and counted as 0 (fairlearn's convention)`
        : "",
      noNeg.length
        ? `${noNeg.map((g) => `"${g}"`).join(", ")} ${noNeg.length > 1 ? "have" : "has"} no negative labels, so ${noNeg.length > 1 ? "their" : "its"} false positive rate is undefined and counted as 0 (fairlearn's convention)`
        : "",
    ]
      .filter(Boolean)
      .join("; ");
  }
  let ratio: number | null = null;
  if (!rates.length) undefinedBecause.demographic_parity_ratio = "there are no rows";
  else if (maxSel === 0) undefinedBecause.demographic_parity_ratio = "no group has any positive prediction (0 / 0)";
  else ratio = Math.min(...sel) / maxSel;
  return {
    groups: rates,
    demographicParityDifference: rates.length ? maxSel - Math.min(...sel) : null,
    demographicParityRatio: ratio,
    equalizedOddsDifference: tprGap === null || fprGap === null ? null : Math.max(tprGap, fprGap),
    undefinedBecause,
  };
}

/** Percentile with linear interpolation between closest ranks (numpy's default). */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (!sorted.length) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

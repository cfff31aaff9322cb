import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { evaluateChecks } from "./checks";
import { brier, calibrationCurve, classification, fairness, logLoss, logLossMulti, prCurve, regression, rocAuc, rocAucOvr, rocCurve } from "./metrics";

/*
 * Expected values were computed once with scikit-learn 1.2.1 (Debian python3-sklearn) and
 * numpy, by the script in docs/reference/metrics-reference.py, and pasted here as literals.
 * Scores are rounded to one decimal so that ties are everywhere.
 */
const y = [1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1];
const s = [
  0.5, 0.4, 0.7, 0.3, 0.3, 0.7, 0.6, 0.6, 0.4, 0.4, 0.3, 0.5, 0.3, 0.1, 0.5, 0.4, 0.3, 0.3, 0.6, 0.1, 0.5, 0.6, 0.4, 0.6, 0.7, 0.5, 0.4, 0.4, 0.4, 0.9, 0.6,
  0.7, 0.3, 0.6, 0.5, 0.4, 0.9, 0.6, 0.7, 0.7,
];
const pred = [1, 0, 1, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1, 1];
const g = [
  "b",
  "b",
  "b",
  "b",
  "b",
  "c",
  "c",
  "a",
  "b",
  "b",
  "b",
  "a",
  "a",
  "b",
  "c",
  "a",
  "b",
  "c",
  "c",
  "a",
  "a",
  "c",
  "a",
  "a",
  "b",
  "c",
  "a",
  "b",
  "b",
  "a",
  "c",
  "c",
  "b",
  "c",
  "b",
  "c",
  "c",
  "b",
  "a",
  "a",
];

describe("binary classification metrics against scikit-learn", () => {
  it("ROC AUC with tied scores (roc_auc_score)", () => expect(rocAuc(y, s)).toBeCloseTo(0.6315104166666666, 12));
  it("ROC curve points (roc_curve, drop_intermediate=False)", () => {
    const c = rocCurve(y, s)!;
    expect(c.x).toEqual([0, 0, 0.0625, 0.3125, 0.4375, 0.75, 0.875, 1].map((v: number): unknown => expect.closeTo(v, 12)));
    expect(c.y).toEqual(
      [0, 0.08333333333333333, 0.2916666666666667, 0.4583333333333333, 0.625, 0.7916666666666666, 1, 1].map((v: number): unknown => expect.closeTo(v, 12)),
    );
  });
  it("average precision (average_precision_score)", () => expect(prCurve(y, s)!.averagePrecision).toBeCloseTo(0.7275741819725267, 12));
  it("log loss (log_loss) on probabilities clipped to [0.05, 0.95]", () =>
    expect(
      logLoss(
        y,
        s.map((v) => Math.min(0.95, Math.max(0.05, v))),
      ),
    ).toBeCloseTo(0.655716076210122, 12));
  it("Brier score (brier_score_loss)", () => expect(brier(y, s)).toBeCloseTo(0.23575, 12));
  it("accuracy, per-class precision/recall/F1 and macro F1", () => {
    const c = classification(y, pred, ["0", "1"]);
    expect(c.accuracy).toBeCloseTo(0.6, 12);
    expect(c.perClass.map((k) => k.precision)).toEqual([0.5, 0.6818181818181818].map((v: number): unknown => expect.closeTo(v, 12)));
    expect(c.perClass.map((k) => k.recall)).toEqual([0.5625, 0.625].map((v: number): unknown => expect.closeTo(v, 12)));
    expect(c.perClass.map((k) => k.f1)).toEqual([0.5294117647058824, 0.6521739130434783].map((v: number): unknown => expect.closeTo(v, 12)));
    expect(c.perClass.map((k) => k.support)).toEqual([16, 24]);
    expect(c.macro.f1).toBeCloseTo(0.5907928388746804, 12);
  });
  it("calibration curve (calibration_curve, 10 uniform bins)", () => {
    const c = calibrationCurve(y, s, 10);
    expect(c.predicted).toEqual([0.1, 0.3, 0.39999999999999997, 0.5, 0.6, 0.7000000000000001, 0.9].map((v: number): unknown => expect.closeTo(v, 12)));
    expect(c.observed).toEqual(
      [0, 0.7142857142857143, 0.4444444444444444, 0.6666666666666666, 0.5, 0.8333333333333334, 1].map((v: number): unknown => expect.closeTo(v, 12)),
    );
  });
});

describe("multiclass", () => {
  const y3 = [1, 0, 2, 2, 0, 1, 0, 0, 1, 2, 2, 1, 1, 1, 0, 1, 2, 1, 0, 0, 2, 0, 2, 2, 1, 1, 2, 1, 1, 0];
  const P = [
    [0.386, 0.423, 0.191],
    [0.432, 0.064, 0.504],
    [0.273, 0.178, 0.549],
    [0.335, 0.132, 0.533],
    [0.629, 0.151, 0.22],
    [0.291, 0.651, 0.058],
    [0.696, 0.002, 0.302],
    [0.743, 0.063, 0.193],
    [0.361, 0.361, 0.278],
    [0.28, 0.181, 0.539],
    [0.143, 0.125, 0.732],
    [0.079, 0.504, 0.417],
    [0.289, 0.574, 0.137],
    [0.3, 0.392, 0.309],
    [0.481, 0.191, 0.328],
    [0.291, 0.541, 0.167],
    [0.292, 0.137, 0.572],
    [0.038, 0.676, 0.286],
    [0.624, 0.089, 0.287],
    [0.523, 0.254, 0.223],
    [0.388, 0.133, 0.479],
    [0.792, 0.04, 0.168],
    [0.343, 0.315, 0.342],
    [0.244, 0.193, 0.563],
    [0.242, 0.406, 0.352],
    [0.184, 0.565, 0.251],
    [0.126, 0.042, 0.831],
    [0.246, 0.519, 0.235],
    [0.043, 0.652, 0.305],
    [0.538, 0.168, 0.294],
  ];
  const pred3 = P.map((row) => row.indexOf(Math.max(...row)));
  it("macro one-vs-rest ROC AUC (roc_auc_score multi_class=ovr)", () =>
    expect(
      rocAucOvr(
        y3,
        P.map((r) => r.map((v) => v / r.reduce((a, b) => a + b, 0))),
        3,
      ),
    ).toBeCloseTo(0.9929453262786595, 12));
  it("log loss normalises rows (log_loss)", () => expect(logLossMulti(y3, P)).toBeCloseTo(0.5999797196907682, 12));
  it("confusion matrix, macro precision and F1", () => {
    const c = classification(y3, pred3, ["a", "b", "c"]);
    expect(c.matrix).toEqual([
      [8, 0, 1],
      [1, 11, 0],
      [1, 0, 8],
    ]);
    expect(c.macro.precision).toBeCloseTo(0.8962962962962964, 12);
    expect(c.macro.f1).toBeCloseTo(0.8958386303924062, 12);
  });
});

describe("regression", () => {
  it("MAE, RMSE, R² (mean_absolute_error, mean_squared_error, r2_score)", () => {
    const m = regression(
      [
        11.89, 9.09, 9.55, 10.07, 13.53, 12.04, 11.15, 8.31, 5.85, 12.85, 12.9, 9.58, 11.63, 12.34, 12.49, 12.76, 8.63, 14.54, 6.26, 12.59, 11.48, 12.62, 15.64,
        14.45, 6.56,
      ],
      [
        10.2, 9.91, 8.53, 10.06, 14.37, 10.4, 9.04, 8.57, 5.89, 12.6, 12.94, 8.72, 10.12, 12.17, 11.52, 11.12, 9.14, 14.48, 6.67, 11.6, 10.82, 11.62, 14.75,
        14.65, 5.78,
      ],
    );
    expect(m.mae).toBeCloseTo(0.7748000000000002, 12);
    expect(m.rmse).toBeCloseTo(0.9698804049984724, 12);
    expect(m.r2).toBeCloseTo(0.8564281240117363, 12);
  });
  it("R² of a constant target is undefined, not NaN", () => expect(regression([2, 2, 2], [1, 2, 3]).r2).toBeNull());
});

describe("fairness (fairlearn definitions, computed with numpy)", () => {
  it("selection rates, demographic parity difference and ratio, equalized odds difference", () => {
    const f = fairness(y, pred, g);
    expect(Object.fromEntries(f.groups.map((r) => [r.group, r.selectionRate]))).toEqual({ a: 0.5833333333333334, b: 0.3125, c: 0.8333333333333334 });
    expect(f.demographicParityDifference).toBeCloseTo(0.5208333333333334, 12);
    expect(f.demographicParityRatio).toBeCloseTo(0.375, 12);
    expect(f.equalizedOddsDifference).toBeCloseTo(1, 12);
  });
});

describe("hand-checkable cases", () => {
  it("AUC: perfect, inverted, all tied", () => {
    expect(rocAuc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])).toBe(1);
    expect(rocAuc([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1])).toBe(0);
    expect(rocAuc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5])).toBe(0.5);
  });
  it("AUC with one tie across classes counts it one half: 3 of 4 pairs ordered + ½", () => {
    // pairs (neg,pos): (0.1,0.4) (0.1,0.6) (0.4,0.4)=½ (0.4,0.6) → 3.5 / 4
    expect(rocAuc([0, 0, 1, 1], [0.1, 0.4, 0.4, 0.6])).toBe(0.875);
  });
  it("a single-class slice has no AUC, no ROC curve and zero-division precision", () => {
    expect(rocAuc([1, 1, 1], [0.2, 0.5, 0.9])).toBeNull();
    expect(rocCurve([0, 0], [0.2, 0.3])).toBeNull();
    expect(prCurve([0, 0], [0.2, 0.3])).toBeNull();
    const c = classification([1, 1], [1, 1], ["0", "1"]);
    expect(c.perClass[0]).toMatchObject({ precision: 0, recall: 0, f1: 0, support: 0 });
    expect(c.accuracy).toBe(1);
  });
  it("fairness with one group has no gaps", () => {
    const f = fairness([1, 0], [1, 1], ["x", "x"]);
    expect(f.demographicParityDifference).toBe(0);
    expect(f.equalizedOddsDifference).toBe(0);
    expect(f.undefinedBecause).toEqual({});
  });
});

/*
 * Edge conventions against ./reference/metrics-reference.json, written by
 * ./reference/gen_metrics_reference.py: scikit-learn's and fairlearn's definitions written
 * out with NumPy (neither library is installed where it was generated; the script says
 * which function each formula stands for).
 */
type Fair = { y: number[]; pred: number[]; g: string[]; selection: Record<string, number>; dpd: number; dpr: number | null; eod: number };
const edge = JSON.parse(readFileSync(new URL("./reference/metrics-reference.json", import.meta.url), "utf8")) as {
  macro: {
    y_true: number[];
    y_pred: number[];
    k: number;
    present: { labels: number[]; precision: number; recall: number; f1: number };
    all_labels: { labels: number[]; precision: number; recall: number; f1: number };
  };
  fairness: Record<"ordinary" | "group_without_positives" | "nobody_selected", Fair>;
};

describe("macro averages as scikit-learn (unique_labels of y_true and y_pred, or labels=)", () => {
  const m = edge.macro;
  const labels = Array.from({ length: m.k }, (_, i) => String(i));
  it("average over the classes that occur, not a class of the label set that never does", () => {
    const c = classification(m.y_true, m.y_pred, labels);
    expect(c.macro.classes).toEqual(m.present.labels);
    expect(c.macro.precision).toBeCloseTo(m.present.precision, 12);
    expect(c.macro.recall).toBeCloseTo(m.present.recall, 12);
    expect(c.macro.f1).toBeCloseTo(m.present.f1, 12);
    expect(c.perClass).toHaveLength(4); // every class is still reported
  });
  it("a pipeline that names its label set averages over all of it (labels=[0, 1, 2, 3])", () => {
    const c = classification(m.y_true, m.y_pred, labels, { averageOver: [0, 1, 2, 3] });
    expect(c.macro.f1).toBeCloseTo(m.all_labels.f1, 12);
    expect(c.macro.precision).toBeCloseTo(m.all_labels.precision, 12);
    expect(c.macro.f1).toBeLessThan(m.present.f1);
  });
});

describe("fairness at the edges, with fairlearn's definitions", () => {
  it.each(["ordinary", "group_without_positives", "nobody_selected"] as const)("%s", (name) => {
    const r = edge.fairness[name];
    const f = fairness(r.y, r.pred, r.g);
    expect(Object.fromEntries(f.groups.map((x) => [x.group, x.selectionRate]))).toEqual(r.selection);
    expect(f.demographicParityDifference).toBeCloseTo(r.dpd, 12);
    if (r.dpr === null) expect(f.demographicParityRatio).toBeNull();
    else expect(f.demographicParityRatio).toBeCloseTo(r.dpr, 12);
    expect(f.equalizedOddsDifference).toBeCloseTo(r.eod, 12);
  });
  it("a group with no positives: its TPR is undefined (null), counted as 0 in the gap as fairlearn does, and said so", () => {
    const r = edge.fairness.group_without_positives;
    const f = fairness(r.y, r.pred, r.g);
    expect(f.groups.find((x) => x.group === "c")!.tpr).toBeNull();
    expect(f.undefinedBecause.equalized_odds_difference).toBe(
      `"c" has no positive labels, so its true positive rate is undefined and counted as 0 (fairlearn's convention)`,
    );
  });
  it("nobody selected: the parity ratio is undefined with its reason, and its check warns rather than passes", () => {
    const r = edge.fairness.nobody_selected;
    const f = fairness(r.y, r.pred, r.g);
    expect(f.undefinedBecause.demographic_parity_ratio).toBe("no group has any positive prediction (0 / 0)");
    const [check] = evaluateChecks(
      { demographic_parity_ratio: f.demographicParityRatio },
      { demographic_parity_ratio: { fail_below: 0.8 } },
      {},
      f.undefinedBecause,
    );
    expect(check).toMatchObject({
      status: "warn",
      value: null,
      message: "demographic_parity_ratio could not be computed: no group has any positive prediction (0 / 0).",
    });
  });
});

describe("ROC AUC and the curves from sorted class scores", () => {
  it("equals the pairwise definition (ties count one half) on 2,000 rows with many ties", () => {
    let seed = 7;
    const r = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const y = Array.from({ length: 2000 }, () => (r() < 0.3 ? 1 : 0));
    const s = y.map((v) => Math.round((r() + v * 0.3) * 40) / 40);
    let wins = 0;
    let pos = 0;
    let neg = 0;
    for (let i = 0; i < y.length; i++) {
      if (y[i] === 1) pos++;
      else neg++;
      if (y[i] !== 1) continue;
      for (let j = 0; j < y.length; j++) if (y[j] === 0) wins += s[i]! > s[j]! ? 1 : s[i] === s[j] ? 0.5 : 0;
    }
    expect(rocAuc(y, s)).toBeCloseTo(wins / (pos * neg), 12);
    // The curve ends at (1, 1) with one point per distinct score.
    const roc = rocCurve(y, s)!;
    expect([roc.x.at(-1), roc.y.at(-1)]).toEqual([1, 1]);
    expect(roc.thresholds!.length).toBe(new Set(s).size + 1);
  });

  it("ranks a NaN score below every other (the model's worst answer), deterministically", () => {
    // The positive with NaN ranks below both negatives: it wins against nobody.
    expect(rocAuc([0, 1, 1, 0], [0.2, Number.NaN, 0.9, 0.1])).toBe(0.5);
    expect(rocAuc([0, 1, 1, 0], [0.2, Number.NEGATIVE_INFINITY, 0.9, 0.1])).toBe(0.5);
    expect(prCurve([0, 1], [Number.NaN, 0.9])!.averagePrecision).toBe(1);
  });
});

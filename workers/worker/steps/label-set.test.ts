import { describe, expect, it } from "vitest";
import { labelSet, score } from "./common";
import type { Predictions } from "./runtime";

describe("the label set macro averages run over (the pipeline's `labels`, scikit-learn's labels=)", () => {
  // y_true [0,0,1,1,0], y_pred [0,1,1,1,0]: F1 is 0.8 for class 0 and for class 1.
  const y = Float64Array.from([0, 0, 1, 1, 0]);
  const pred = { task: "classification", classes: 3, label: Float64Array.from([0, 1, 1, 1, 0]) } as unknown as Predictions;

  it("defaults to the classes present in the labels or the predictions", () => {
    expect(score(pred, y, 3).metrics.f1_macro).toBeCloseTo(0.8, 12);
  });

  it("averages a named class that never occurs as 0, like f1_score(labels=[0, 1, 2], average='macro')", () => {
    // (0.8 + 0.8 + 0) / 3
    expect(score(pred, y, 3, labelSet(["a", "b", "c"], ["a", "b", "c"])).metrics.f1_macro).toBeCloseTo(1.6 / 3, 12);
    expect(labelSet([1, "0"], ["0", "1", "2"])).toEqual([1, 0]);
    expect(labelSet(undefined, ["0", "1"])).toBeUndefined();
  });

  it("refuses a label that is not a class of the label column, naming the classes", () => {
    expect(() => labelSet(["yes", "maybe"], ["no", "yes"])).toThrow(/labels: "maybe" is not a class of the label column \(its classes: no, yes\)/);
  });
});

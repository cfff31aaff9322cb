import { describe, expect, it } from "vitest";
import { evaluate, FEATURES, generateCredit, toCsv, trainLogistic } from "./credit-data";

describe("credit demo", () => {
  it("is deterministic and learns something: v2 beats v1 and both beat chance", () => {
    expect(toCsv(generateCredit(50, 7))).toBe(toCsv(generateCredit(50, 7)));
    const train = generateCredit(1500, 7);
    const test = generateCredit(500, 11);
    const m1 = evaluate(test, FEATURES.slice(0, 3), trainLogistic(train, FEATURES.slice(0, 3), 300, 0.5));
    const m2 = evaluate(test, FEATURES, trainLogistic(train, FEATURES, 600, 0.5));
    expect(m1.auc).toBeGreaterThan(0.6);
    expect(m2.auc).toBeGreaterThan(m1.auc);
  });
});

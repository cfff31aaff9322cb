import { describe, expect, it } from "vitest";
import { parseVersionFilter } from "./version-filter";

describe("parseVersionFilter", () => {
  it("reads metric, param, tag and loadable clauses joined by and (case-insensitive), quotes keeping an 'and' inside", () => {
    expect(parseVersionFilter(`metrics.auc >= 0.8 AND params.solver = 'lbfgs and more' and tag = "candidate" and loadable = true`)).toEqual([
      { kind: "metric", name: "auc", op: ">=", value: 0.8 },
      { kind: "param", name: "solver", op: "=", value: "lbfgs and more" },
      { kind: "tag", value: "candidate" },
      { kind: "loadable", value: true },
    ]);
    expect(parseVersionFilter("metrics.log_loss<.5")).toEqual([{ kind: "metric", name: "log_loss", op: "<", value: 0.5 }]);
    expect(parseVersionFilter("metrics.delta != -1e-3")).toEqual([{ kind: "metric", name: "delta", op: "!=", value: -0.001 }]);
    expect(parseVersionFilter(`params.note = 'it\\'s'`)).toEqual([{ kind: "param", name: "note", op: "=", value: "it's" }]);
    expect(parseVersionFilter("  ")).toEqual([]);
  });

  it("names the clause it does not understand", () => {
    expect(() => parseVersionFilter("metrics.auc >= high")).toThrow(/"metrics.auc >= high" is not a clause/);
    expect(() => parseVersionFilter("metrics.auc > 0.8 and drop table")).toThrow(/"drop table"/);
    expect(() => parseVersionFilter("tag = 'open")).toThrow(/not closed/);
  });
});

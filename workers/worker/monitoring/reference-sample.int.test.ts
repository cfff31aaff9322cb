import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { numericDrift } from "~/server/monitoring/drift";
import { loadTable } from "~/workers/worker/steps/runtime";
import { MAX_REFERENCE, REFERENCE_SEED } from "./drift-job";

/*
 * The drift reference as the worker reads it, on the file users have: a date-ordered
 * training set (300,000 rows, a feature that trends with the date). The first 100,000 rows
 * are its first hundred days; the worker's seeded reservoir must be the whole file, so
 * traffic drawn like the training data is stable against it.
 */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0), s / 2 ** 32);
}
const normal = (r: () => number) => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());

describe("the drift reference of a date-ordered dataset", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "steward-ref-"));
  const file = path.join(dir, "train.csv");
  const whole: number[] = [];
  beforeAll(() => {
    const r = rng(7);
    const lines = ["day,amount,region"];
    for (let day = 0; day < 300; day++)
      for (let i = 0; i < 1000; i++) {
        const amount = Math.round((50 + day * 0.2 + 10 * normal(r)) * 100) / 100;
        whole.push(amount);
        lines.push(`2026-${String(1 + Math.floor(day / 28)).padStart(2, "0")}-${String(1 + (day % 28)).padStart(2, "0")},${amount},r${day % 7}`);
      }
    fs.writeFileSync(file, lines.join("\n") + "\n");
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("is a uniform sample: traffic drawn like the whole file is stable against it, where the first rows would cry drift", async () => {
    const schema = [{ name: "amount", type: "DOUBLE", logical: "numeric" as const }];
    const reference = await loadTable(file, "csv", schema, { sample: { rows: MAX_REFERENCE, seed: REFERENCE_SEED } });
    expect(reference.rows).toBe(MAX_REFERENCE);
    const refValues = (reference.columns.get("amount") as { values: Float64Array }).values;
    // The same rows every time (the seed is recorded in the drift result).
    const again = await loadTable(file, "csv", schema, { sample: { rows: MAX_REFERENCE, seed: REFERENCE_SEED } });
    expect((again.columns.get("amount") as { values: Float64Array }).values).toEqual(refValues);

    const r = rng(99);
    const traffic = Array.from({ length: 5000 }, () => whole[Math.floor(r() * whole.length)]!);
    const drift = numericDrift("amount", refValues, traffic);
    if (drift.status !== "ok") throw new Error(drift.explanation);
    expect(drift.severity).toBe("none");
    expect(drift.pValue!).toBeGreaterThan(0.001);

    const head = await loadTable(file, "csv", schema, { maxRows: MAX_REFERENCE });
    const headDrift = numericDrift("amount", (head.columns.get("amount") as { values: Float64Array }).values, traffic);
    if (headDrift.status !== "ok") throw new Error(headDrift.explanation);
    expect(headDrift.severity).toBe("major");
    expect(headDrift.pValue!).toBeLessThan(1e-50);
  });

  it("reads unparseable and empty numbers as missing, counted as such, never as 0 or a failed read", async () => {
    const f = path.join(dir, "messy.csv");
    fs.writeFileSync(f, "income,city\n12.5,Oslo\n,Oslo\nn/a,Bergen\nNaN,Oslo\n7,\n-,Oslo\n");
    const t = await loadTable(f, "csv", [
      { name: "income", type: "VARCHAR", logical: "numeric" },
      { name: "city", type: "VARCHAR", logical: "categorical" },
    ]);
    expect(Array.from((t.columns.get("income") as { values: Float64Array }).values)).toEqual([12.5, NaN, NaN, NaN, 7, NaN]);
    expect((t.columns.get("city") as { values: (string | null)[] }).values).toEqual(["Oslo", "Oslo", "Bergen", "Oslo", null, "Oslo"]);
  });
});

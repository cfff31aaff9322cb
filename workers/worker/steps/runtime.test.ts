import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadTable, readLabels } from "./runtime";

describe("readLabels: class indices from a label output", () => {
  it("reads int64 labels through their 32-bit words, exactly, including negatives and values beyond 32 bits", () => {
    const values = [0n, 1n, 2n, -1n, -2147483648n, 2147483647n, 2147483648n, 4294967296n, -4294967297n, 9007199254740991n];
    const out = new Float64Array(values.length + 2).fill(7);
    readLabels(BigInt64Array.from(values), values.length, out, 1);
    expect(Array.from(out)).toEqual([7, ...values.map(Number), 7]);
  });

  it("reads int32 and float labels as they are", () => {
    const out = new Float64Array(3);
    readLabels(Int32Array.from([3, -4, 5]), 3, out, 0);
    expect(Array.from(out)).toEqual([3, -4, 5]);
    readLabels(Float32Array.from([1.5]), 1, out, 2);
    expect(out[2]).toBe(1.5);
  });
});

describe("loadTable: DuckDB's vectors into typed columns", () => {
  it("reads every row across many chunks, missing and unparseable numbers as NaN, text as text", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "steward-load-"));
    try {
      // 5,000 rows: three DuckDB chunks, with nulls only in some of them.
      const lines = ["x,y,c"];
      for (let i = 0; i < 5000; i++) lines.push(`${i % 997 === 0 ? "" : i / 2},${i === 4321 ? "n/a" : i},${i % 3 === 0 ? "" : `k${i % 5}`}`);
      const file = path.join(dir, "t.csv");
      fs.writeFileSync(file, lines.join("\n"));
      const t = await loadTable(file, "csv", [
        { name: "x", type: "DOUBLE", logical: "numeric" },
        { name: "y", type: "VARCHAR", logical: "numeric" },
        { name: "c", type: "VARCHAR", logical: "categorical" },
      ]);
      expect(t.rows).toBe(5000);
      const x = t.columns.get("x")!.values as Float64Array;
      const y = t.columns.get("y")!.values as Float64Array;
      const c = t.columns.get("c")!.values as (string | null)[];
      for (let i = 0; i < 5000; i++) {
        expect(x[i]).toBe(i % 997 === 0 ? NaN : i / 2);
        expect(y[i]).toBe(i === 4321 ? NaN : i);
        expect(c[i]).toBe(i % 3 === 0 ? null : `k${i % 5}`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

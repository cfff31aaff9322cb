import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "~/db/client";
import { predictionLogs, predictionRollups, referenceBounds } from "~/db/schema";
import { generateCredit } from "~/db/seed/credit-data";
import { callerFor } from "~/test/helpers";
import { servedCredit } from "~/test/monitoring";
import { computeDriftAll } from "~/workers/worker/monitoring/drift-job";
import { checkRecord } from "./drift";
import { rollUpAll } from "./monitoring.service";

const MIN = 60_000;

/*
 * Input outliers per request: the drift job stores the reference's ranges and categories,
 * and every logged request is checked against them as the log is rolled up, in SQL. The
 * same rule is written in JavaScript for the drift table (checkRecord): here both read the
 * same awkward records and must agree on every minute.
 */
describe("input outliers and missing inputs, per request", () => {
  it("checks every answered request against the drift reference as it is rolled up, as the drift table reads a record, and reads its scores as the drift job does", async () => {
    const { workspace, owner, d, logRow } = await servedCredit();
    const now = new Date(Math.floor(Date.now() / MIN) * MIN);
    const at = (i: number) => new Date(now.getTime() - (1 + (i % 20)) * MIN + 1000);

    // Half an hour ago, before any drift was computed: nothing to check against, so nothing is counted as checked.
    const early = generateCredit(30, 3).map((r, i) =>
      logRow({
        at: new Date(now.getTime() - (26 + (i % 5)) * MIN + 1000),
        requestId: `early${i}`,
        inputs: { instances: [{ age: r.age, income_k: r.income_k, debt_ratio: r.debt_ratio }] },
        outputs: null,
      }),
    );
    await getDb().insert(predictionLogs).values(early);
    await rollUpAll(new Date(now.getTime() - 25 * MIN));
    const before = await getDb().select().from(predictionRollups).where(eq(predictionRollups.deploymentId, d.id));
    expect(before.reduce((a, r) => a + r.requests, 0)).toBe(30);
    expect(before.every((r) => r.checked === 0 && r.outliers === 0)).toBe(true);

    // The drift job stores the bounds of the training data's features.
    await computeDriftAll(now, 60, d.id);
    const [stored] = await getDb().select().from(referenceBounds).where(eq(referenceBounds.deploymentId, d.id));
    const bounds = stored!.bounds;
    expect(bounds.features.sort()).toEqual(["age", "debt_ratio", "income_k"]);
    // New bounds are applied to what was rolled up before them.
    const rechecked = await getDb().select().from(predictionRollups).where(eq(predictionRollups.deploymentId, d.id));
    expect(rechecked.reduce((a, r) => a + r.checked, 0)).toBe(30);
    const [ageLo, ageHi] = bounds.numeric.age!;
    expect(ageLo).toBeGreaterThanOrEqual(18);
    expect(ageHi).toBeLessThanOrEqual(100);

    // 400 requests of every shape a caller sends: most normal, some far outside, some missing,
    // numbers as strings, blanks, several instances of which one is odd, errors, tensor bodies.
    const normal = generateCredit(400, 11);
    const odd: ((r: Record<string, unknown>) => unknown)[] = [
      (r) => ({ instances: [{ ...r, income_k: 1e6 }] }), // far above
      (r) => ({ instances: [{ ...r, age: -5 }] }), // below
      (r) => ({ instances: [{ ...r, age: null }] }), // missing
      (r) => ({ instances: [{ ...r, debt_ratio: "n/a" }] }), // unparseable: missing
      (r) => ({ instances: [{ ...r, age: String(r.age) }] }), // a number as text: read as the number
      (r) => ({ instances: [{ ...r, income_k: " " }] }), // blank: missing
      (r) => ({ instances: [r, { ...r, income_k: 9e9 }] }), // one odd instance of two
      (r) => ({ instances: [{ age: r.age, income_k: r.income_k }] }), // a feature absent
      (r) => ({ instances: [{ ...r, age: true }] }), // boolean, read as 1: below the range
      (r) => ({ inputs: { age: [r.age] } }), // a tensor body: not checked
      () => ({ instances: [] }), // nothing to check
      (r) => ({ instances: [{ ...r, income_k: "1e7" }] }), // exponent text, far above
    ];
    // Answers in the shapes a probability output takes: [[p0, p1]], [[p]], [p], several rows, and
    // what is not a binary score (three classes, text, nothing).
    expect(bounds.score).toMatchObject({ pick: "proba" });
    const out = bounds.score!.output;
    const answers: ((p: number) => unknown)[] = [
      (p) => ({ [out]: [[1 - p, p]] }),
      (p) => ({ [out]: [[p]] }),
      (p) => ({ [out]: [p] }),
      (p) => ({
        [out]: [
          [1 - p, p],
          [p, 1 - p],
        ],
      }),
      (p) => ({ [out]: [[p / 2, p / 2, 1 - p]] }),
      () => ({ [out]: ["0.5"] }),
      () => null,
    ];
    const rows = normal.map((c, i) => {
      const r = { age: c.age, income_k: c.income_k, debt_ratio: c.debt_ratio };
      const inputs = i % 3 === 0 ? odd[(i / 3) % odd.length]!(r) : { instances: [r] };
      const outputs = answers[i % answers.length]!(((i * 37) % 100) / 100);
      return logRow({ at: at(i), requestId: `r${i}`, status: i % 41 === 0 ? "error" : "ok", inputs, outputs: outputs });
    });
    await getDb().insert(predictionLogs).values(rows);
    await rollUpAll(now);

    // What checkRecord says, minute by minute, for everything logged (the early rows too: the
    // rollup re-reads the five minutes before its watermark, where they are).
    const expected = new Map<number, { checked: number; outliers: number; incomplete: number; predictions: number; predictionSum: number }>();
    for (const l of [...early, ...rows]) {
      const minute = Math.floor(l.at.getTime() / MIN) * MIN;
      const e = expected.get(minute) ?? { checked: 0, outliers: 0, incomplete: 0, predictions: 0, predictionSum: 0 };
      expected.set(minute, e);
      // The scores as the drift job's scoresOf reads a probability output.
      const scoreRows = l.status === "ok" ? (l.outputs as Record<string, unknown> | null)?.[out] : null;
      for (const r of Array.isArray(scoreRows) ? scoreRows : []) {
        const v: unknown[] = Array.isArray(r) ? r : [r];
        if (v.length <= 2 && typeof v.at(-1) === "number") {
          e.predictions++;
          e.predictionSum += v.at(-1) as number;
        }
      }
      const instances = (l.inputs as { instances?: unknown } | null)?.instances;
      if (l.status !== "ok" || !Array.isArray(instances) || !instances.length) continue;
      const reads = instances.map((x) => checkRecord(x as Record<string, unknown>, bounds));
      e.checked++;
      if (reads.some((x) => x.outlier)) e.outliers++;
      if (reads.some((x) => x.missing)) e.incomplete++;
    }
    const rolled = await getDb().select().from(predictionRollups).where(eq(predictionRollups.deploymentId, d.id));
    const got = new Map(
      rolled.map((r) => [r.minute.getTime(), { checked: r.checked, outliers: r.outliers, incomplete: r.incomplete, predictions: r.predictions }]),
    );
    expect(got).toEqual(
      new Map([...expected].map(([m, e]) => [m, { checked: e.checked, outliers: e.outliers, incomplete: e.incomplete, predictions: e.predictions }])),
    );
    for (const r of rolled) expect(r.predictionSum).toBeCloseTo(expected.get(r.minute.getTime())!.predictionSum, 9);
    const total = [...expected.values()].reduce(
      (a, e) => ({ checked: a.checked + e.checked, outliers: a.outliers + e.outliers, incomplete: a.incomplete + e.incomplete }),
      {
        checked: 0,
        outliers: 0,
        incomplete: 0,
      },
    );
    // The fixture means something: outliers and missing inputs both occur, and not everywhere.
    expect(total.checked).toBeGreaterThan(350);
    expect(total.outliers).toBeGreaterThan(40);
    expect(total.incomplete).toBeGreaterThan(30);
    expect(total.outliers + total.incomplete).toBeLessThan(total.checked / 2);
    const scored = [...expected.values()].reduce((a, e) => a + e.predictions, 0);
    expect(scored).toBeGreaterThan(200);

    // The chart's series: the share of checked requests per step.
    const t = await callerFor(owner).monitoring.traffic({ workspaceId: workspace.id, name: d.name, range: "1h" });
    const points = t.series[0]!.points.filter((p) => p.outlierShare !== null);
    expect(points.length).toBeGreaterThan(15);
    for (const p of points) {
      const e = expected.get(p.t)!;
      expect(p.outlierShare).toBeCloseTo(e.outliers / e.checked, 12);
      expect(p.missingShare).toBeCloseTo(e.incomplete / e.checked, 12);
      if (e.predictions) expect(p.predictionMean).toBeCloseTo(e.predictionSum / e.predictions, 9);
    }

    // The drift table's column: income_k's far values are outside the reference's range.
    await computeDriftAll(new Date(now.getTime() + 1000), 60, d.id);
    const drift = await callerFor(owner).monitoring.drift({ workspaceId: workspace.id, name: d.name });
    const income = (drift.latest!.features as { feature: string; outside?: { count: number; share: number; range: number[] } }[]).find(
      (f) => f.feature === "income_k",
    )!;
    expect(income.outside!.count).toBeGreaterThanOrEqual(3 * Math.floor(400 / 3 / odd.length));
    expect(income.outside!.range).toEqual(bounds.numeric.income_k);
  });
});

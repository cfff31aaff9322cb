import { modelColumns, prepare, rng, run, score } from "~/workers/worker/steps/common";
import type { Log, StepContext, StepOutput } from "~/workers/worker/steps/context";
import { cloneTable, predictedClass, type Predictions, type Table } from "~/workers/worker/steps/runtime";

const gaussian = (r: () => number) => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());

function sameOutcome(a: Predictions, b: Predictions): boolean[] {
  if (a.task === "regression" && b.task === "regression") {
    // A regression prediction "changes" when it moves by more than 1% of the target's scale.
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of a.value) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const tol = Math.max(1e-9, (hi - lo) * 0.01);
    return Array.from(a.value, (v, i) => Math.abs(v - b.value[i]!) <= tol);
  }
  const pa = predictedClass(a as Extract<Predictions, { task: "classification" }>);
  const pb = predictedClass(b as Extract<Predictions, { task: "classification" }>);
  return Array.from(pa, (v, i) => v === pb[i]);
}

const primaryMetric = (task: "classification" | "regression") => (task === "classification" ? "accuracy" : "rmse");

export async function robustnessStep(ctx: StepContext, log: Log): Promise<StepOutput> {
  const p = await prepare(ctx, log, { needLabel: false });
  const base = await run(p, p.table, ctx);
  const task = base.task;
  const mName = primaryMetric(task);
  const baseMetric = p.y ? (score(base, p.y, p.classLabels.length).metrics[mName] ?? null) : null;
  const cols = modelColumns(p);
  const numeric = cols.filter((c) => c.numeric).map((c) => c.name);
  const categorical = cols.filter((c) => !c.numeric).map((c) => c.name);
  const r = rng(42);
  const stats = new Map(
    numeric.map((name) => {
      const v = (p.table.columns.get(name)!.values as Float64Array).filter(Number.isFinite);
      const m = v.reduce((a, b) => a + b, 0) / (v.length || 1);
      const sd = Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length || 1));
      let lo = Infinity;
      let hi = -Infinity;
      for (const x of v) {
        if (x < lo) lo = x;
        if (x > hi) hi = x;
      }
      return [name, { sd, lo, hi }];
    }),
  );
  const results: { perturbation: string; scale: number | null; changedShare: number; metric: number | null; metricDrop: number | null }[] = [];
  const measure = async (perturbation: string, scale: number | null, mutateTable: (t: Table) => void) => {
    const t = cloneTable(p.table);
    mutateTable(t);
    const pred = await run(p, t, ctx);
    const same = sameOutcome(base, pred);
    const changed = same.filter((s) => !s).length / same.length;
    const metric = p.y ? (score(pred, p.y, p.classLabels.length).metrics[mName] ?? null) : null;
    // For error metrics (rmse) a rise is a drop in quality.
    const drop = metric === null || baseMetric === null ? null : task === "classification" ? baseMetric - metric : metric - baseMetric;
    results.push({ perturbation, scale, changedShare: changed, metric, metricDrop: drop });
    log(
      `${perturbation}${scale !== null ? ` × ${scale}` : ""}: ${(changed * 100).toFixed(2)}% of predictions changed${drop !== null ? `, ${mName} drop ${drop.toFixed(4)}` : ""}.`,
    );
  };
  for (const scale of ctx.options.noise_scales ?? [0.05, 0.1, 0.25, 0.5]) {
    await measure("gaussian noise", scale, (t) => {
      for (const name of numeric) {
        const v = t.columns.get(name)!.values as Float64Array;
        const sd = stats.get(name)!.sd;
        for (let i = 0; i < v.length; i++) v[i] = v[i]! + gaussian(r) * sd * scale;
      }
    });
  }
  if (numeric.length) {
    await measure("missing values (10% of cells)", null, (t) => {
      for (const name of numeric) {
        const v = t.columns.get(name)!.values as Float64Array;
        for (let i = 0; i < v.length; i++) if (r() < 0.1) v[i] = NaN;
      }
    });
    await measure("out-of-range values (one feature per row)", null, (t) => {
      for (let i = 0; i < t.rows; i++) {
        const name = numeric[Math.floor(r() * numeric.length)]!;
        const s = stats.get(name)!;
        (t.columns.get(name)!.values as Float64Array)[i] = r() < 0.5 ? s.hi + 3 * (s.hi - s.lo || 1) : s.lo - 3 * (s.hi - s.lo || 1);
      }
    });
  }
  if (categorical.length) {
    await measure("category swaps (10% of rows)", null, (t) => {
      for (const name of categorical) {
        const v = t.columns.get(name)!.values as (string | null)[];
        const cats = [...new Set(v.filter((x): x is string => x !== null))];
        if (cats.length < 2) continue;
        for (let i = 0; i < v.length; i++) {
          if (r() >= 0.1) continue;
          const others = cats.filter((c) => c !== v[i]);
          v[i] = others[Math.floor(r() * others.length)]!;
        }
      }
    });
  } else log("No categorical inputs: category swaps do not apply.");
  await p.session.release();
  const noise = results.filter((x) => x.perturbation === "gaussian noise");
  const at = (sc: number) => noise.find((x) => x.scale === sc) ?? null;
  const drops = results.map((x) => x.metricDrop).filter((x): x is number => x !== null);
  const notes: Record<string, string> = {};
  if (!drops.length) notes.worst_metric_drop = notes.metric_drop_noise_0_1 = "the dataset has no label column";
  // Noise at 0.1σ gates; the harsher perturbations (extreme values, missing cells) only warn.
  return {
    metrics: {
      changed_share_noise_0_1: at(0.1)?.changedShare ?? null,
      metric_drop_noise_0_1: at(0.1)?.metricDrop ?? null,
      worst_changed_share: Math.max(...results.map((x) => x.changedShare)),
      worst_metric_drop: drops.length ? Math.max(...drops) : null,
    },
    defaults: {
      ...(at(0.1) ? { changed_share_noise_0_1: { warn_above: 0.05, fail_above: 0.15 } } : {}),
      ...(at(0.1) && drops.length ? { metric_drop_noise_0_1: { warn_above: 0.02, fail_above: 0.05 } } : {}),
      worst_changed_share: { warn_above: 0.5 },
      ...(drops.length ? { worst_metric_drop: { warn_above: 0.25 } } : {}),
    },
    outputs: { metric: mName, baseline: baseMetric, results, rows: p.rowsUsed },
    notes,
  };
}

import { calibrationCurve, classification, prCurve, rocCurve, type Curve } from "~/server/pipelines/metrics";
import type { Threshold } from "~/server/shared/pipeline-spec";
import { histogram, labelSet, prepare, run, score } from "~/workers/worker/steps/common";
import { fail, type Log, type StepContext, type StepOutput } from "~/workers/worker/steps/context";
import { positiveScore, predictedClass, type Predictions } from "~/workers/worker/steps/runtime";

/** Downsamples a curve to at most `max` points, keeping the ends. */
function thin(c: Curve, max = 200): Curve {
  if (c.x.length <= max) return { x: c.x, y: c.y };
  const step = (c.x.length - 1) / (max - 1);
  const idx = Array.from({ length: max }, (_, i) => Math.round(i * step));
  return { x: idx.map((i) => c.x[i]!), y: idx.map((i) => c.y[i]!) };
}

export async function evaluateStep(ctx: StepContext, log: Log): Promise<StepOutput> {
  const p = await prepare(ctx, log, { needLabel: true });
  const pred = await run(p, p.table, ctx, log);
  const y = p.y!;
  const averageOver = pred.task === "classification" ? labelSet(ctx.options.labels, p.classLabels) : undefined;
  const { metrics, notes } = score(pred, y, p.classLabels.length, averageOver);
  const outputs: Record<string, unknown> = { task: pred.task, rows: p.rowsUsed, dataset: ctx.dataset!.ref, label: ctx.label };
  if (pred.task === "classification") {
    const yt = Array.from(y);
    const yp = predictedClass(pred);
    const labels = p.classLabels.length >= pred.classes ? p.classLabels : Array.from({ length: pred.classes }, (_, i) => String(i));
    const c = classification(yt, yp, labels, { averageOver });
    outputs.confusion = { labels, matrix: c.matrix };
    outputs.perClass = c.perClass;
    const pos = positiveScore(pred);
    if (pos) {
      const roc = rocCurve(yt, pos);
      const pr = prCurve(yt, pos);
      if (roc) outputs.roc = thin(roc);
      if (pr) outputs.pr = thin(pr.curve);
      outputs.calibration = calibrationCurve(yt, pos, 10);
    }
  } else {
    const residuals = Array.from(pred.value, (v, i) => v - y[i]!);
    outputs.residuals = histogram(residuals, 20);
  }
  // Slices: the same figures for each value of each categorical column.
  const slices: { column: string; value: string; count: number; metrics: Record<string, number | null>; note?: string }[] = [];
  for (const column of ctx.slices) {
    const col = p.table.columns.get(column) ?? fail(`The dataset has no slice column "${column}".`);
    const groups = new Map<string, number[]>();
    for (let i = 0; i < p.table.rows; i++) {
      const v = col.values[i];
      const key = v === null || (typeof v === "number" && Number.isNaN(v)) ? "(missing)" : String(v);
      (groups.get(key) ?? groups.set(key, []).get(key)!).push(i);
    }
    if (groups.size > 50) {
      log(`Slice column "${column}" has ${groups.size} values; only the 50 largest are reported.`);
    }
    const top = [...groups.entries()].sort((a, b) => b[1].length - a[1].length).slice(0, 50);
    for (const [value, idx] of top) {
      const sub = subsetPredictions(pred, idx);
      const ys = Float64Array.from(idx, (i) => y[i]!);
      const s = score(sub, ys, p.classLabels.length, averageOver);
      slices.push({ column, value, count: idx.length, metrics: s.metrics, note: Object.values(s.notes)[0] });
    }
  }
  outputs.slices = slices;
  outputs.metrics = metrics;
  const defaults: Record<string, Threshold> =
    pred.task === "classification"
      ? { roc_auc: { fail_below: 0.6, warn_below: 0.7 }, accuracy: { fail_below: 0.5 } }
      : { r2: { fail_below: 0, warn_below: 0.5 } };
  if (pred.task === "classification" && metrics.roc_auc === undefined) delete defaults.roc_auc;
  log(
    `Metrics: ${Object.entries(metrics)
      .map(([k, v]) => `${k}=${v === null ? "n/a" : v.toFixed(4)}`)
      .join(", ")}.`,
  );
  await p.session.release();
  return { metrics, defaults, outputs, notes };
}

function subsetPredictions(pred: Predictions, idx: number[]): Predictions {
  if (pred.task === "regression") return { task: "regression", value: Float64Array.from(idx, (i) => pred.value[i]!) };
  const w = pred.width;
  let proba: Float64Array | null = null;
  if (pred.proba) {
    proba = new Float64Array(idx.length * w);
    idx.forEach((i, k) => proba!.set(pred.proba!.subarray(i * w, (i + 1) * w), k * w));
  }
  return { task: "classification", classes: pred.classes, width: w, proba, label: pred.label ? Float64Array.from(idx, (i) => pred.label![i]!) : null };
}

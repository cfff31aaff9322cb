import os from "node:os";
import type { InferenceSession } from "onnxruntime-node";
import type { ColumnSchema, DatasetProfile, OnnxSignature } from "~/db/schema/registry";
import {
  brier,
  calibrationCurve,
  classification,
  fairness,
  logLoss,
  logLossMulti,
  percentile,
  prCurve,
  regression,
  rocAuc,
  rocAucOvr,
  rocCurve,
  type Curve,
} from "~/server/pipelines/metrics";
import type { StepOptions, StepType, Threshold } from "~/server/pipelines/spec";
import { NUMERIC_ELEMS, planColumns, planInputs, planOutputs, PlanError, type InputPlan, type OutputPlan } from "~/server/shared/tabular";
import { cloneTable, feeds, loadTable, openSession, positiveScore, predict, predictedClass, probaMatrix, takeRows, type Predictions, type Table } from "./runtime";

/*
 * The built-in step types. Each reads what the parent resolved (files, signature,
 * profiles), computes its figures and chart data, and returns them with the default
 * thresholds for its checks; the parent judges them and records the result.
 */

export type ModelRef = { file: string; signature: OnnxSignature; ref: string };
export type StepContext = {
  type: Exclude<StepType, "command">;
  options: StepOptions;
  model: ModelRef;
  dataset?: { file: string; format: "csv" | "parquet"; schema: ColumnSchema[]; profile: DatasetProfile; ref: string };
  train?: { profile: DatasetProfile; ref: string };
  champion?: ModelRef | null;
  label?: string;
  sensitive?: string;
  slices: string[];
};
export type StepOutput = {
  metrics: Record<string, number | null>;
  defaults: Record<string, Threshold>;
  outputs: Record<string, unknown>;
  notes?: Record<string, string>;
  /** The step did not apply (no sensitive column, no champion…): why. */
  skipped?: string;
};
export type Log = (line: string) => void;

export class StepFailure extends Error {}

const fail = (msg: string): never => {
  throw new StepFailure(msg);
};

function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const gaussian = (r: () => number) => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());

/** Downsamples a curve to at most `max` points, keeping the ends. */
function thin(c: Curve, max = 200): Curve {
  if (c.x.length <= max) return { x: c.x, y: c.y };
  const step = (c.x.length - 1) / (max - 1);
  const idx = Array.from({ length: max }, (_, i) => Math.round(i * step));
  return { x: idx.map((i) => c.x[i]!), y: idx.map((i) => c.y[i]!) };
}

type Prepared = {
  table: Table;
  plan: InputPlan;
  out: OutputPlan;
  session: InferenceSession;
  /** Class index per row (classification) or target value (regression); null when no label column. */
  y: Float64Array | null;
  classLabels: string[];
  rowsUsed: number;
};

function requireDataset(ctx: StepContext) {
  return ctx.dataset ?? fail("This step needs a dataset: set `dataset` in the pipeline (eval, train or name@version), or register the model version with an eval dataset in its lineage.");
}

/** Loads the dataset rows with a usable label, the session and the input/output plans. */
async function prepare(ctx: StepContext, log: Log, opts: { needLabel: boolean; model?: ModelRef }): Promise<Prepared> {
  const ds = requireDataset(ctx);
  const model = opts.model ?? ctx.model;
  let plan: InputPlan;
  let out: OutputPlan;
  try {
    plan = planInputs(model.signature, ds.schema.map((c) => c.name));
    out = planOutputs(model.signature, ctx.options.task);
  } catch (err) {
    if (err instanceof PlanError) fail(err.message);
    throw err;
  }
  const table = await loadTable(ds.file, ds.format, ds.schema, { maxRows: ctx.options.max_rows });
  log(`Read ${ds.ref}: ${table.rows.toLocaleString("en")} rows × ${ds.schema.length} columns.`);
  let y: Float64Array | null = null;
  let classLabels: string[] = [];
  let kept = table;
  if (ctx.label) {
    const col = table.columns.get(ctx.label) ?? fail(`The dataset has no label column "${ctx.label}" (columns: ${ds.schema.map((c) => c.name).join(", ")}).`);
    const keep: number[] = [];
    for (let i = 0; i < table.rows; i++) {
      const v = col.values[i];
      if (v !== null && !(typeof v === "number" && Number.isNaN(v))) keep.push(i);
    }
    if (keep.length < table.rows) log(`Left out ${table.rows - keep.length} row(s) without a label.`);
    if (!keep.length) fail(`Every row's label "${ctx.label}" is empty.`);
    kept = keep.length === table.rows ? table : takeRows(table, keep);
    const lc = kept.columns.get(ctx.label)!;
    y = new Float64Array(kept.rows);
    if (out.task === "regression") {
      if (lc.kind !== "num") fail(`The label column "${ctx.label}" is text; a regression model needs numbers.`);
      y.set((lc as { values: Float64Array }).values);
    } else {
      const pos = ctx.options.positive_label;
      if (pos !== undefined) {
        for (let i = 0; i < kept.rows; i++) y[i] = String(lc.values[i]) === String(pos) ? 1 : 0;
        classLabels = [`not ${pos}`, String(pos)];
      } else if (lc.kind === "num") {
        const distinct = [...new Set(lc.values)].sort((a, b) => a - b);
        if (distinct.some((v) => !Number.isInteger(v) || v < 0)) fail(`The label column "${ctx.label}" holds values other than class indices 0, 1, … (found ${distinct.slice(0, 5).join(", ")}); set positive_label for a binary target.`);
        y.set(lc.values);
        classLabels = Array.from({ length: Math.max(2, distinct[distinct.length - 1]! + 1) }, (_, i) => String(i));
      } else {
        const distinct = [...new Set(lc.values as string[])].sort();
        const index = new Map(distinct.map((v, i) => [v, i]));
        for (let i = 0; i < kept.rows; i++) y[i] = index.get(lc.values[i] as string)!;
        classLabels = distinct;
      }
    }
  } else if (opts.needLabel) {
    fail("No label column: set `label` in the pipeline's inputs (the column holding the ground truth), or add label_column metadata to the model.");
  }
  const session = await openSession(model.file);
  return { table: kept, plan, out, session, y, classLabels, rowsUsed: kept.rows };
}

async function run(p: Prepared, table: Table, ctx: StepContext, log?: Log) {
  const batch = ctx.options.batch_size ?? 1024;
  let lastPct = -1;
  try {
    return await predict(p.session, p.plan, p.out, table, batch, (done, total) => {
      const pct = Math.floor((done / total) * 10) * 10;
      if (log && pct !== lastPct && total > batch) {
        lastPct = pct;
        log(`Predicted ${done.toLocaleString("en")} / ${total.toLocaleString("en")} rows (${pct}%).`);
      }
    });
  } catch (err) {
    return fail(`The model failed in onnxruntime: ${(err instanceof Error ? err.message : String(err)).split("\n")[0]!.slice(0, 400)}`);
  }
}

type Scored = { metrics: Record<string, number | null>; notes: Record<string, string> };

/** The headline figures for a set of predictions against labels. */
function score(pred: Predictions, y: Float64Array, classes: number): Scored {
  const notes: Record<string, string> = {};
  if (pred.task === "regression") {
    const r = regression(y, pred.value);
    if (r.r2 === null) notes.r2 = "the target is constant";
    return { metrics: { mae: r.mae, rmse: r.rmse, r2: r.r2 }, notes };
  }
  const yt = Array.from(y);
  const yp = predictedClass(pred);
  const k = Math.max(classes, pred.classes);
  const c = classification(yt, yp, Array.from({ length: k }, (_, i) => String(i)));
  const m: Record<string, number | null> = { accuracy: c.accuracy, precision_macro: c.macro.precision, recall_macro: c.macro.recall, f1_macro: c.macro.f1 };
  const pos = positiveScore(pred);
  const P = probaMatrix(pred);
  if (k === 2 && pos) {
    m.roc_auc = rocAuc(yt, pos);
    m.pr_auc = prCurve(yt, pos)?.averagePrecision ?? null;
    m.log_loss = logLoss(yt, pos);
    m.brier = brier(yt, pos);
    if (m.roc_auc === null) notes.roc_auc = notes.pr_auc = "only one class is present";
  } else if (P) {
    m.roc_auc = rocAucOvr(yt, P, k);
    m.log_loss = logLossMulti(yt, P);
  } else notes.roc_auc = "the model outputs labels only";
  return { metrics: m, notes };
}

async function evaluateStep(ctx: StepContext, log: Log): Promise<StepOutput> {
  const p = await prepare(ctx, log, { needLabel: true });
  const pred = await run(p, p.table, ctx, log);
  const y = p.y!;
  const { metrics, notes } = score(pred, y, p.classLabels.length);
  const outputs: Record<string, unknown> = { task: pred.task, rows: p.rowsUsed, dataset: ctx.dataset!.ref, label: ctx.label };
  if (pred.task === "classification") {
    const yt = Array.from(y);
    const yp = predictedClass(pred);
    const labels = p.classLabels.length >= pred.classes ? p.classLabels : Array.from({ length: pred.classes }, (_, i) => String(i));
    const c = classification(yt, yp, labels);
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
      const s = score(sub, ys, p.classLabels.length);
      slices.push({ column, value, count: idx.length, metrics: s.metrics, note: Object.values(s.notes)[0] });
    }
  }
  outputs.slices = slices;
  outputs.metrics = metrics;
  const defaults: Record<string, Threshold> =
    pred.task === "classification" ? { roc_auc: { fail_below: 0.6, warn_below: 0.7 }, accuracy: { fail_below: 0.5 } } : { r2: { fail_below: 0, warn_below: 0.5 } };
  if (pred.task === "classification" && metrics.roc_auc === undefined) delete defaults.roc_auc;
  log(`Metrics: ${Object.entries(metrics).map(([k, v]) => `${k}=${v === null ? "n/a" : v.toFixed(4)}`).join(", ")}.`);
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

function histogram(values: number[], bins: number) {
  const finite = values.filter(Number.isFinite);
  if (!finite.length) return { edges: [], counts: [] };
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of finite) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === hi) hi = lo + 1;
  const edges = Array.from({ length: bins + 1 }, (_, i) => lo + ((hi - lo) * i) / bins);
  const counts = new Array<number>(bins).fill(0);
  for (const v of finite) counts[Math.min(bins - 1, Math.floor(((v - lo) / (hi - lo)) * bins))]!++;
  return { edges, counts };
}

async function fairnessStep(ctx: StepContext, log: Log): Promise<StepOutput> {
  if (!ctx.sensitive) {
    return { metrics: {}, defaults: {}, outputs: {}, skipped: "No sensitive column is configured: set `sensitive` in the pipeline's inputs (for example gender), or add sensitive_columns metadata to the model." };
  }
  const p = await prepare(ctx, log, { needLabel: true });
  if (p.out.task !== "classification") fail("Fairness needs a classifier; this model is a regressor.");
  const col = p.table.columns.get(ctx.sensitive) ?? fail(`The dataset has no sensitive column "${ctx.sensitive}".`);
  const pred = (await run(p, p.table, ctx, log)) as Extract<Predictions, { task: "classification" }>;
  if (pred.classes !== 2) fail(`Fairness figures are for binary classifiers; this model has ${pred.classes} classes.`);
  const groups = Array.from({ length: p.table.rows }, (_, i) => {
    const v = col.values[i];
    return v === null || (typeof v === "number" && Number.isNaN(v)) ? "(missing)" : String(v);
  });
  const f = fairness(Array.from(p.y!), predictedClass(pred), groups);
  log(`Groups of ${ctx.sensitive}: ${f.groups.map((g) => `${g.group} (n=${g.count}, selection ${(g.selectionRate * 100).toFixed(1)}%)`).join(", ")}.`);
  await p.session.release();
  return {
    metrics: {
      demographic_parity_difference: f.demographicParityDifference,
      demographic_parity_ratio: f.demographicParityRatio,
      equalized_odds_difference: f.equalizedOddsDifference,
    },
    // The four-fifths rule for the ratio; a tenth for the equalized-odds gap.
    defaults: { demographic_parity_ratio: { fail_below: 0.8, warn_below: 0.9 }, equalized_odds_difference: { warn_above: 0.1, fail_above: 0.2 } },
    outputs: { sensitive: ctx.sensitive, ...f },
  };
}

/** Columns the model reads, with whether each is numeric. */
function modelColumns(p: Prepared) {
  const cols = planColumns(p.plan);
  return cols.map((c) => ({ name: c, numeric: p.table.columns.get(c)!.kind === "num" }));
}

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

async function robustnessStep(ctx: StepContext, log: Log): Promise<StepOutput> {
  const p = await prepare(ctx, log, { needLabel: false });
  const base = await run(p, p.table, ctx);
  const task = base.task;
  const mName = primaryMetric(task);
  const baseMetric = p.y ? score(base, p.y, p.classLabels.length).metrics[mName] ?? null : null;
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
    const metric = p.y ? score(pred, p.y, p.classLabels.length).metrics[mName] ?? null : null;
    // For error metrics (rmse) a rise is a drop in quality.
    const drop = metric === null || baseMetric === null ? null : task === "classification" ? baseMetric - metric : metric - baseMetric;
    results.push({ perturbation, scale, changedShare: changed, metric, metricDrop: drop });
    log(`${perturbation}${scale !== null ? ` × ${scale}` : ""}: ${(changed * 100).toFixed(2)}% of predictions changed${drop !== null ? `, ${mName} drop ${drop.toFixed(4)}` : ""}.`);
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

async function explainStep(ctx: StepContext, log: Log): Promise<StepOutput> {
  const p = await prepare(ctx, log, { needLabel: true });
  const base = await run(p, p.table, ctx);
  const mName = base.task === "classification" ? (positiveScore(base) ? "roc_auc" : "accuracy") : "rmse";
  const sign = mName === "rmse" ? -1 : 1;
  const baseline = score(base, p.y!, p.classLabels.length).metrics[mName];
  if (baseline === null || baseline === undefined) fail(`The baseline ${mName} is undefined (${mName === "roc_auc" ? "only one class is present" : "no rows"}); importance cannot be measured.`);
  const repeats = ctx.options.repeats ?? 3;
  const r = rng(7);
  const importance: { feature: string; importance: number; std: number }[] = [];
  for (const { name } of modelColumns(p)) {
    const drops: number[] = [];
    for (let k = 0; k < repeats; k++) {
      const t = cloneTable(p.table);
      const col = t.columns.get(name)!;
      const v = col.values as unknown[];
      for (let i = v.length - 1; i > 0; i--) {
        const j = Math.floor(r() * (i + 1));
        [v[i], v[j]] = [v[j], v[i]];
      }
      const m = score(await run(p, t, ctx), p.y!, p.classLabels.length).metrics[mName] ?? baseline!;
      drops.push(sign * (baseline! - m));
    }
    const mean = drops.reduce((a, b) => a + b, 0) / drops.length;
    const std = Math.sqrt(drops.reduce((a, b) => a + (b - mean) ** 2, 0) / drops.length);
    importance.push({ feature: name, importance: mean, std });
    log(`${name}: ${mName} falls by ${mean.toFixed(4)} ± ${std.toFixed(4)} when shuffled.`);
  }
  importance.sort((a, b) => b.importance - a.importance);
  await p.session.release();
  return { metrics: { top_feature_importance: importance[0]?.importance ?? null }, defaults: {}, outputs: { metric: mName, baseline, repeats, importance } };
}

async function performanceStep(ctx: StepContext, log: Log): Promise<StepOutput> {
  const sig = ctx.model.signature;
  let plan: InputPlan;
  try {
    plan = planInputs(sig);
  } catch (err) {
    if (err instanceof PlanError) fail(err.message);
    throw err;
  }
  // Rows from the dataset when there is one (realistic values), else zeros.
  let table: Table;
  const cols = planColumns(plan);
  if (ctx.dataset && cols.every((c) => ctx.dataset!.schema.some((s) => s.name === c))) {
    table = await loadTable(ctx.dataset.file, ctx.dataset.format, ctx.dataset.schema, { maxRows: 256 });
  } else {
    const columns = new Map(cols.map((c) => [c, { kind: "num" as const, values: new Float64Array(256) }]));
    table = { rows: 256, columns };
  }
  const session = await openSession(ctx.model.file);
  const iterations = ctx.options.iterations ?? 300;
  const metrics: Record<string, number | null> = {};
  const outputs: Record<string, unknown> = { cpu: os.cpus()[0]?.model ?? null, cores: os.cpus().length, iterations };
  for (const batch of [1, 32]) {
    const n = Math.min(batch, table.rows);
    const fd = feeds(plan, table, 0, n);
    for (let i = 0; i < 10; i++) await session.run(fd); // warm-up
    const times: number[] = [];
    const runs = batch === 1 ? iterations : Math.max(20, Math.floor(iterations / 4));
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < runs; i++) {
      const s = process.hrtime.bigint();
      await session.run(fd);
      times.push(Number(process.hrtime.bigint() - s) / 1e6);
    }
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    times.sort((a, b) => a - b);
    metrics[`latency_p50_ms_b${batch}`] = percentile(times, 0.5);
    metrics[`latency_p95_ms_b${batch}`] = percentile(times, 0.95);
    metrics[`latency_p99_ms_b${batch}`] = percentile(times, 0.99);
    metrics[`throughput_rows_s_b${batch}`] = (runs * n) / wall;
    log(`Batch ${batch}: p50 ${metrics[`latency_p50_ms_b${batch}`]!.toFixed(3)} ms, p99 ${metrics[`latency_p99_ms_b${batch}`]!.toFixed(3)} ms, ${Math.round(metrics[`throughput_rows_s_b${batch}`]!).toLocaleString("en")} rows/s.`);
    outputs[`histogram_b${batch}`] = histogram(times, 20);
  }
  await session.release();
  // ru_maxrss is in KiB on Linux: the step process's peak, model and runtime included.
  metrics.peak_memory_mb = process.resourceUsage().maxRSS / 1024;
  log(`Peak memory of the step process: ${metrics.peak_memory_mb.toFixed(0)} MB.`);
  return { metrics, defaults: { latency_p99_ms_b1: { warn_above: 50, fail_above: 250 } }, outputs };
}

async function integrityStep(ctx: StepContext, log: Log): Promise<StepOutput> {
  const ds = requireDataset(ctx);
  const sig = ctx.model.signature;
  const columns = ds.schema.map((c) => c.name);
  const mismatches: { column: string; problem: string; expected: string; found: string; severity: "fail" | "warn" }[] = [];
  let plan: InputPlan | null = null;
  try {
    plan = planInputs(sig, columns);
  } catch (err) {
    if (!(err instanceof PlanError)) throw err;
    mismatches.push({ column: "(inputs)", problem: err.message, expected: sig.inputs.map((i) => i.name).join(", "), found: columns.join(", "), severity: "fail" });
  }
  const elemOf = (col: string) => (plan?.kind === "matrix" ? plan.elemType : plan?.inputs.find((i) => i.column === col)?.elemType ?? "");
  const used = plan ? planColumns(plan).filter((c) => columns.includes(c)) : [];
  for (const name of used) {
    const col = ds.schema.find((c) => c.name === name)!;
    const elem = elemOf(name);
    if (NUMERIC_ELEMS.has(elem) && col.logical !== "numeric" && col.logical !== "boolean") {
      mismatches.push({ column: name, problem: "type", expected: `numbers (the model takes ${elem})`, found: `${col.type} (${col.logical})`, severity: "fail" });
    }
    if (elem === "string" && col.logical === "numeric") {
      mismatches.push({ column: name, problem: "type", expected: "text (the model takes string)", found: col.type, severity: "warn" });
    }
  }
  if (ctx.label && !columns.includes(ctx.label)) mismatches.push({ column: ctx.label, problem: "label column missing", expected: "present", found: "absent", severity: "fail" });
  // Nulls and ranges from the dataset's profile, against the training profile when there is one.
  let nullCells = 0;
  const ranges: { column: string; trainMin: number; trainMax: number; evalMin: number | null; evalMax: number | null; outside: number }[] = [];
  const trainCols = new Map((ctx.train?.profile.columns ?? []).map((c) => [c.name, c]));
  const needScan = used.filter((n) => {
    const t = trainCols.get(n);
    return t && typeof t.min === "number" && typeof t.max === "number";
  });
  const table = needScan.length ? await loadTable(ds.file, ds.format, ds.schema.filter((c) => needScan.includes(c.name))) : null;
  for (const name of used) {
    const prof = ds.profile.columns.find((c) => c.name === name);
    if (prof && prof.nulls > 0) {
      nullCells += prof.nulls;
      mismatches.push({ column: name, problem: "nulls", expected: "no missing values (the model cannot take them)", found: `${prof.nulls} missing`, severity: "warn" });
    }
    const t = trainCols.get(name);
    if (table && t && typeof t.min === "number" && typeof t.max === "number") {
      const col = table.columns.get(name);
      if (col?.kind !== "num") continue;
      let outside = 0;
      for (const v of col.values) if (v < t.min || v > t.max) outside++;
      ranges.push({ column: name, trainMin: t.min, trainMax: t.max, evalMin: typeof prof?.min === "number" ? prof.min : null, evalMax: typeof prof?.max === "number" ? prof.max : null, outside });
      if (outside) mismatches.push({ column: name, problem: "range", expected: `within the training range [${t.min}, ${t.max}]`, found: `${outside} row(s) outside`, severity: "warn" });
    }
    if (t?.top && prof?.top && prof.logical === "categorical") {
      const seen = new Set(t.top.map((x) => x.value));
      const unseen = prof.top.filter((x) => !seen.has(x.value));
      if (unseen.length && (t.distinct ?? 0) <= t.top.length) mismatches.push({ column: name, problem: "unseen categories", expected: [...seen].join(", "), found: unseen.map((u) => u.value).join(", "), severity: "warn" });
    }
  }
  const rows = ds.profile.rows;
  const outsideRows = ranges.reduce((s, r) => s + r.outside, 0);
  for (const m of mismatches) log(`${m.severity === "fail" ? "✗" : "!"} ${m.column}: ${m.problem} — expected ${m.expected}, found ${m.found}.`);
  if (!mismatches.length) log(`${ds.ref} matches the model's ${used.length} input column(s)${ctx.train ? ` and the training profile of ${ctx.train.ref}` : ""}.`);
  return {
    metrics: {
      schema_mismatches: mismatches.filter((m) => m.severity === "fail").length,
      null_cells: nullCells,
      out_of_range_share: rows && used.length ? outsideRows / (rows * used.length) : 0,
    },
    defaults: { schema_mismatches: { fail_above: 0 }, null_cells: { warn_above: 0 }, out_of_range_share: { warn_above: 0.01, fail_above: 0.1 } },
    outputs: { dataset: ds.ref, train: ctx.train?.ref ?? null, columns: used, mismatches, ranges },
  };
}

const LOWER_IS_BETTER = new Set(["log_loss", "brier", "mae", "rmse"]);

async function compareStep(ctx: StepContext, log: Log): Promise<StepOutput> {
  if (!ctx.champion) return { metrics: {}, defaults: {}, outputs: { champion: null }, skipped: "No version holds the champion or production alias yet: there is nothing to compare with." };
  if (ctx.champion.ref === ctx.model.ref) return { metrics: {}, defaults: {}, outputs: { champion: ctx.champion.ref }, skipped: "This version is the champion." };
  const cand = await prepare(ctx, log, { needLabel: true });
  const candPred = await run(cand, cand.table, ctx);
  const candidate = score(candPred, cand.y!, cand.classLabels.length).metrics;
  await cand.session.release();
  const champ = await prepare(ctx, log, { needLabel: true, model: ctx.champion });
  const champion = score(await run(champ, champ.table, ctx), champ.y!, champ.classLabels.length).metrics;
  await champ.session.release();
  const names = ctx.options.metrics ?? (candPred.task === "classification" ? ["roc_auc", "accuracy", "f1_macro"] : ["rmse", "mae", "r2"]);
  const tol = ctx.options.tolerance ?? 0.01;
  const metrics: Record<string, number | null> = {};
  const defaults: Record<string, Threshold> = {};
  const rows: { metric: string; candidate: number | null; champion: number | null; delta: number | null; lowerIsBetter: boolean }[] = [];
  for (const m of names) {
    if (!(m in candidate)) fail(`compare-to-champion: "${m}" is not a metric of this model (available: ${Object.keys(candidate).join(", ")}).`);
    const a = candidate[m] ?? null;
    const b = champion[m] ?? null;
    const delta = a === null || b === null ? null : a - b;
    const lower = LOWER_IS_BETTER.has(m);
    metrics[`${m}_delta`] = delta;
    defaults[`${m}_delta`] = lower ? { fail_above: tol } : { fail_below: -tol };
    rows.push({ metric: m, candidate: a, champion: b, delta, lowerIsBetter: lower });
    log(`${m}: ${a?.toFixed(4) ?? "n/a"} vs champion ${b?.toFixed(4) ?? "n/a"} (Δ ${delta === null ? "n/a" : (delta >= 0 ? "+" : "") + delta.toFixed(4)}).`);
  }
  return { metrics, defaults, outputs: { champion: ctx.champion.ref, tolerance: tol, comparison: rows } };
}

export async function runStep(ctx: StepContext, log: Log): Promise<StepOutput> {
  switch (ctx.type) {
    case "data-integrity":
      return integrityStep(ctx, log);
    case "evaluate":
      return evaluateStep(ctx, log);
    case "fairness":
      return fairnessStep(ctx, log);
    case "robustness":
      return robustnessStep(ctx, log);
    case "performance":
      return performanceStep(ctx, log);
    case "explain":
      return explainStep(ctx, log);
    case "compare-to-champion":
      return compareStep(ctx, log);
  }
}

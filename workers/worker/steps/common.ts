import type { InferenceSession } from "onnxruntime-node";
import { brier, classification, logLoss, logLossMulti, prCurve, regression, rocAuc, rocAucOvr } from "~/server/pipelines/metrics";
import { planColumns, planInputs, planOutputs, PlanError, type InputPlan, type OutputPlan } from "~/server/shared/tabular";
import { fail, type Log, type ModelRef, type StepContext } from "./context";
import { loadTable, openSession, positiveScore, predict, predictedClass, probaMatrix, takeRows, type Predictions, type Table } from "./runtime";

/*
 * What several step types share: a seeded random generator, loading the dataset
 * with its labels and the model's session, running the model, and the headline figures.
 */

export function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Prepared = {
  table: Table;
  plan: InputPlan;
  out: OutputPlan;
  session: InferenceSession;
  /** Class index per row (classification) or target value (regression); null when no label column. */
  y: Float64Array | null;
  classLabels: string[];
  rowsUsed: number;
};

export function requireDataset(ctx: StepContext) {
  return (
    ctx.dataset ??
    fail(
      "This step needs a dataset: set `dataset` in the pipeline (eval, train or name@version), or register the model version with an eval dataset in its lineage.",
    )
  );
}

/** Loads the dataset rows with a usable label, the session and the input/output plans. */
export async function prepare(ctx: StepContext, log: Log, opts: { needLabel: boolean; model?: ModelRef }): Promise<Prepared> {
  const ds = requireDataset(ctx);
  const model = opts.model ?? ctx.model;
  let plan: InputPlan;
  let out: OutputPlan;
  try {
    plan = planInputs(
      model.signature,
      ds.schema.map((c) => c.name),
    );
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
        if (distinct.some((v) => !Number.isInteger(v) || v < 0))
          fail(
            `The label column "${ctx.label}" holds values other than class indices 0, 1, … (found ${distinct.slice(0, 5).join(", ")}); set positive_label for a binary target.`,
          );
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

export async function run(p: Prepared, table: Table, ctx: StepContext, log?: Log) {
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

export type Scored = { metrics: Record<string, number | null>; notes: Record<string, string> };

/** The headline figures for a set of predictions against labels. */
/**
 * The pipeline's `labels` (the label set macro averages run over) as class indices of the
 * label column's classes; undefined when the pipeline does not name one. A label that is not
 * a class of the column fails the step, naming the classes there are.
 */
export function labelSet(labels: readonly (string | number)[] | undefined, classLabels: readonly string[]): number[] | undefined {
  if (!labels) return undefined;
  return labels.map((l) => {
    const i = classLabels.indexOf(String(l));
    return i >= 0 ? i : fail(`labels: "${l}" is not a class of the label column (its classes: ${classLabels.slice(0, 20).join(", ")}).`);
  });
}

export function score(pred: Predictions, y: Float64Array, classes: number, averageOver?: number[]): Scored {
  const notes: Record<string, string> = {};
  if (pred.task === "regression") {
    const r = regression(y, pred.value);
    if (r.r2 === null) notes.r2 = "the target is constant";
    return { metrics: { mae: r.mae, rmse: r.rmse, r2: r.r2 }, notes };
  }
  const yt = Array.from(y);
  const yp = predictedClass(pred);
  const k = Math.max(classes, pred.classes);
  const c = classification(
    yt,
    yp,
    Array.from({ length: k }, (_, i) => String(i)),
    { averageOver },
  );
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

export function histogram(values: number[], bins: number) {
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

/** Columns the model reads, with whether each is numeric. */
export function modelColumns(p: Prepared) {
  const cols = planColumns(p.plan);
  return cols.map((c) => ({ name: c, numeric: p.table.columns.get(c)!.kind === "num" }));
}

import { fairness } from "~/server/pipelines/metrics";
import { prepare, run } from "~/workers/worker/steps/common";
import { fail, type Log, type StepContext, type StepOutput } from "~/workers/worker/steps/context";
import { predictedClass, type Predictions } from "~/workers/worker/steps/runtime";

export async function fairnessStep(ctx: StepContext, log: Log): Promise<StepOutput> {
  if (!ctx.sensitive) {
    return {
      metrics: {},
      defaults: {},
      outputs: {},
      skipped:
        "No sensitive column is configured: set `sensitive` in the pipeline's inputs (for example gender), or add sensitive_columns metadata to the model.",
    };
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
    // A figure fairlearn leaves undefined is null, and its check warns with the reason.
    notes: f.undefinedBecause,
  };
}

import { lowerIsBetter } from "~/server/shared/metrics";
import type { Threshold } from "~/server/shared/pipeline-spec";
import { labelSet, prepare, run, score } from "~/workers/worker/steps/common";
import { fail, type Log, type StepContext, type StepOutput } from "~/workers/worker/steps/context";

export async function compareStep(ctx: StepContext, log: Log): Promise<StepOutput> {
  if (!ctx.champion)
    return {
      metrics: {},
      defaults: {},
      outputs: { champion: null },
      skipped: "No version holds the champion or production alias yet: there is nothing to compare with.",
    };
  if (ctx.champion.ref === ctx.model.ref)
    return { metrics: {}, defaults: {}, outputs: { champion: ctx.champion.ref }, skipped: "This version is the champion." };
  const cand = await prepare(ctx, log, { needLabel: true });
  const candPred = await run(cand, cand.table, ctx);
  // Both scored over the same label set when the pipeline names one.
  const averageOver = candPred.task === "classification" ? labelSet(ctx.options.labels, cand.classLabels) : undefined;
  const candidate = score(candPred, cand.y!, cand.classLabels.length, averageOver).metrics;
  await cand.session.release();
  const champ = await prepare(ctx, log, { needLabel: true, model: ctx.champion });
  const champion = score(await run(champ, champ.table, ctx), champ.y!, champ.classLabels.length, averageOver).metrics;
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
    const lower = lowerIsBetter(m);
    metrics[`${m}_delta`] = delta;
    defaults[`${m}_delta`] = lower ? { fail_above: tol } : { fail_below: -tol };
    rows.push({ metric: m, candidate: a, champion: b, delta, lowerIsBetter: lower });
    log(`${m}: ${a?.toFixed(4) ?? "n/a"} vs champion ${b?.toFixed(4) ?? "n/a"} (Δ ${delta === null ? "n/a" : (delta >= 0 ? "+" : "") + delta.toFixed(4)}).`);
  }
  return { metrics, defaults, outputs: { champion: ctx.champion.ref, tolerance: tol, comparison: rows } };
}

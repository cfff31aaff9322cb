import { modelColumns, prepare, rng, run, score } from "~/workers/worker/steps/common";
import { fail, type Log, type StepContext, type StepOutput } from "~/workers/worker/steps/context";
import { cloneTable, positiveScore } from "~/workers/worker/steps/runtime";

export async function explainStep(ctx: StepContext, log: Log): Promise<StepOutput> {
  const p = await prepare(ctx, log, { needLabel: true });
  const base = await run(p, p.table, ctx);
  const mName = base.task === "classification" ? (positiveScore(base) ? "roc_auc" : "accuracy") : "rmse";
  const sign = mName === "rmse" ? -1 : 1;
  const baseline = score(base, p.y!, p.classLabels.length).metrics[mName];
  if (baseline === null || baseline === undefined)
    fail(`The baseline ${mName} is undefined (${mName === "roc_auc" ? "only one class is present" : "no rows"}); importance cannot be measured.`);
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

import os from "node:os";
import { percentile } from "~/server/pipelines/metrics";
import { planColumns, planInputs, PlanError, type InputPlan } from "~/server/shared/tabular";
import { histogram } from "~/workers/worker/steps/common";
import { fail, type Log, type StepContext, type StepOutput } from "~/workers/worker/steps/context";
import { feeds, loadTable, openSession, type Table } from "~/workers/worker/steps/runtime";

export async function performanceStep(ctx: StepContext, log: Log): Promise<StepOutput> {
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
    log(
      `Batch ${batch}: p50 ${metrics[`latency_p50_ms_b${batch}`]!.toFixed(3)} ms, p99 ${metrics[`latency_p99_ms_b${batch}`]!.toFixed(3)} ms, ${Math.round(metrics[`throughput_rows_s_b${batch}`]!).toLocaleString("en")} rows/s.`,
    );
    outputs[`histogram_b${batch}`] = histogram(times, 20);
  }
  await session.release();
  // ru_maxrss is in KiB on Linux: the step process's peak, model and runtime included.
  metrics.peak_memory_mb = process.resourceUsage().maxRSS / 1024;
  log(`Peak memory of the step process: ${metrics.peak_memory_mb.toFixed(0)} MB.`);
  return { metrics, defaults: { latency_p99_ms_b1: { warn_above: 50, fail_above: 250 } }, outputs };
}

import "server-only";
import { sql } from "drizzle-orm";
import { getDb } from "~/db/client";
import {
  ANOMALY_METRIC_INFO,
  bandOf,
  baselinePlan,
  MIN_BASELINE_WINDOWS,
  outside,
  rareEventTail,
  robustCentre,
  SENSITIVITY_TAIL,
  samplingSd,
  windowValue,
  type AnomalyBand,
  type AnomalyMetric,
  type AnomalyWindow,
  type BaselineKind,
  type Sensitivity,
} from "~/server/shared/anomaly";
import { emptyBuckets } from "~/server/shared/latency";

/*
 * Anomaly rules: is this deployment's series, over the rule's window, unusual for this
 * deployment at this time? The baseline is learned from the deployment's own rollups, each
 * time the rule is evaluated (no model state to keep, so every worker replica and every
 * restart judges alike):
 *
 * - seasonal by hour of the week once three weeks of history exist (the same window one to
 *   four weeks back, and two windows either side of it), else by hour of the day once three
 *   days exist (one to seven days back, same jitter), else the windows just before (at least
 *   twelve of them, up to a day);
 * - robust: the median and the MAD (scaled by 1.4826 to a standard deviation) of those
 *   windows, so last Tuesday's outage does not widen this Tuesday's band the way a mean and
 *   a standard deviation would, and a few missing windows change nothing. An EWMA would need
 *   state carried between evaluations and reacts to the very incident it should flag;
 * - the band is median ± k × spread, k from the rule's sensitivity; the spread is never below
 *   10% of the median or the series' own floor (a perfectly flat history would otherwise
 *   fire on the first wobble);
 * - a rate or a latency is judged only on windows with at least 20 requests (the current
 *   one included), like the threshold rules.
 */

export type AnomalyVerdict =
  | { status: "learning"; message: string }
  | { status: "quiet"; message: string }
  | { status: "ok"; firing: boolean; value: number; band: AnomalyBand; message: string };

const BASELINE_WORDS: Record<BaselineKind, (n: number) => string> = {
  weekly: (n) => `the same hour of the last ${n} week${n === 1 ? "" : "s"}`,
  daily: (n) => `the same hour of the last ${n} day${n === 1 ? "" : "s"}`,
  recent: (n) => `the ${n} windows before`,
};

/** When the deployment's (non-shadow) history starts, as the rollups have it. */
async function historyStart(deploymentId: string): Promise<number | null> {
  const rows = await getDb().execute<{ first: string | null }>(
    sql`select min(minute) as first from prediction_rollups where deployment_id = ${deploymentId} and role <> 'shadow'`,
  );
  const first = rows[0]?.first;
  return first ? new Date(first).getTime() : null;
}

/** Requests, errors and latency histogram of each window starting at `starts` (ms). */
async function windows(deploymentId: string, starts: number[], windowMinutes: number): Promise<Map<number, AnomalyWindow>> {
  const out = new Map<number, AnomalyWindow>(
    starts.map((s) => [
      s,
      { requests: 0, errors: 0, buckets: emptyBuckets(), checked: 0, outliers: 0, incomplete: 0, predictions: 0, predictionSum: 0, predictionSqSum: 0 },
    ]),
  );
  if (!starts.length) return out;
  const list = `{${starts.map((s) => new Date(s).toISOString()).join(",")}}`;
  const rows = await getDb().execute<{
    start: string;
    requests: number;
    errors: number;
    latency_buckets: number[];
    checked: number;
    outliers: number;
    incomplete: number;
    predictions: number;
    prediction_sum: number;
    prediction_sq_sum: number;
  }>(sql`
    select w.start, r.requests, r.errors, r.latency_buckets, r.checked, r.outliers, r.incomplete, r.predictions, r.prediction_sum, r.prediction_sq_sum
    from unnest(${list}::timestamptz[]) as w(start)
    join prediction_rollups r
      on r.deployment_id = ${deploymentId} and r.role <> 'shadow'
     and r.minute >= w.start and r.minute < w.start + make_interval(mins => ${windowMinutes}::int)`);
  for (const r of rows) {
    const x = out.get(new Date(r.start).getTime())!;
    x.requests += r.requests;
    x.errors += r.errors;
    x.checked! += r.checked;
    x.outliers! += r.outliers;
    x.incomplete! += r.incomplete;
    x.predictions! += r.predictions;
    x.predictionSum! += r.prediction_sum;
    x.predictionSqSum! += r.prediction_sq_sum;
    r.latency_buckets.forEach((c, i) => (x.buckets[i]! += c));
  }
  return out;
}

/**
 * Judges anomaly rules of one deployment and one window length at `now`: each rule's series
 * over the current window against the band learned from the deployment's history (the
 * windows are read once for all of them). `label` names the deployment in the messages.
 */
export async function anomalyVerdicts(
  deploymentId: string,
  windowMinutes: number,
  rules: readonly { metric: AnomalyMetric; sensitivity: Sensitivity }[],
  now: Date,
  label: string,
): Promise<AnomalyVerdict[]> {
  const end = Math.floor(now.getTime() / 60_000) * 60_000;
  const start = end - windowMinutes * 60_000;
  const from = await historyStart(deploymentId);
  const plan = baselinePlan(end, windowMinutes, from);
  if (!plan) {
    const have = from === null ? 0 : Math.max(0, Math.floor((start - from) / 60_000));
    const need = MIN_BASELINE_WINDOWS * windowMinutes;
    return rules.map((r) => ({
      status: "learning",
      message: `${label}: learning what normal ${ANOMALY_METRIC_INFO[r.metric].noun} looks like (${have} of ${need} minutes of history).`,
    }));
  }
  const got = await windows(deploymentId, [start, ...plan.starts], windowMinutes);
  return rules.map(({ metric, sensitivity }): AnomalyVerdict => {
    const info = ANOMALY_METRIC_INFO[metric];
    const value = windowValue(metric, got.get(start)!, windowMinutes);
    if (value === null) return { status: "quiet", message: `${label}: too few requests in the last ${windowMinutes} min to judge ${info.noun}.` };
    const samples = plan.starts.map((s) => windowValue(metric, got.get(s)!, windowMinutes)).filter((v): v is number => v !== null);
    if (samples.length < MIN_BASELINE_WINDOWS)
      return {
        status: "learning",
        message: `${label}: learning what normal ${info.noun} looks like (${samples.length} of ${MIN_BASELINE_WINDOWS} comparable windows).`,
      };
    const windowsBefore = plan.starts.map((s) => got.get(s)!);
    const b = bandOf(metric, samples, sensitivity, samplingSd(metric, got.get(start)!, windowsBefore, windowMinutes, robustCentre(samples).median));
    const periods =
      plan.kind === "recent"
        ? samples.length
        : new Set(plan.starts.map((s) => Math.round((start - s) / (plan.kind === "weekly" ? 7 * 86_400_000 : 86_400_000)))).size;
    const hh = new Date(start).toISOString().slice(11, 16);
    const expected = `expected ${info.format(b.low)}–${info.format(b.high)} from ${BASELINE_WORDS[plan.kind](periods)}`;
    const tail = rareEventTail(metric, got.get(start)!, windowsBefore);
    return {
      status: "ok",
      firing: outside(metric, value, b) && (tail === null || tail < SENSITIVITY_TAIL[sensitivity]),
      value,
      band: { at: new Date(end).toISOString(), value, median: b.median, low: b.low, high: b.high, baseline: plan.kind, samples: samples.length },
      message: `${label}: ${info.noun} ${info.format(value)} at ${hh} UTC over ${windowMinutes} min, ${expected}.`,
    };
  });
}

/** Judges one anomaly rule at `now` (see anomalyVerdicts). */
export async function anomalyVerdict(
  rule: { deploymentId: string; metric: AnomalyMetric; windowMinutes: number; sensitivity: Sensitivity },
  now: Date,
  label: string,
): Promise<AnomalyVerdict> {
  const [v] = await anomalyVerdicts(rule.deploymentId, rule.windowMinutes, [rule], now, label);
  return v!;
}

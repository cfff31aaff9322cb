import "server-only";
import { and, asc, desc, eq, gte, lt, ne, sql } from "drizzle-orm";
import { getDb } from "~/db/client";
import {
  alertIncidents,
  alertRules,
  batchMinutes,
  deploymentEvents,
  deployments,
  driftResults,
  models,
  modelVersions,
  monitoringWatermarks,
  predictionFeedback,
  predictionRollups,
  replicaMinutes,
} from "~/db/schema";
import { bucketQuantile, emptyBuckets, LATENCY_BUCKETS_MS } from "~/server/shared/latency";
import { isAnomalyMetric } from "~/server/shared/anomaly";
import { anomalyVerdicts } from "./anomaly";
import { shapeTrafficSeries } from "~/server/shared/traffic-series";
import type { RequestMeta, WorkspaceActor } from "~/server/audit/actor";
import { mutate } from "~/server/audit/mutate";
import { monitoringDrift } from "~/server/jobs/definitions";
import { enqueue } from "~/server/jobs/enqueue";
import type { Range } from "~/server/shared/monitoring.schema";
import { AppError } from "~/server/errors";
import { publish } from "~/server/realtime/publish";

/*
 * Monitoring reads rollups, never the raw log. The worker rolls closed minutes of the
 * prediction log into prediction_rollups (re-aggregating the last few minutes each time,
 * so records written late by an inference replica's buffer are counted), and computes
 * drift on a schedule (workers/worker/monitoring).
 */

const LATE_MINUTES = 5;
/** The latency histogram of a group of log rows, in the buckets of LATENCY_BUCKETS_MS. */
const BUCKETS_SQL = sql.raw(
  `array[${[...LATENCY_BUCKETS_MS.map((b, i) => `count(*) filter (where latency_ms ${i === 0 ? "" : `> ${LATENCY_BUCKETS_MS[i - 1]} and latency_ms `}<= ${b})`), `count(*) filter (where latency_ms > ${LATENCY_BUCKETS_MS.at(-1)})`].map((x) => `(${x})::int`).join(", ")}]`,
);

/**
 * Each logged request against its deployment's reference_bounds (alias b), as checkRecord in
 * drift.ts reads a record: checked when it answered and its body names features (instances)
 * and bounds exist; missing when a listed feature of any instance is missing (null, absent,
 * blank, or for a numeric feature not a finite number); outlier when a present value is
 * outside the feature's range or a category the reference never had. The same rule twice,
 * in JavaScript for the drift table and here for every request: a test holds them together.
 */
const NUMBER_TEXT = String.raw`^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$`;
const CHECK_SQL = sql.raw(`
  select
    l.status = 'ok' and b.bounds is not null and jsonb_typeof(l.inputs->'instances') = 'array' and jsonb_array_length(l.inputs->'instances') > 0 as checked,
    coalesce(bool_or(x.missing), false) as missing,
    coalesce(bool_or(x.outlier), false) as outlier
  from jsonb_array_elements(case when b.bounds is not null and jsonb_typeof(l.inputs->'instances') = 'array' then l.inputs->'instances' else '[]'::jsonb end) i(rec)
  cross join jsonb_array_elements_text(b.bounds->'features') f(name)
  cross join lateral (
    select i.rec->f.name as v, b.bounds->'numeric'->f.name as range, b.bounds->'categorical'->f.name as cats
  ) c
  cross join lateral (
    select case
      when jsonb_typeof(c.v) = 'number' then (c.v#>>'{}')::numeric
      when jsonb_typeof(c.v) = 'boolean' then case when c.v = 'true'::jsonb then 1 else 0 end
      when jsonb_typeof(c.v) = 'string' and c.v#>>'{}' ~ '${NUMBER_TEXT}' then (c.v#>>'{}')::numeric
    end as num,
    case
      when c.v is null or jsonb_typeof(c.v) = 'null' then null
      when jsonb_typeof(c.v) = 'string' then nullif(btrim(c.v#>>'{}', E' \t\n\r\f\v'), '')
      else c.v#>>'{}'
    end as present
  ) t
  cross join lateral (
    select
      case when c.range is not null then t.num is null else t.present is null end as missing,
      case
        when c.range is not null then t.num < (c.range->>0)::numeric or t.num > (c.range->>1)::numeric
        when c.cats is not null and t.present is not null then not (c.cats ? (c.v#>>'{}'))
        else false
      end as outlier
  ) x
  where jsonb_typeof(i.rec) = 'object'`);

/**
 * The model's numeric predictions in each answered request (alias l, bounds b): the score
 * output's rows read as scoresOf in the drift job reads them — a number, a row's first value
 * (a regressor), or the last value of a probability row of at most two classes.
 */
const SCORE_SQL = sql.raw(`
  select count(s.v)::int as n, coalesce(sum(s.v), 0)::float8 as total, coalesce(sum(s.v * s.v), 0)::float8 as squares
  from jsonb_array_elements(
    case when l.status = 'ok' and b.bounds ? 'score' and jsonb_typeof(l.outputs->(b.bounds->'score'->>'output')) = 'array'
      then l.outputs->(b.bounds->'score'->>'output') else '[]'::jsonb end
  ) o(r)
  cross join lateral (
    select case
      when jsonb_typeof(o.r) = 'number' then (o.r#>>'{}')::float8
      when jsonb_typeof(o.r) <> 'array' then null
      when b.bounds->'score'->>'pick' = 'value' and jsonb_typeof(o.r->0) = 'number' then (o.r->>0)::float8
      when b.bounds->'score'->>'pick' = 'proba' and jsonb_array_length(o.r) <= 2 and jsonb_typeof(o.r->-1) = 'number' then (o.r->>-1)::float8
    end as v
  ) s`);

/**
 * Rolls one deployment's log in [from, upTo) into whole-minute rollups (an upsert of each
 * minute, so running it again over the same minutes changes nothing).
 */
async function rollUpRange(deploymentId: string, from: Date, upTo: Date) {
  const r = await getDb().execute(sql`
    insert into prediction_rollups (deployment_id, workspace_id, model_version_id, role, minute, requests, errors, rows, latency_sum_ms, latency_buckets, checked, outliers, incomplete,
      predictions, prediction_sum, prediction_sq_sum)
    select l.deployment_id, l.workspace_id, l.model_version_id, l.role, date_trunc('minute', l.at), count(*)::int, (count(*) filter (where l.status = 'error'))::int,
      sum(l.rows)::int, sum(l.latency_ms), ${BUCKETS_SQL},
      (count(*) filter (where q.checked))::int, (count(*) filter (where q.checked and q.outlier))::int, (count(*) filter (where q.checked and q.missing))::int,
      sum(p.n)::int, sum(p.total), sum(p.squares)
    from prediction_logs l
    left join reference_bounds b on b.deployment_id = l.deployment_id
    cross join lateral (${CHECK_SQL}) q
    cross join lateral (${SCORE_SQL}) p
    where l.deployment_id = ${deploymentId} and l.at >= ${from.toISOString()}::timestamptz and l.at < ${upTo.toISOString()}::timestamptz
    group by 1, 2, 3, 4, 5
    on conflict (deployment_id, model_version_id, role, minute) do update set
      requests = excluded.requests, errors = excluded.errors, rows = excluded.rows, latency_sum_ms = excluded.latency_sum_ms, latency_buckets = excluded.latency_buckets,
      checked = excluded.checked, outliers = excluded.outliers, incomplete = excluded.incomplete,
      predictions = excluded.predictions, prediction_sum = excluded.prediction_sum, prediction_sq_sum = excluded.prediction_sq_sum`);
  return r.count ?? 0;
}

/**
 * Rolls up again the minutes already rolled up, from `from`: after the drift job stores new
 * bounds (the first for a deployment, or a new reference), the charts' outlier and
 * missing-input shares of the last day are those of the new reference, not zeros.
 */
export async function recheckInputs(deploymentId: string, from: Date) {
  const [w] = await getDb().select().from(monitoringWatermarks).where(eq(monitoringWatermarks.deploymentId, deploymentId));
  return { minutes: w ? await rollUpRange(deploymentId, from, w.rolledUpTo) : 0 };
}

/** Rolls up every deployment's log to the last closed minute. Idempotent. */
export async function rollUpAll(now = new Date()) {
  const db = getDb();
  const upTo = new Date(Math.floor(now.getTime() / 60_000) * 60_000);
  const list = await db.select({ id: deployments.id, workspaceId: deployments.workspaceId }).from(deployments);
  let rows = 0;
  for (const d of list) {
    const [w] = await db.select().from(monitoringWatermarks).where(eq(monitoringWatermarks.deploymentId, d.id));
    const from = new Date((w?.rolledUpTo ?? new Date(upTo.getTime() - 24 * 3600_000)).getTime() - LATE_MINUTES * 60_000);
    const count = await rollUpRange(d.id, from, upTo);
    rows += count;
    await db
      .insert(monitoringWatermarks)
      .values({ deploymentId: d.id, rolledUpTo: upTo })
      .onConflictDoUpdate({ target: monitoringWatermarks.deploymentId, set: { rolledUpTo: upTo, updatedAt: new Date() } });
    if (count > 0) publish.toWorkspace(d.workspaceId, "monitoring.updated", { workspaceId: d.workspaceId, deploymentId: d.id });
  }
  return { deployments: list.length, rows };
}

const MINUTES: Record<Range, number> = { "15m": 15, "1h": 60, "6h": 360, "24h": 1440, "7d": 10080, "30d": 43200 };
/** Minutes per chart point for a range: at most ~180 points. */
const stepFor = (minutes: number) => (minutes <= 60 ? 1 : minutes <= 360 ? 5 : minutes <= 1440 ? 15 : minutes <= 10080 ? 60 : 240);

/** The actor's workspace's deployment of that name, or NOT_FOUND naming it. */
export async function deploymentByName(actor: WorkspaceActor, name: string) {
  const [d] = await getDb()
    .select()
    .from(deployments)
    .where(and(eq(deployments.workspaceId, actor.workspaceId), eq(deployments.name, name)));
  if (!d) throw new AppError("NOT_FOUND", `There is no deployment "${name}" in this workspace.`, { field: "name" });
  return d;
}

/** Traffic, errors and latency over a range, per version and role, from the rollups. */
export async function traffic(actor: WorkspaceActor, name: string, range: Range) {
  const d = await deploymentByName(actor, name);
  const minutes = MINUTES[range];
  const step = stepFor(minutes);
  const since = new Date(Date.now() - minutes * 60_000);
  const rows = await getDb()
    .select({
      minute: predictionRollups.minute,
      version: modelVersions.version,
      role: predictionRollups.role,
      requests: predictionRollups.requests,
      errors: predictionRollups.errors,
      latencySumMs: predictionRollups.latencySumMs,
      buckets: predictionRollups.latencyBuckets,
      checked: predictionRollups.checked,
      outliers: predictionRollups.outliers,
      incomplete: predictionRollups.incomplete,
      predictions: predictionRollups.predictions,
      predictionSum: predictionRollups.predictionSum,
    })
    .from(predictionRollups)
    .innerJoin(modelVersions, eq(modelVersions.id, predictionRollups.modelVersionId))
    .where(and(eq(predictionRollups.deploymentId, d.id), gte(predictionRollups.minute, since)))
    .orderBy(asc(predictionRollups.minute));
  const [w] = await getDb().select().from(monitoringWatermarks).where(eq(monitoringWatermarks.deploymentId, d.id));
  // Deployment events (deploys, traffic changes, rollbacks) in the range, to mark on the time axis.
  const events = await getDb()
    .select({ at: deploymentEvents.at, kind: deploymentEvents.kind, summary: deploymentEvents.summary })
    .from(deploymentEvents)
    .where(and(eq(deploymentEvents.deploymentId, d.id), gte(deploymentEvents.at, since)))
    .orderBy(asc(deploymentEvents.at))
    .limit(50);
  // Zeros where a version served nothing, gaps where there is no data (see traffic-series.ts).
  const from = new Date(Math.max(since.getTime(), Math.min(d.createdAt.getTime(), rows[0]?.minute.getTime() ?? Infinity)));
  const series = shapeTrafficSeries(rows, { from, rolledUpTo: w?.rolledUpTo ?? null, stepMinutes: step });
  const times = [...new Set(series.flatMap((s) => s.points.filter((p) => p.requests > 0).map((p) => p.t)))].sort((a, b) => a - b);
  return {
    deploymentId: d.id,
    bands: await expectedBands(d, times, step),
    events: events.map((e) => ({ ...e, t: Math.floor(e.at.getTime() / (step * 60_000)) * step * 60_000 })),
    range,
    stepMinutes: step,
    rolledUpTo: w?.rolledUpTo ?? null,
    series,
  };
}

/** Band points drawn per chart at most (each costs two indexed reads per window length). */
const BAND_POINTS = 40;

/**
 * The expected band of each enabled anomaly rule at the chart's points (at most BAND_POINTS,
 * evenly spread): what the worker would have judged normal for the rule's window ending there.
 */
async function expectedBands(d: { id: string; name: string }, times: number[], step: number) {
  const rules = await getDb()
    .select({ name: alertRules.name, metric: alertRules.metric, windowMinutes: alertRules.windowMinutes, sensitivity: alertRules.sensitivity })
    .from(alertRules)
    .where(and(eq(alertRules.deploymentId, d.id), eq(alertRules.kind, "anomaly"), eq(alertRules.enabled, true)))
    .orderBy(asc(alertRules.createdAt));
  const anomaly = rules.flatMap((r) => (isAnomalyMetric(r.metric) ? [{ ...r, metric: r.metric, sensitivity: r.sensitivity ?? "medium" }] : []));
  if (!anomaly.length || !times.length) return [];
  const every = Math.max(1, Math.ceil(times.length / BAND_POINTS));
  const at = times.filter((_, i) => i % every === 0 || i === times.length - 1);
  const points = new Map(anomaly.map((r) => [r, [] as { t: number; low: number; high: number }[]]));
  for (const windowMinutes of new Set(anomaly.map((r) => r.windowMinutes))) {
    const group = anomaly.filter((r) => r.windowMinutes === windowMinutes);
    for (const t of at) {
      const verdicts = await anomalyVerdicts(d.id, windowMinutes, group, new Date(t + step * 60_000), d.name);
      verdicts.forEach((v, i) => {
        if (v.status === "ok") points.get(group[i]!)!.push({ t, low: v.band.low, high: v.band.high });
      });
    }
  }
  return anomaly.map((r) => ({ rule: r.name, metric: r.metric, sensitivity: r.sensitivity, windowMinutes: r.windowMinutes, points: points.get(r)! }));
}

/** Drift now (ops and admins) instead of at the next 10-minute slot: a job for the worker, audited. */
export async function requestDrift(actor: WorkspaceActor, input: { name: string; windowMinutes: number }, meta: RequestMeta = {}) {
  const d = await deploymentByName(actor, input.name);
  await mutate(
    actor,
    async (tx, audit) => {
      await enqueue(tx, monitoringDrift, { windowMinutes: input.windowMinutes, deploymentId: d.id });
      audit({
        action: "monitoring.drift_requested",
        target: { type: "deployment", id: d.id },
        metadata: { name: input.name, windowMinutes: input.windowMinutes },
      });
    },
    meta,
  );
  return { queued: true };
}

/**
 * Resource use beside the traffic: for the replicas that served this deployment in the
 * range, CPU, memory and requests in flight per step; and the deployment's batch sizes.
 */
export async function resources(actor: WorkspaceActor, name: string, range: Range) {
  const d = await deploymentByName(actor, name);
  const minutes = MINUTES[range];
  const step = stepFor(minutes);
  const since = new Date(Date.now() - minutes * 60_000).toISOString();
  const bin = sql.raw(`date_bin(interval '${step} minutes', minute, timestamptz '2000-01-01')`);
  const db = getDb();
  const batches = await db.execute<{ t: Date; runs: number; rows: number; max_rows: number; requests: number }>(sql`
    select ${bin} as t, sum(runs)::int as runs, sum(rows)::int as rows, max(max_rows)::int as max_rows, sum(requests)::int as requests
    from ${batchMinutes} where deployment_id = ${d.id} and minute >= ${since}::timestamptz group by 1 order by 1`);
  const replicas = await db.execute<{
    replica: string;
    t: Date;
    cpu: number;
    cpu_max: number;
    rss: number;
    in_flight: number;
    in_flight_max: number;
    lag: number;
    requests: number;
  }>(sql`
    select replica, ${bin} as t, avg(cpu_pct)::float8 as cpu, max(cpu_max_pct)::float8 as cpu_max, max(rss_bytes)::float8 as rss, avg(in_flight_avg)::float8 as in_flight,
      max(in_flight_max)::int as in_flight_max, max(loop_lag_ms)::float8 as lag, sum(requests)::int as requests
    from ${replicaMinutes}
    where minute >= ${since}::timestamptz and replica in (select distinct replica from ${batchMinutes} where deployment_id = ${d.id} and minute >= ${since}::timestamptz)
    group by 1, 2 order by 1, 2`);
  const byReplica = new Map<
    string,
    { t: number; cpuPct: number; cpuMaxPct: number; rssMb: number; inFlightAvg: number; inFlightMax: number; loopLagMs: number; requests: number }[]
  >();
  for (const r of replicas) {
    const list = byReplica.get(r.replica) ?? [];
    list.push({
      t: new Date(r.t).getTime(),
      cpuPct: r.cpu,
      cpuMaxPct: r.cpu_max,
      rssMb: r.rss / 2 ** 20,
      inFlightAvg: r.in_flight,
      inFlightMax: r.in_flight_max,
      loopLagMs: r.lag,
      requests: r.requests,
    });
    byReplica.set(r.replica, list);
  }
  return {
    stepMinutes: step,
    replicas: [...byReplica].map(([replica, points]) => ({ replica, points })),
    batches: [...batches].map((b) => ({
      t: new Date(b.t).getTime(),
      runs: b.runs,
      meanRows: b.runs ? b.rows / b.runs : 0,
      maxRows: b.max_rows,
      requests: b.requests,
    })),
  };
}

/** Replica and batch minutes past the longest dashboard range (30 days) are removed. */
export async function pruneResourceMinutes(now = new Date()) {
  const before = new Date(now.getTime() - 31 * 24 * 3600_000);
  const db = getDb();
  const a = await db.delete(replicaMinutes).where(lt(replicaMinutes.minute, before));
  const b = await db.delete(batchMinutes).where(lt(batchMinutes.minute, before));
  return (a.count ?? 0) + (b.count ?? 0);
}

/** The latest drift result of a deployment, and the history of its maximum severity per feature. */
export async function drift(actor: WorkspaceActor, name: string) {
  const d = await deploymentByName(actor, name);
  const history = await getDb().select().from(driftResults).where(eq(driftResults.deploymentId, d.id)).orderBy(desc(driftResults.windowEnd)).limit(48);
  const latest = history[0] ?? null;
  return {
    latest,
    /** The deployment's choice of reference (applies from the next computation). */
    referenceSetting: d.settings.driftReference ?? { kind: "lineage" as const },
    heatmap: history
      .slice()
      .reverse()
      .map((h) => ({
        windowEnd: h.windowEnd,
        features: (h.features as { feature: string; status: string; psi?: number }[]).map((f) => ({
          feature: f.feature,
          psi: f.status === "ok" ? (f.psi ?? null) : null,
        })),
      })),
  };
}

/** Every deployment's health at a glance (last 15 minutes, latest drift, open alerts): a handful of queries, however many deployments. */
export async function overview(actor: WorkspaceActor) {
  const db = getDb();
  const ws = actor.workspaceId;
  const since = new Date(Date.now() - 15 * 60_000);
  const [list, rollups, drifts, labels, incidents, marks] = await Promise.all([
    db
      .select({ d: deployments, model: models.name })
      .from(deployments)
      .innerJoin(models, eq(models.id, deployments.modelId))
      .where(eq(deployments.workspaceId, ws))
      .orderBy(deployments.name),
    db
      .select({
        deploymentId: predictionRollups.deploymentId,
        requests: predictionRollups.requests,
        errors: predictionRollups.errors,
        buckets: predictionRollups.latencyBuckets,
      })
      .from(predictionRollups)
      .where(and(eq(predictionRollups.workspaceId, ws), gte(predictionRollups.minute, since), ne(predictionRollups.role, "shadow"))),
    db
      .selectDistinctOn([driftResults.deploymentId], {
        deploymentId: driftResults.deploymentId,
        maxSeverity: driftResults.maxSeverity,
        windowEnd: driftResults.windowEnd,
      })
      .from(driftResults)
      .where(eq(driftResults.workspaceId, ws))
      .orderBy(driftResults.deploymentId, desc(driftResults.windowEnd)),
    db
      .select({ deploymentId: predictionFeedback.deploymentId, n: sql<number>`count(*)::int` })
      .from(predictionFeedback)
      .where(and(eq(predictionFeedback.workspaceId, ws), gte(predictionFeedback.at, since)))
      .groupBy(predictionFeedback.deploymentId),
    db
      .select({ deploymentId: alertIncidents.deploymentId, status: alertIncidents.status, n: sql<number>`count(*)::int` })
      .from(alertIncidents)
      .where(and(eq(alertIncidents.workspaceId, ws), ne(alertIncidents.status, "resolved")))
      .groupBy(alertIncidents.deploymentId, alertIncidents.status),
    db
      .select({ deploymentId: monitoringWatermarks.deploymentId, rolledUpTo: monitoringWatermarks.rolledUpTo })
      .from(monitoringWatermarks)
      .innerJoin(deployments, eq(deployments.id, monitoringWatermarks.deploymentId))
      .where(eq(deployments.workspaceId, ws)),
  ]);
  return list.map(({ d, model }) => {
    const rows = rollups.filter((r) => r.deploymentId === d.id);
    const requests = rows.reduce((a, r) => a + r.requests, 0);
    const errors = rows.reduce((a, r) => a + r.errors, 0);
    const buckets = emptyBuckets();
    for (const r of rows) r.buckets.forEach((c, i) => (buckets[i]! += c));
    const last = drifts.find((x) => x.deploymentId === d.id);
    // The rate over the minutes rolled up so far, not over 15 minutes of which the last are not rolled up yet.
    const rolledUpTo = marks.find((m) => m.deploymentId === d.id)?.rolledUpTo ?? null;
    const seconds = rolledUpTo ? Math.min(900, Math.max(60, (rolledUpTo.getTime() - since.getTime()) / 1000)) : 900;
    const open = (status: string) => incidents.find((i) => i.deploymentId === d.id && i.status === status)?.n ?? 0;
    return {
      id: d.id,
      name: d.name,
      model,
      status: d.status,
      firing: open("firing"),
      acknowledged: open("acknowledged"),
      requests15m: requests,
      rps: requests / seconds,
      rolledUpTo,
      errorRate: requests ? errors / requests : 0,
      p95: bucketQuantile(buckets, 0.95),
      drift: last?.maxSeverity ?? null,
      driftAt: last?.windowEnd ?? null,
      labels15m: labels.find((l) => l.deploymentId === d.id)?.n ?? 0,
    };
  });
}

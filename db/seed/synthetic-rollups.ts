import { sql } from "drizzle-orm";
import { getDb } from "~/db/client";

/**
 * Minute rollups of a deployment's primary for `days` before `now` (ms, exclusive), written
 * in one statement: busier by day than by night (a daily sine), minute-to-minute noise,
 * ~1% errors, and a stable latency histogram (60% ≤ 5 ms, 35% ≤ 10 ms, 5% ≤ 25 ms); every
 * request checked against the reference, ~1% with an input outlier and ~0.5% with a missing
 * input; the model's mean score 0.30 (±0.03 a minute, spread 0.15). The
 * noise is keyed on each minute's distance from `now`, so the same `now` gives the same
 * rows. For the anomaly tests and bench/monitoring's false-alert count.
 */
export async function seedSyntheticRollups(d: { id: string; workspaceId: string; primaryVersionId: string }, now: number, days: number) {
  const MIN = 60_000;
  await getDb().execute(sql`
    insert into prediction_rollups (deployment_id, workspace_id, model_version_id, role, minute, requests, errors, rows, latency_sum_ms, latency_buckets, checked, outliers, incomplete,
      predictions, prediction_sum, prediction_sq_sum)
    select ${d.id}, ${d.workspaceId}, ${d.primaryVersionId}, 'primary', m, req, err, req, req * 4.0,
           array[0, 0, req - ceil(req * 0.35)::int - ceil(req * 0.05)::int, ceil(req * 0.35)::int, ceil(req * 0.05)::int, 0, 0, 0, 0, 0, 0, 0],
           req - err, outl, miss,
           -- scores with mean 0.30 ± noise and a spread of 0.15 (sum of squares = n (sd² + mean²))
           req - err, (req - err) * sm, (req - err) * (0.0225 + sm * sm)
    from (
      select m,
             (30 + round(15 * sin(2 * pi() * extract(epoch from m)::float8 / 86400)) + abs(hashtext(k::text)) % 7)::int as req,
             (case when abs(hashtext('e' || k::text)) % 100 < 30 then 1 else 0 end)::int as err,
             (case when abs(hashtext('o' || k::text)) % 100 < 40 then 1 else 0 end)::int as outl,
             (case when abs(hashtext('m' || k::text)) % 100 < 20 then 1 else 0 end)::int as miss,
             0.30 + ((abs(hashtext('s' || k::text)) % 1000) / 1000.0 - 0.5) * 0.06 as sm
      from generate_series(${new Date(now - days * 86_400_000).toISOString()}::timestamptz, ${new Date(now - MIN).toISOString()}::timestamptz, interval '1 minute') as m
      cross join lateral (select round((${now} - extract(epoch from m) * 1000) / ${MIN})::bigint as k) kk
    ) g`);
}

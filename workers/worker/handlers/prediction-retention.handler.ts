import { sql } from "drizzle-orm";
import { getDb } from "~/db/client";
import { pruneResourceMinutes } from "~/server/monitoring/monitoring.service";
import { applyPredictionRetention } from "~/server/serving/retention.service";

/** Scheduled hourly: the coming week's partitions exist; logs past each workspace's retention are gone, and replica figures past the 30-day dashboards. */
export async function handlePredictionRetention() {
  await getDb().execute(sql`select steward_ensure_prediction_partitions(7)`);
  const r = await applyPredictionRetention();
  await pruneResourceMinutes();
  const n = r.purged.reduce((a, p) => a + p.predictions, 0);
  if (n || r.partitionsDropped.length)
    console.log(
      `[worker] prediction.retention: removed ${n} prediction log(s) in ${r.purged.length} workspace(s); dropped ${r.partitionsDropped.length} partition(s)`,
    );
}

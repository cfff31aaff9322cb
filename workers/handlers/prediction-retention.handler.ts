import { sql } from "drizzle-orm";
import { getDb } from "~/db/client";
import { applyPredictionRetention } from "~/server/serving/retention.service";

/** Scheduled hourly: the coming week's partitions exist; logs past each workspace's retention are gone. */
export async function handlePredictionRetention() {
  await getDb().execute(sql`select steward_ensure_prediction_partitions(7)`);
  const r = await applyPredictionRetention();
  const n = r.purged.reduce((a, p) => a + p.predictions, 0);
  if (n || r.partitionsDropped.length) console.log(`[worker] prediction.retention: removed ${n} prediction log(s) in ${r.purged.length} workspace(s); dropped ${r.partitionsDropped.length} partition(s)`);
}

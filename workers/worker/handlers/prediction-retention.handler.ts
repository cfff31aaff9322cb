import { sql } from "drizzle-orm";
import { getDb } from "~/db/client";
import { pruneResourceMinutes } from "~/server/monitoring/monitoring.service";
import { pruneWebhookHistory } from "~/server/monitoring/webhooks.service";
import { applyPredictionRetention } from "~/server/serving/retention.service";

/** Scheduled hourly: the coming week's partitions exist; logs past each workspace's retention are gone, replica figures past the 30-day dashboards, and finished webhook deliveries past 30 days. */
export async function handlePredictionRetention() {
  await getDb().execute(sql`select steward_ensure_prediction_partitions(7)`);
  const r = await applyPredictionRetention();
  await pruneResourceMinutes();
  await pruneWebhookHistory();
  const n = r.purged.reduce((a, p) => a + p.predictions, 0);
  if (n || r.partitionsDropped.length)
    console.log(
      `[worker] prediction.retention: removed ${n} prediction log(s) in ${r.purged.length} workspace(s); dropped ${r.partitionsDropped.length} partition(s)`,
    );
}

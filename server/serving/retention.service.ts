import { sql } from "drizzle-orm";
import { getDb } from "~/db/client";
import { predictionFeedback, predictionLogs, workspaces } from "~/db/schema";
import type { SystemActor } from "~/server/audit/actor";
import { mutate } from "~/server/audit/mutate";
import { retentionFloor } from "~/server/shared/frameworks";

/*
 * Prediction logs are kept for the workspace's retention (workspaces.prediction_retention_days)
 * and then removed, with ground truth of the same age. Whole daily partitions older than
 * every workspace's retention are dropped (no scan, no bloat); rows of workspaces with a
 * shorter retention are deleted from the newer partitions. Each workspace's removal is one
 * transaction with its audit event (how many, up to when). Audit events are never removed.
 */

const DAY_MS = 86_400_000;
const ACTOR: SystemActor = { type: "system", job: "prediction-retention" };

type Purged = { workspaceId: string; predictions: number; feedback: number; before: Date };

/** Daily partitions whose whole day lies before `cutoff`. */
async function partitionsBefore(cutoff: Date) {
  const rows = await getDb().execute<{ name: string; day: string }>(sql`
    select c.relname as name, substring(c.relname from 'prediction_logs_([0-9]{8})$') as day
    from pg_inherits i join pg_class c on c.oid = i.inhrelid join pg_class p on p.oid = i.inhparent
    where p.relname = 'prediction_logs' and c.relname ~ '^prediction_logs_[0-9]{8}$'`);
  return rows
    .map((r) => ({ name: r.name, end: new Date(Date.UTC(+r.day.slice(0, 4), +r.day.slice(4, 6) - 1, +r.day.slice(6, 8)) + DAY_MS) }))
    .filter((p) => p.end.getTime() <= cutoff.getTime())
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Removes prediction logs and feedback older than each workspace's retention. Idempotent. */
export async function applyPredictionRetention(now = new Date()): Promise<{ partitionsDropped: string[]; purged: Purged[] }> {
  const db = getDb();
  // Never below the floor of a framework the workspace enabled, even if the setting was changed behind the service's back.
  const all = (await db.select({ id: workspaces.id, days: workspaces.predictionRetentionDays, frameworks: workspaces.frameworks }).from(workspaces)).map(
    (w) => ({
      id: w.id,
      days: Math.max(w.days, retentionFloor(w.frameworks)?.days ?? 0),
    }),
  );
  if (!all.length) return { partitionsDropped: [], purged: [] };
  const totals = new Map<string, Purged>();
  const add = (workspaceId: string, before: Date, predictions: number, feedback: number) => {
    const t = totals.get(workspaceId) ?? { workspaceId, predictions: 0, feedback: 0, before };
    t.predictions += predictions;
    t.feedback += feedback;
    totals.set(workspaceId, t);
  };
  const cutoffOf = (days: number) => new Date(now.getTime() - days * DAY_MS);
  const cutoffs = new Map(all.map((w) => [w.id, cutoffOf(w.days)]));

  // 1. Partitions older than the longest retention: counted per workspace, audited, dropped.
  const oldest = cutoffOf(Math.max(...all.map((w) => w.days)));
  const dropped: string[] = [];
  for (const p of await partitionsBefore(oldest)) {
    const counts = await db.execute<{ workspace_id: string; n: string }>(
      sql`select workspace_id, count(*)::text as n from ${sql.identifier(p.name)} group by 1`,
    );
    // A partition holding no rows of a known workspace is dropped without an event.
    await mutate(
      ACTOR,
      async (tx, audit) => {
        for (const c of counts) {
          if (!cutoffs.has(c.workspace_id)) continue;
          audit({
            action: "prediction_logs.purged",
            target: { type: "workspace", id: c.workspace_id },
            workspaceId: c.workspace_id,
            metadata: { predictions: Number(c.n), feedback: 0, before: cutoffs.get(c.workspace_id)!.toISOString(), partition: p.name },
          });
          add(c.workspace_id, cutoffs.get(c.workspace_id)!, Number(c.n), 0);
        }
        await tx.execute(sql`drop table if exists ${sql.identifier(p.name)}`);
      },
      {},
      { eventOptional: true },
    );
    dropped.push(p.name);
  }

  // 2. Per workspace: rows (and ground truth) older than its own retention.
  for (const w of all) {
    const before = cutoffs.get(w.id)!;
    await mutate(
      ACTOR,
      async (tx, audit) => {
        const [logs] = await tx.execute<{ n: number }>(
          sql`with d as (delete from ${predictionLogs} where ${predictionLogs.workspaceId} = ${w.id} and ${predictionLogs.at} < ${before.toISOString()}::timestamptz returning 1) select count(*)::int as n from d`,
        );
        const [fb] = await tx.execute<{ n: number }>(
          sql`with d as (delete from ${predictionFeedback} where ${predictionFeedback.workspaceId} = ${w.id} and ${predictionFeedback.at} < ${before.toISOString()}::timestamptz returning 1) select count(*)::int as n from d`,
        );
        if (!logs!.n && !fb!.n) return;
        // The removal and its audit event commit together (or neither does).
        audit({
          action: "prediction_logs.purged",
          target: { type: "workspace", id: w.id },
          workspaceId: w.id,
          metadata: { predictions: logs!.n, feedback: fb!.n, before: before.toISOString(), retentionDays: w.days },
        });
        add(w.id, before, logs!.n, fb!.n);
      },
      {},
      { eventOptional: true },
    );
  }
  return { partitionsDropped: dropped, purged: [...totals.values()] };
}

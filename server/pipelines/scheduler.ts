import "server-only";
import cronParser from "cron-parser";
import { isNotNull } from "drizzle-orm";
import { getDb } from "~/db/client";
import { pipelines } from "~/db/schema";
import { startSystemRun } from "./runs.service";

/** How late a slot may still start (a worker restarting after a short outage catches up). */
const CATCH_UP_MS = 5 * 60_000;

/**
 * Starts scheduled pipelines whose latest cron slot has not run yet. Every worker ticks;
 * the unique (pipeline, slot) index lets exactly one of them start each slot.
 */
export async function tickSchedules(now = new Date()) {
  const list = await getDb().select().from(pipelines).where(isNotNull(pipelines.schedule));
  const started: string[] = [];
  for (const p of list) {
    let slot: Date;
    try {
      slot = cronParser
        .parseExpression(p.schedule!, { currentDate: new Date(now.getTime() + 1), tz: "UTC" })
        .prev()
        .toDate();
    } catch {
      continue; // validated on save; an unparsable leftover is ignored
    }
    if (now.getTime() - slot.getTime() > CATCH_UP_MS || slot < p.updatedAt) continue;
    const run = await startSystemRun(
      { type: "system", job: "scheduler", workspaceId: p.workspaceId },
      { pipelineId: p.id, trigger: "schedule", triggerRef: slot.toISOString() },
    );
    if (run) started.push(run.id);
  }
  return started;
}

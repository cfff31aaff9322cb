import type { Job } from "pg-boss";
import { systemHeartbeat } from "~/server/jobs/definitions";
import { recordHeartbeat } from "~/server/system/heartbeat.service";

export async function handleHeartbeat(jobs: Job<unknown>[]) {
  for (const job of jobs) {
    const data = systemHeartbeat.schema.parse(job.data);
    await recordHeartbeat({ ...data, startedAt: new Date(data.startedAt) });
  }
}

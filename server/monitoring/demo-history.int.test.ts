import { and, eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "~/db/client";
import { deployments, driftResults, performanceWindows, predictionLogs, predictionRollups } from "~/db/schema";
import { seedCreditDemo } from "~/db/seed/credit-demo";
import { createWorkspace } from "~/db/seed/factories";
import { seedMonitoringHistory } from "~/db/seed/monitoring-history";
import { computeDriftAll } from "~/workers/worker/monitoring/drift-job";

describe("the demo's monitoring history", () => {
  it("is a day of the served model's own answers, rolled up, with labels, and drifting only in its last hours", async () => {
    const { workspace, owner } = await createWorkspace();
    const { served } = await seedCreditDemo(owner.wsActor);
    // Traffic follows the clock (2 requests a minute at 03:00 UTC, 8 at 15:00), and an hour of
    // night traffic is too few rows for "age has not moved" to hold by PSI alone: pin the hour.
    const now = new Date(Math.floor((Date.now() - 15 * 3600_000) / 86_400_000) * 86_400_000 + 15 * 3600_000);
    const seeded = await seedMonitoringHistory(workspace.id, served, now);
    expect(seeded.predictions).toBeGreaterThan(24 * 60 * 2);
    const [d] = await getDb().select().from(deployments).where(eq(deployments.workspaceId, workspace.id));
    const [all] = await getDb()
      .select({ n: sql<number>`count(*)::int` })
      .from(predictionLogs)
      .where(eq(predictionLogs.deploymentId, d!.id));
    expect(all!.n).toBe(seeded.predictions);
    // Every closed minute is in the rollups.
    const [rolled] = await getDb()
      .select({ rolled: sql<number>`coalesce(sum(requests), 0)::int` })
      .from(predictionRollups)
      .where(eq(predictionRollups.deploymentId, d!.id));
    const [closed] = await getDb()
      .select({ closed: sql<number>`count(*)::int` })
      .from(predictionLogs)
      .where(
        and(
          eq(predictionLogs.deploymentId, d!.id),
          sql`${predictionLogs.at} < ${new Date(Math.floor(now.getTime() / 60_000) * 60_000).toISOString()}::timestamptz`,
        ),
      );
    expect(rolled!.rolled).toBe(closed!.closed);
    // Labels for about 80% of what is older than half an hour.
    const perf = await getDb().select().from(performanceWindows).where(eq(performanceWindows.deploymentId, d!.id));
    expect(perf.length).toBeGreaterThanOrEqual(23);
    const early = perf.filter((w) => w.windowStart.getTime() < now.getTime() - 8 * 3600_000);
    // A day of history: at least the 15 full hours before the last eight (an empty list must not pass).
    expect(early.length).toBeGreaterThanOrEqual(15);
    for (const w of early) expect(w.labeled / w.predictions).toBeGreaterThan(0.65);

    // Twelve hours ago nothing had drifted, and the logged scores are the model's own: its run
    // over the training data (onnxruntime, in the drift job) gives the same distribution.
    await computeDriftAll(new Date(now.getTime() - 12 * 3600_000), 60, d!.id);
    // In the last hour incomes and debt ratios have moved.
    await computeDriftAll(now, 60, d!.id);
    const results = await getDb().select().from(driftResults).where(eq(driftResults.deploymentId, d!.id)).orderBy(driftResults.windowEnd);
    const [before, after] = results.map((r) => ({
      features: r.features as { feature: string; severity: string }[],
      prediction: r.predictionDrift as { severity: string; psi: number },
    }));
    expect(before!.features.every((f) => f.severity === "none")).toBe(true);
    expect(before!.prediction).toMatchObject({ severity: "none" });
    expect(after!.features.find((f) => f.feature === "income_k")!.severity).toBe("major");
    expect(after!.features.find((f) => f.feature === "age")!.severity).toBe("none");
  });
});

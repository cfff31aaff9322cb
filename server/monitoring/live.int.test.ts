import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb, getSql } from "~/db/client";
import { batchMinutes, replicaMinutes } from "~/db/schema";
import { servedCredit } from "~/test/monitoring";
import type { LiveTick } from "~/server/shared/rooms";
import { CHANNELS } from "~/server/platform/channels";
import { bucketQuantile } from "~/server/shared/latency";
import { callerFor } from "~/test/helpers";
import { LiveStats } from "~/workers/inference/live-stats";
import { pruneResourceMinutes } from "./monitoring.service";

/** Live ticks as the web replicas' socket.io adapter receives them: broadcasts on its NOTIFY channel. */
async function listenTicks(workspaceId: string) {
  const ticks: LiveTick[] = [];
  const waiters: (() => void)[] = [];
  const listener = await getSql().listen(CHANNELS.realtime, (payload) => {
    const m = JSON.parse(payload) as { type: number; data: { packet: { data: [string, LiveTick] }; opts: { rooms: string[] } } };
    // Other test files' inference servers tick for their own workspaces on the same channel.
    if (m.type !== 3 || m.data.packet.data[0] !== "monitoring.live" || m.data.packet.data[1].workspaceId !== workspaceId) return;
    expect(m.data.opts.rooms).toEqual([`live:${workspaceId}`]);
    ticks.push(m.data.packet.data[1]);
    waiters.splice(0).forEach((w) => w());
  });
  const next = (n: number) =>
    new Promise<void>((resolve) => {
      const check = () => (ticks.length >= n ? resolve() : waiters.push(check));
      check();
    });
  return { ticks, next, stop: () => listener.unlisten() };
}

describe("live monitoring: per-second ticks and per-minute resource use", () => {
  it("sends each second's counts, latency buckets, batches and replica resources to the workspace's live room, and writes the minute", async () => {
    const { workspace, owner, d } = await servedCredit();
    const dep = { id: d.id, workspaceId: workspace.id };
    const replica = `test-${d.id.slice(0, 8)}`;
    const stats = new LiveStats(replica, () => 3);
    const feed = await listenTicks(workspace.id);
    try {
      const minute = Math.floor(Date.now() / 60_000) * 60_000 - 120_000; // two minutes ago, closed
      // One second: 40 primary requests (2 failed), 5 canary, 3 shadow; 4 runs of 10 rows.
      for (let i = 0; i < 40; i++) stats.request(dep, 1, "primary", i >= 2, i < 20 ? 0.8 : 30);
      for (let i = 0; i < 5; i++) stats.request(dep, 2, "canary", true, 3);
      for (let i = 0; i < 3; i++) stats.request(dep, 2, "shadow", true, 4);
      for (let i = 0; i < 4; i++) stats.batch(dep, 10);
      stats.begin();
      stats.begin();
      stats.end();
      await stats.tick(minute + 1500);
      await feed.next(1);
      const [tick] = feed.ticks;
      expect(tick).toMatchObject({ workspaceId: workspace.id, t: minute + 1000, replica: { id: replica, inFlight: 1, inFlightRuns: 3 } });
      expect(tick!.replica.rssBytes).toBeGreaterThan(10 * 2 ** 20);
      expect(tick!.replica.cpuPct).toBeGreaterThanOrEqual(0);
      const mine = tick!.deployments.find((x) => x.id === d.id)!;
      expect(mine).toMatchObject({ runs: 4, rows: 40, maxRows: 10 });
      const primary = mine.series.find((s) => s.key === "v1 primary")!;
      expect(primary).toMatchObject({ requests: 40, errors: 2 });
      expect(primary.buckets[0]).toBe(20); // ≤ 1 ms
      expect(bucketQuantile(primary.buckets, 0.99)).toBeGreaterThan(25); // the 30 ms half, in the 25–50 ms bucket
      expect(mine.series.map((s) => s.key).sort()).toEqual(["v1 primary", "v2 canary", "v2 shadow"]);

      // A quiet second still ticks (charts fall to zero), without the deployment's counts.
      await stats.tick(minute + 2500);
      await feed.next(2);
      expect(feed.ticks[1]!.deployments).toEqual([]);

      // The next minute: the closed one is written once, per replica and per deployment.
      await stats.tick(minute + 60_500);
      const [row] = await getDb().select().from(replicaMinutes).where(eq(replicaMinutes.replica, replica));
      expect(row).toMatchObject({ minute: new Date(minute), requests: 48, inFlightMax: 2 });
      const [b] = await getDb().select().from(batchMinutes).where(eq(batchMinutes.replica, replica));
      expect(b).toMatchObject({ deploymentId: d.id, runs: 4, rows: 40, maxRows: 10, requests: 48 });

      // The dashboard reads them for the range, for the replicas that served this deployment.
      const r = await callerFor(owner).monitoring.resources({ workspaceId: workspace.id, name: "credit-prod", range: "15m" });
      expect(r.replicas.map((x) => x.replica)).toEqual([replica]);
      expect(r.replicas[0]!.points[0]).toMatchObject({ t: minute, inFlightMax: 2, requests: 48 });
      expect(r.batches).toEqual([{ t: minute, runs: 4, meanRows: 10, maxRows: 10, requests: 48 }]);

      // Past 31 days they are removed.
      expect(await pruneResourceMinutes(new Date(minute + 32 * 24 * 3600_000))).toBeGreaterThanOrEqual(2);
      expect(await getDb().select().from(replicaMinutes).where(eq(replicaMinutes.replica, replica))).toEqual([]);
    } finally {
      await feed.stop();
      await stats.stop();
    }
  });
});

import { monitorEventLoopDelay } from "node:perf_hooks";
import { getDb } from "~/db/client";
import { batchMinutes, replicaMinutes } from "~/db/schema/monitoring";
import { bucketOf, emptyBuckets } from "~/server/shared/latency";
import { postgresEmitter } from "~/server/realtime/pg-emitter";
import { liveRoom, type LiveTick } from "~/server/shared/rooms";

/*
 * What dashboards show "live": every second this replica sends, per workspace, one
 * `monitoring.live` event (to the workspace's live room: the sockets that show a live
 * dashboard) with the last second of each deployment it served (requests,
 * errors and latency buckets per version and role, batch sizes) and its own resource use
 * (CPU, memory, requests in flight). It goes through the socket.io Postgres adapter's
 * NOTIFY channel, so it reaches every browser on every web replica about a second after
 * the fact — the per-minute rollups stay the record; this is the live edge.
 *
 * Every minute the same figures, summed, are written to replica_minutes and
 * batch_minutes, which the dashboards read for resource use over a time range.
 */

type Series = { requests: number; errors: number; buckets: number[] };
type DeploymentSecond = { workspaceId: string; series: Map<string, Series>; runs: number; rows: number; maxRows: number };
type DeploymentMinute = { runs: number; rows: number; maxRows: number; requests: number };

export class LiveStats {
  private second = new Map<string, DeploymentSecond>();
  private minute = new Map<string, DeploymentMinute>();
  private inFlightNow = 0;
  private peakInFlight = 0;
  private cpu = process.cpuUsage();
  private cpuAt = performance.now();
  private loop = monitorEventLoopDelay({ resolution: 5 });
  private minuteLoop = monitorEventLoopDelay({ resolution: 10 });
  private samples: { cpu: number; inFlight: number }[] = [];
  private minuteRequests = 0;
  private currentMinute: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** Workspaces that had traffic lately keep getting ticks (zeros) for a minute, so charts fall to 0. */
  private recent = new Map<string, number>();

  constructor(
    readonly replica: string,
    private inFlightRuns: () => number,
    /** The prediction log's counts since start: written, dropped (buffer full), waiting. */
    private logCounts: () => { written: number; dropped: number; buffered: number } = () => ({ written: 0, dropped: 0, buffered: 0 }),
  ) {}

  start(intervalMs = 1000) {
    this.loop.enable();
    this.minuteLoop.enable();
    this.timer = setInterval(() => void this.tick().catch((err: unknown) => console.error("[inference] live stats:", err)), intervalMs);
    this.timer.unref();
  }

  async stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.currentMinute !== null)
      await this.flushMinute(this.currentMinute).catch((err: unknown) => console.error("[inference] could not write replica stats:", err));
    this.loop.disable();
    this.minuteLoop.disable();
  }

  begin() {
    this.inFlightNow++;
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlightNow);
  }
  end() {
    this.inFlightNow--;
  }

  private deployment(id: string, workspaceId: string) {
    let d = this.second.get(id);
    if (!d) this.second.set(id, (d = { workspaceId, series: new Map(), runs: 0, rows: 0, maxRows: 0 }));
    return d;
  }

  /** One answered (or failed) request of a deployment's version in a role. */
  request(deployment: { id: string; workspaceId: string }, version: number, role: string, ok: boolean, ms: number) {
    const d = this.deployment(deployment.id, deployment.workspaceId);
    const key = `v${version} ${role}`;
    let s = d.series.get(key);
    if (!s) d.series.set(key, (s = { requests: 0, errors: 0, buckets: emptyBuckets() }));
    s.requests++;
    if (!ok) s.errors++;
    s.buckets[bucketOf(ms)]!++;
    const m = this.minuteOf(deployment.id);
    m.requests++;
    this.minuteRequests++;
  }

  /** One onnxruntime run of `rows` rows (a batch, or a single request). */
  batch(deployment: { id: string; workspaceId: string }, rows: number) {
    const d = this.deployment(deployment.id, deployment.workspaceId);
    d.runs++;
    d.rows += rows;
    d.maxRows = Math.max(d.maxRows, rows);
    const m = this.minuteOf(deployment.id);
    m.runs++;
    m.rows += rows;
    m.maxRows = Math.max(m.maxRows, rows);
  }

  private minuteOf(id: string) {
    let m = this.minute.get(id);
    if (!m) this.minute.set(id, (m = { runs: 0, rows: 0, maxRows: 0, requests: 0 }));
    return m;
  }

  /** The resource sample of the last interval: CPU % of one core, memory, in flight. */
  private resources() {
    const now = performance.now();
    const used = process.cpuUsage(this.cpu);
    const cpu = ((used.user + used.system) / 1000 / Math.max(1, now - this.cpuAt)) * 100;
    this.cpu = process.cpuUsage();
    this.cpuAt = now;
    const mem = process.memoryUsage();
    const lag = this.loop.count ? this.loop.percentile(99) / 1e6 : 0;
    this.loop.reset();
    return {
      cpuPct: Math.round(cpu * 10) / 10,
      rssBytes: mem.rss,
      heapBytes: mem.heapUsed,
      inFlight: this.inFlightNow,
      inFlightRuns: this.inFlightRuns(),
      loopLagMs: Math.round(lag * 100) / 100,
      log: this.logCounts(),
    };
  }

  /** Sends the last second; at a minute boundary, writes the minute. */
  async tick(now = Date.now()) {
    const t = Math.floor(now / 1000) * 1000;
    const replica = this.resources();
    this.samples.push({ cpu: replica.cpuPct, inFlight: replica.inFlight });
    const second = this.second;
    this.second = new Map();
    const byWorkspace = new Map<string, LiveTick["deployments"]>();
    for (const [id, d] of second) {
      const list = byWorkspace.get(d.workspaceId) ?? [];
      list.push({ id, series: [...d.series].map(([key, s]) => ({ key, ...s })), runs: d.runs, rows: d.rows, maxRows: d.maxRows });
      byWorkspace.set(d.workspaceId, list);
      this.recent.set(d.workspaceId, now);
    }
    for (const [workspaceId, at] of this.recent) {
      if (now - at > 60_000) this.recent.delete(workspaceId);
      else if (!byWorkspace.has(workspaceId)) byWorkspace.set(workspaceId, []);
    }
    for (const [workspaceId, list] of byWorkspace) {
      // NOTIFY carries at most 8000 bytes: a workspace with very many busy deployments is sent in parts.
      for (let i = 0; i < Math.max(1, list.length); i += 20) {
        const tick: LiveTick = { workspaceId, t, replica: { id: this.replica, ...replica }, deployments: list.slice(i, i + 20) };
        postgresEmitter.to(liveRoom(workspaceId)).emit("monitoring.live", tick);
      }
    }
    const minute = Math.floor(now / 60_000);
    if (this.currentMinute === null) this.currentMinute = minute;
    else if (minute !== this.currentMinute) {
      const closing = this.currentMinute;
      this.currentMinute = minute;
      await this.flushMinute(closing);
    }
  }

  private async flushMinute(minute: number) {
    const samples = this.samples;
    this.samples = [];
    const perDeployment = this.minute;
    this.minute = new Map();
    const requests = this.minuteRequests;
    this.minuteRequests = 0;
    const peak = this.peakInFlight;
    this.peakInFlight = this.inFlightNow;
    const lag = this.minuteLoop.count ? this.minuteLoop.percentile(99) / 1e6 : 0;
    this.minuteLoop.reset();
    if (!samples.length) return;
    const at = new Date(minute * 60_000);
    const mem = process.memoryUsage();
    const db = getDb();
    await db
      .insert(replicaMinutes)
      .values({
        replica: this.replica,
        minute: at,
        cpuPct: samples.reduce((a, s) => a + s.cpu, 0) / samples.length,
        cpuMaxPct: Math.max(...samples.map((s) => s.cpu)),
        rssBytes: mem.rss,
        heapBytes: mem.heapUsed,
        inFlightAvg: samples.reduce((a, s) => a + s.inFlight, 0) / samples.length,
        inFlightMax: Math.max(peak, ...samples.map((s) => s.inFlight)),
        loopLagMs: lag,
        requests,
      })
      .onConflictDoNothing();
    if (perDeployment.size)
      await db
        .insert(batchMinutes)
        .values([...perDeployment].map(([deploymentId, m]) => ({ deploymentId, replica: this.replica, minute: at, ...m })))
        .onConflictDoNothing();
  }
}

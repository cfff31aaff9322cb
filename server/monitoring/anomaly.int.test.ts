import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { getDb } from "~/db/client";
import { seedSyntheticRollups } from "~/db/seed/synthetic-rollups";
import { servedCredit } from "~/test/monitoring";
import { auditFor, callerFor, expectTrpcError } from "~/test/helpers";
import { evaluateAlerts } from "./alerts.service";
import { ANOMALY_METRICS, type AnomalyMetric, type Sensitivity } from "~/server/shared/anomaly";
import { anomalyVerdict, anomalyVerdicts } from "./anomaly";

const MIN = 60_000;
const DAY = 86_400_000;

/*
 * Four weeks of a deployment's rollups, busier by day than by night with minute-to-minute
 * noise, ~1% errors and a stable latency histogram — written in one statement — then
 * anomalies injected at chosen minutes: each must be flagged within two evaluations (the
 * worker evaluates every minute), and a normal week must raise nothing.
 */
describe("anomaly rules on a deployment's own history", () => {
  let deploymentId = "";
  let ws: Awaited<ReturnType<typeof servedCredit>>;
  // The same afternoon every run (15:37 UTC, today or yesterday), and noise keyed on the minute's
  // distance from it: the history is the same bytes whenever the suite runs.
  const today = Math.floor(Date.now() / DAY) * DAY + 15 * 3600_000 + 37 * MIN;
  const now = today <= Date.now() ? today : today - DAY;
  // Three quiet moments in the last days, each at a different hour, where anomalies go.
  const at = {
    latency: now - 1 * DAY - 5 * 3600_000,
    errors: now - 2 * DAY - 9 * 3600_000,
    traffic: now - 3 * DAY - 13 * 3600_000,
    // One bad upstream field: 40% of requests carry a value outside the reference; then one that drops a field.
    outliers: now - 4 * DAY - 3 * 3600_000,
    missing: now - 5 * DAY - 19 * 3600_000,
    // The model's scores shift: a mean of 0.30 becomes 0.45.
    scores: now - 6 * DAY - 11 * 3600_000,
  };

  beforeAll(async () => {
    ws = await servedCredit();
    const { d, workspace } = ws;
    deploymentId = d.id;
    await seedSyntheticRollups({ ...d, workspaceId: workspace.id }, now, 28);
    const inject = (from: number, minutes: number, set: ReturnType<typeof sql>) =>
      getDb().execute(sql`update prediction_rollups set ${set}
        where deployment_id = ${d.id} and minute >= ${new Date(from).toISOString()}::timestamptz and minute < ${new Date(from + minutes * MIN).toISOString()}::timestamptz`);
    // Latency: everything answered in 100–250 ms. Errors: 30% fail. Traffic: it stops.
    await inject(at.latency, 30, sql`latency_buckets = array[0, 0, 0, 0, 0, 0, 0, requests, 0, 0, 0, 0]`);
    await inject(at.errors, 30, sql`errors = ceil(requests * 0.3)::int`);
    await inject(
      at.traffic,
      30,
      sql`requests = 0, errors = 0, rows = 0, checked = 0, outliers = 0, incomplete = 0, latency_buckets = array[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]`,
    );
    await inject(at.outliers, 30, sql`outliers = ceil(checked * 0.4)::int`);
    await inject(at.missing, 30, sql`incomplete = ceil(checked * 0.15)::int`);
    await inject(at.scores, 30, sql`prediction_sum = predictions * 0.45, prediction_sq_sum = predictions * (0.0225 + 0.45 * 0.45)`);
  });

  const judge = (metric: AnomalyMetric, t: number, windowMinutes = 10, sensitivity: Sensitivity = "medium") =>
    anomalyVerdict({ deploymentId, metric, windowMinutes, sensitivity }, new Date(t), "credit-prod");

  it("flags a latency spike, an error burst and a traffic stop within two evaluations of their start", async () => {
    const latency = await judge("latency_p95", at.latency + 2 * MIN);
    expect(latency).toMatchObject({ status: "ok", firing: true, band: { baseline: "weekly" } });
    expect(latency.message).toMatch(
      /^credit-prod: p95 latency \d+ ms at \d\d:\d\d UTC over 10 min, expected .* ms–.* ms from the same hour of the last [34] weeks\.$/,
    );
    // Before it started, the same hour was normal.
    expect(await judge("latency_p95", at.latency)).toMatchObject({ status: "ok", firing: false });

    expect(await judge("error_rate", at.errors + 2 * MIN)).toMatchObject({ status: "ok", firing: true });
    expect(await judge("error_rate", at.errors)).toMatchObject({ status: "ok", firing: false });

    // A stop shows in a short window first: two silent minutes of three.
    expect(await judge("traffic", at.traffic + 2 * MIN, 3)).toMatchObject({ status: "ok", firing: true });
    expect(await judge("traffic", at.traffic, 3)).toMatchObject({ status: "ok", firing: false });
    // Input outliers and missing inputs: one bad field shows within two minutes, not at the next drift window.
    const outliers = await judge("outlier_share", at.outliers + 2 * MIN);
    expect(outliers).toMatchObject({ status: "ok", firing: true });
    expect(outliers.message).toMatch(
      /^credit-prod: share of requests with an input outside the reference \d+\.\d% at \d\d:\d\d UTC over 10 min, expected \d+\.\d%–\d+\.\d% from the same hour/,
    );
    expect(await judge("outlier_share", at.outliers)).toMatchObject({ status: "ok", firing: false });
    expect(await judge("missing_share", at.missing + 2 * MIN)).toMatchObject({ status: "ok", firing: true });
    expect(await judge("missing_share", at.missing)).toMatchObject({ status: "ok", firing: false });
    expect(await judge("missing_share", at.outliers + 2 * MIN)).toMatchObject({ status: "ok", firing: false });
    const scores = await judge("prediction_mean", at.scores + 2 * MIN, 3);
    expect(scores).toMatchObject({ status: "ok", firing: true });
    expect(scores.message).toMatch(/^credit-prod: mean prediction 0\.\d+ at \d\d:\d\d UTC over 3 min, expected 0\.2\d*–0\.3\d* from the same hour/);
    expect(await judge("prediction_mean", at.scores, 3)).toMatchObject({ status: "ok", firing: false });
    expect(await judge("prediction_mean", at.scores + 5 * MIN)).toMatchObject({ status: "ok", firing: true });

    // With every request gone, rates and latencies have nothing to judge; traffic still does.
    expect(await judge("error_rate", at.traffic + 20 * MIN)).toMatchObject({ status: "quiet" });
  });

  it("raises nothing over a normal week, at any hour, on any series", async () => {
    const alarms: string[] = [];
    let judged = 0;
    const injected = Object.values(at);
    const series = ANOMALY_METRICS;
    expect(series).toContain("outlier_share");
    for (let t = now - 7 * DAY; t < now; t += 3 * 3600_000 + 17 * MIN) {
      if (injected.some((a) => t > a - 20 * MIN && t < a + 60 * MIN)) continue;
      for (const windowMinutes of [3, 10]) {
        const verdicts = await anomalyVerdicts(
          deploymentId,
          windowMinutes,
          series.map((metric) => ({ metric, sensitivity: "medium" as const })),
          new Date(t),
          "credit-prod",
        );
        for (const v of verdicts) {
          // Three-minute windows hold too few requests to judge a rate at night; traffic always judges.
          if (windowMinutes === 10) expect(v.status).toBe("ok");
          if (v.status === "ok") judged++;
          if (v.status === "ok" && v.firing) alarms.push(v.message);
        }
      }
    }
    expect(judged).toBeGreaterThan(300);
    expect(alarms).toEqual([]);
  }, 90_000);

  it("is a rule kind: saved with its sensitivity, refused with the field named, firing an incident that explains the band", async () => {
    const api = callerFor(ws.owner).monitoring;
    const ref = { workspaceId: ws.workspace.id, name: ws.d.name };
    const rule = { name: "Slow for the hour", kind: "anomaly" as const, metric: "latency_p95" as const, windowMinutes: 10, severity: "warning" as const };
    const wrongMetric = await expectTrpcError(
      api.saveRule({ ...ref, rule: { ...rule, metric: "drift_any" } }),
      "BAD_REQUEST",
      /anomaly rule watches one of traffic/,
    );
    expect(wrongMetric.cause).toMatchObject({ field: "rule.metric" });
    await expectTrpcError(api.saveRule({ ...ref, rule: { ...rule, kind: "threshold" } }), "BAD_REQUEST", /threshold must be a number/);
    await expectTrpcError(api.saveRule({ ...ref, rule: { ...rule, kind: "threshold", threshold: 1 } }), "BAD_REQUEST", /anomaly rules only/);
    await api.saveRule({ ...ref, rule });
    const listed = await api.alerts(ref);
    expect(listed.rules.find((r) => r.name === rule.name)).toMatchObject({ kind: "anomaly", sensitivity: "medium", metric: "latency_p95" });

    const { fired } = await evaluateAlerts(new Date(at.latency + 2 * MIN), deploymentId);
    expect(fired).toHaveLength(1);
    const [event] = await auditFor(ws.workspace.id, "alert.fired");
    expect(event!.metadata).toMatchObject({ rule: rule.name, kind: "anomaly", band: { baseline: "weekly" } });
    expect((event!.metadata as { message: string }).message).toMatch(/p95 latency \d+ ms .* expected .* \(anomaly, medium sensitivity\)$/);
    // The chart shades the rule's band over the day, and the day's normal p95 lies inside it.
    // The chart's day ends at the history's end, whatever the wall clock (only Date is faked: timers and the database run as ever).
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(now + MIN);
    const chart = await api.traffic({ ...ref, range: "24h" }).finally(() => vi.useRealTimers());
    const band = chart.bands.find((b) => b.rule === rule.name)!;
    expect(band).toMatchObject({ metric: "latency_p95", sensitivity: "medium" });
    // A band point for (nearly) every bucket of the day.
    expect(band.points.length, JSON.stringify(band.points.map((p) => p.t))).toBeGreaterThanOrEqual(30); // 45-minute buckets: 32 in a day
    const p95 = new Map(chart.series.find((x) => x.key === "v1 primary")!.points.map((p) => [p.t, p.p95]));
    const inside = band.points.filter((b) => p95.get(b.t) != null && p95.get(b.t)! >= b.low && p95.get(b.t)! <= b.high);
    expect(inside.length / band.points.length).toBeGreaterThan(0.9);
    // Back to normal: the incident resolves itself.
    const { resolved } = await evaluateAlerts(new Date(at.latency + 90 * MIN), deploymentId);
    expect(resolved).toHaveLength(1);
  });

  it("learns before it judges: a deployment with an hour of history is still learning", async () => {
    const v = await judge("traffic", now - 28 * DAY + 60 * MIN, 10);
    expect(v).toMatchObject({ status: "learning" });
    expect(v.message).toMatch(/learning what normal traffic looks like \(50 of 120 minutes of history\)/);
  });
});

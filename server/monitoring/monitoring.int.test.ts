import { and, eq, inArray } from "drizzle-orm";
import { SMTPServer } from "smtp-server";
import { describe, expect, it } from "vitest";
import { freePort } from "~/bin/lib/embedded-pg";
import { getDb } from "~/db/client";
import { alertIncidents, driftResults, notifications, pipelineRuns, predictionFeedback, predictionLogs } from "~/db/schema";
import { generateCredit } from "~/db/seed/credit-data";
import { callerFor, expectAudit, expectTrpcError } from "~/test/helpers";
import { servedCredit } from "~/test/monitoring";
import { computeDriftAll } from "~/workers/worker/monitoring/drift-job";
import { sendEmails } from "~/server/reviews/notifications.service";
import { evaluateAlerts } from "./alerts.service";
import { rollUpAll } from "./monitoring.service";
import { computePerformance } from "./performance.service";

describe("monitoring: rollups and drift from the prediction log", () => {
  it("rolls closed minutes up idempotently, draws traffic from the rollups, and finds drift in a shifted feature with an explanation", async () => {
    const { workspace, owner, d, logRow } = await servedCredit();
    const now = new Date(Math.floor(Date.now() / 60_000) * 60_000); // a minute boundary: everything below is closed
    // 300 predictions over the last 30 minutes: incomes 80% higher than in training; 12 errors.
    const rows = generateCredit(300, 99).map((r, i) =>
      logRow({
        at: new Date(now.getTime() - (i % 30) * 60_000 - 1000),
        requestId: `r${i}`,
        status: i % 25 === 0 ? "error" : "ok",
        latencyMs: 1 + (i % 10),
        inputs: { instances: [{ age: r.age, income_k: Math.round(r.income_k * 1.8 * 10) / 10, debt_ratio: r.debt_ratio }] },
        outputs: { probability: [[0.3]] },
      }),
    );
    await getDb().insert(predictionLogs).values(rows);

    await rollUpAll(now);
    await rollUpAll(now); // again: the same numbers, not double
    const api = callerFor(owner).monitoring;
    const t = await api.traffic({ workspaceId: workspace.id, name: "credit-prod", range: "1h" });
    expect(t.series.map((s) => s.key)).toEqual(["v1 primary"]);
    const points = t.series[0]!.points;
    expect(points.reduce((a, p) => a + p.requests, 0)).toBe(300);
    expect(points.reduce((a, p) => a + p.errors, 0)).toBe(12);
    // Minutes the rollups cover without traffic are zeros with no latency (a gap on the chart).
    const served = points.filter((p) => p.requests > 0);
    expect(served.every((p) => p.p50! > 0 && p.p50! <= 10 && p.p99! <= 10)).toBe(true);
    expect(points.filter((p) => p.requests === 0).every((p) => p.rps === 0 && p.errorRate === null && p.p95 === null)).toBe(true);

    // On demand for one deployment: only that one; an unknown name is refused.
    expect((await computeDriftAll(now, 60, "00000000-0000-4000-8000-000000000000")).computed).toBe(0);
    await expectTrpcError(callerFor(owner).monitoring.computeDrift({ workspaceId: workspace.id, name: "nope" }), "NOT_FOUND", /no deployment "nope"/);
    const r = await computeDriftAll(now, 60, d.id);
    expect(r.computed).toBe(1);
    const drift = await api.drift({ workspaceId: workspace.id, name: "credit-prod" });
    expect(drift.latest).toMatchObject({ maxSeverity: "major", reference: { dataset: "credit-train", version: 1, role: "train" } });
    const features = drift.latest!.features as { feature: string; status: string; severity: string; explanation: string; pAdjusted: number }[];
    const income = features.find((f) => f.feature === "income_k")!;
    expect(income.severity).toBe("major");
    expect(income.explanation).toMatch(/^income_k: \d+% of current traffic falls above the reference's 95th percentile/);
    expect(income.pAdjusted).toBeLessThan(0.001);
    expect(features.find((f) => f.feature === "age")!.severity).toBe("none");
    expect(features.map((f) => f.feature).sort()).toEqual(["age", "debt_ratio", "income_k"]);
    // Prediction drift: the model, run over its training data, scores spread out; the window's scores are all 0.3.
    expect(drift.latest!.predictionDrift).toMatchObject({ feature: "prediction", kind: "numeric", status: "ok", n: 288, severity: "major" });

    const overview = await api.overview({ workspaceId: workspace.id });
    expect(overview.find((o) => o.name === "credit-prod")).toMatchObject({ drift: "major" });

    // Alerts: the deployment's default rules; drift fires once, is acknowledged, and resolves by itself.
    const ref = { workspaceId: workspace.id, name: "credit-prod" };
    let alerts = await api.alerts(ref);
    expect(alerts.rules.map((r) => [r.name, r.metric, r.threshold])).toEqual([
      ["Input drift", "drift_any", 0.2],
      ["Error rate", "error_rate", 0.05],
      ["Latency p99", "latency_p99", 1000],
    ]);
    // A rule that starts the validate pipeline when drift passes 0.5 — the retraining loop's first link.
    await api.saveRule({
      ...ref,
      rule: {
        name: "Retrain on drift",
        metric: "drift_feature",
        feature: "income_k",
        threshold: 0.5,
        windowMinutes: 60,
        severity: "critical",
        startPipeline: "validate",
      },
    });
    await expectTrpcError(
      api.saveRule({ ...ref, rule: { name: "x", metric: "drift_feature", threshold: 0.5, windowMinutes: 60, severity: "critical" } }),
      "BAD_REQUEST",
      /feature: a drift_feature rule names/,
    );
    await expectTrpcError(
      api.saveRule({ ...ref, rule: { name: "x", metric: "cpu", threshold: 0.5, windowMinutes: 60, severity: "critical" } }),
      "BAD_REQUEST",
      /metric must be one of/,
    );
    // evaluateAlerts is instance-wide and other test files run beside this one: count this deployment's incidents.
    const ours = async (ids: string[]) =>
      ids.length
        ? (
            await getDb()
              .select({ id: alertIncidents.id })
              .from(alertIncidents)
              .where(and(inArray(alertIncidents.id, ids), eq(alertIncidents.deploymentId, d.id)))
          ).length
        : 0;
    const first = await evaluateAlerts(now);
    expect(await ours(first.fired)).toBe(2); // error rate 4% < 5%, p99 < 1 s: only the drift rules
    expect(await ours((await evaluateAlerts(now)).fired)).toBe(0); // once per incident
    alerts = await api.alerts(ref);
    const retrain = alerts.incidents.find((i) => i.rule === "Retrain on drift")!;
    expect(retrain).toMatchObject({
      status: "firing",
      message: expect.stringMatching(/^credit-prod: drift \(PSI\) of income_k is \d\.\d{3} \(above 0\.500\) over 60 min$/),
    });
    expect(retrain.pipelineRunId).toBeTruthy();
    const [run] = await getDb().select().from(pipelineRuns).where(eq(pipelineRuns.id, retrain.pipelineRunId!));
    expect(run).toMatchObject({ trigger: "alert", triggerRef: retrain.id });
    const alertNotes = await getDb()
      .select()
      .from(notifications)
      .where(and(eq(notifications.userId, owner.id), eq(notifications.kind, "alert")));
    expect(alertNotes).toHaveLength(2);
    // …and by e-mail, through a real SMTP server on loopback.
    const mails: string[] = [];
    const smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      onData(stream, _session, done) {
        let text = "";
        stream.on("data", (c: Buffer) => (text += c.toString()));
        // The body is quoted-printable: join soft line breaks, decode =XX bytes as UTF-8.
        const decoded = (t: string) =>
          Buffer.from(
            t.replace(/=\r\n/g, "").replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))),
            "latin1",
          ).toString("utf8");
        stream.on("end", () => (mails.push(decoded(text)), done()));
      },
    });
    const smtpPort = await freePort();
    await new Promise<void>((r) => smtp.listen(smtpPort, "127.0.0.1", r));
    try {
      await sendEmails(
        alertNotes.map((n) => n.id),
        `smtp://127.0.0.1:${smtpPort}`,
      );
    } finally {
      await new Promise<void>((r) => smtp.close(() => r()));
    }
    expect(mails).toHaveLength(2);
    expect(mails.some((m) => m.includes("[warning] Input drift — credit-prod: drift (max PSI over features)"))).toBe(true);
    expect(mails.every((m) => new RegExp(`/w/${workspace.slug}/monitoring/credit-prod`).test(m))).toBe(true);
    await api.acknowledge({ workspaceId: workspace.id, incidentId: retrain.id });
    await expectTrpcError(api.acknowledge({ workspaceId: workspace.id, incidentId: retrain.id }), "PRECONDITION_FAILED", /already acknowledged/);
    // The drift clears (a new window without the shift): both incidents resolve by themselves.
    await getDb()
      .insert(driftResults)
      .values({
        workspaceId: workspace.id,
        deploymentId: d.id,
        modelVersionId: d.primaryVersionId,
        windowStart: now,
        windowEnd: new Date(now.getTime() + 1000),
        reference: { dataset: "credit-train", version: 1, role: "train", rows: 2000 },
        features: [{ feature: "income_k", status: "ok", psi: 0.01 }],
        maxSeverity: "none",
        sampled: 300,
      });
    const later = await evaluateAlerts(new Date(now.getTime() + 2000));
    expect(await ours(later.resolved)).toBe(2);
    expect((await api.alerts(ref)).incidents.every((i) => i.status === "resolved")).toBe(true);
    for (const action of ["alert.fired", "alert.acknowledged", "alert.resolved", "alert.rule_saved"]) await expectAudit(workspace.id, { action });

    // Delayed ground truth for r0…r199 (label i % 2) and a shadow that answered r1…r50 right
    // every time (0.7 for odd ids, 0.2 for even ones) where the primary says 0.3 throughout.
    await getDb()
      .insert(predictionFeedback)
      .values(Array.from({ length: 200 }, (_, i) => ({ requestId: `r${i}`, workspaceId: workspace.id, deploymentId: d.id, label: i % 2 })));
    await getDb()
      .insert(predictionLogs)
      .values(
        rows
          .slice(1, 51)
          .map((r) => ({ ...r, role: "shadow" as const, status: "ok" as const, outputs: { probability: [[Number(r.requestId.slice(1)) % 2 ? 0.7 : 0.2]] } })),
      );
    await computePerformance(now, 24);
    const perf = await api.performance({ workspaceId: workspace.id, name: "credit-prod" });
    const total = perf.reduce((a, w) => a + w.predictions, 0);
    const labeled = perf.reduce((a, w) => a + w.labeled, 0);
    const okIds = rows.filter((r) => r.status === "ok").map((r) => Number(r.requestId.slice(1)));
    expect(total).toBe(okIds.length);
    expect(labeled).toBe(okIds.filter((i) => i < 200).length);
    // The model says 0.3 for everything (predicts 0): accuracy is the share of 0 labels, per window.
    const expectedAcc = okIds.filter((i) => i < 200 && i % 2 === 0).length / labeled;
    const weighted = perf.reduce((a, w) => a + (w.metrics.accuracy ?? 0) * w.labeled, 0) / labeled;
    expect(weighted).toBeCloseTo(expectedAcc, 10);
    expect(perf.every((w) => w.metrics.task === "classification")).toBe(true);
    const shadow = perf.map((w) => w.metrics.shadow).filter(Boolean);
    expect(shadow.reduce((a, x) => a + x!.compared, 0)).toBe(okIds.filter((i) => i >= 1 && i <= 50).length);
    const shadowed = okIds.filter((i) => i >= 1 && i <= 50);
    const agreed = shadow.reduce((a, x) => a + x!.agreement * x!.compared, 0);
    expect(agreed).toBeCloseTo(shadowed.filter((i) => i % 2 === 0).length, 9); // both say 0 on even ids
    const absDiff = shadow.reduce((a, x) => a + x!.meanAbsDiff * x!.compared, 0);
    expect(absDiff).toBeCloseTo(
      shadowed.reduce((a, i) => a + (i % 2 ? 0.4 : 0.1), 0),
      9,
    );
    // Metric deltas on the labelled requests both answered: the shadow is always right, the primary on even ids only.
    expect(shadow.reduce((a, x) => a + x!.labeled, 0)).toBe(shadowed.length);
    for (const x of shadow) {
      expect(x).toMatchObject({ metric: "accuracy", shadow: 1 });
      expect(x!.delta).toBeCloseTo(1 - x!.primary!, 12);
    }
    const primaryRight = shadow.reduce((a, x) => a + x!.primary! * x!.labeled, 0);
    expect(primaryRight).toBeCloseTo(shadowed.filter((i) => i % 2 === 0).length, 9);

    // Rules on performance (fires below) and on the outputs' drift (fires above).
    await api.saveRule({ ...ref, rule: { name: "Accuracy", metric: "accuracy", threshold: 0.9, windowMinutes: 1440, severity: "critical" } });
    await api.saveRule({ ...ref, rule: { name: "Prediction drift", metric: "prediction_drift", threshold: 0.2, windowMinutes: 60, severity: "warning" } });
    await api.saveRule({ ...ref, rule: { name: "RMSE", metric: "rmse", threshold: 0.1, windowMinutes: 60, severity: "info" } });
    await computeDriftAll(new Date(now.getTime() + 2000), 60, d.id); // the latest drift again carries the outputs' drift
    await evaluateAlerts(new Date(now.getTime() + 3000));
    const open = (await api.alerts(ref)).incidents.filter((i) => i.status === "firing" && ["Accuracy", "Prediction drift", "RMSE"].includes(i.rule));
    expect(open.map((i) => i.rule).sort()).toEqual(["Accuracy", "Prediction drift"]); // RMSE: a classifier has none, nothing to judge
    expect(open.find((i) => i.rule === "Accuracy")!.message).toBe(`credit-prod: accuracy is ${weighted.toFixed(3)} (below 0.900) over 1440 min`);
  });

  it("measures drift against a window of the deployment's own traffic when told to, and refuses a window that is not one", async () => {
    const { workspace, owner, d, logRow } = await servedCredit();
    const now = new Date(Math.floor(Date.now() / 60_000) * 60_000);
    // Two hours of traffic: the first hour as trained, the last hour with incomes 80% higher.
    const rows = generateCredit(400, 5).map((r, i) => {
      const late = i % 2 === 0;
      return logRow({
        at: new Date(now.getTime() - (late ? 1 + (i % 50) : 61 + (i % 50)) * 60_000),
        requestId: `w${i}`,
        inputs: { instances: [{ age: r.age, income_k: late ? Math.round(r.income_k * 1.8 * 10) / 10 : r.income_k, debt_ratio: r.debt_ratio }] },
        outputs: { probability: [[late ? 0.6 : 0.3]] },
      });
    });
    await getDb().insert(predictionLogs).values(rows);
    const api = callerFor(owner).deployments;
    const ref = { workspaceId: workspace.id, name: "credit-prod" };
    const from = new Date(now.getTime() - 120 * 60_000).toISOString();
    const to = new Date(now.getTime() - 60 * 60_000).toISOString();
    await expectTrpcError(
      api.updateSettings({ ...ref, settings: { driftReference: { kind: "window", from: to, to: from } } }),
      "BAD_REQUEST",
      /window's start must be before its end/,
    );
    await expectTrpcError(
      api.updateSettings({ ...ref, settings: { driftReference: { kind: "window", from, to: new Date(now.getTime() + 3600_000).toISOString() } } }),
      "BAD_REQUEST",
      /must be in the past/,
    );
    await expectTrpcError(
      api.updateSettings({ ...ref, settings: { driftReference: { kind: "window", from: "yesterday", to } } }),
      "BAD_REQUEST",
      /driftReference.from must be an ISO date-time/,
    );
    await api.updateSettings({ ...ref, settings: { driftReference: { kind: "window", from, to } } });
    await expectAudit(workspace.id, { action: "deployment.settings_changed" });

    expect((await computeDriftAll(now, 60, d.id)).computed).toBe(1);
    const drift = await callerFor(owner).monitoring.drift(ref);
    expect(drift.referenceSetting).toEqual({ kind: "window", from, to });
    expect(drift.latest!.reference).toEqual({ kind: "window", from, to, rows: 200 });
    const features = drift.latest!.features as { feature: string; severity: string; n: number }[];
    expect(features.find((f) => f.feature === "income_k")).toMatchObject({ severity: "major", n: 200 });
    expect(features.find((f) => f.feature === "age")!.severity).toBe("none");
    // The scores logged in the reference window (0.3) against the current ones (0.6).
    expect(drift.latest!.predictionDrift).toMatchObject({ feature: "prediction", status: "ok", severity: "major" });

    // Back to the training data.
    await api.updateSettings({ ...ref, settings: { driftReference: { kind: "lineage" } } });
    await computeDriftAll(new Date(now.getTime() + 1000), 60, d.id);
    expect((await callerFor(owner).monitoring.drift(ref)).latest!.reference).toMatchObject({ kind: "dataset", dataset: "credit-train" });
  });

  it("stays quiet on a stable stream: no drift, no alert", async () => {
    const { workspace, owner, d, logRow } = await servedCredit();
    const now = new Date(Math.floor(Date.now() / 60_000) * 60_000);
    // Traffic from the same population as the training data (another seed), healthy and fast.
    const rows = generateCredit(600, 2024).map((r, i) =>
      logRow({
        at: new Date(now.getTime() - (i % 50) * 60_000 - 500),
        requestId: `s${i}`,
        latencyMs: 3,
        // Every tenth applicant left debt_ratio out (null): missing, not zero.
        inputs: { instances: [{ age: r.age, income_k: r.income_k, debt_ratio: i % 10 === 0 ? null : r.debt_ratio }] },
        outputs: { probability: [[0.3]] },
      }),
    );
    await getDb().insert(predictionLogs).values(rows);
    await rollUpAll(now);
    await computeDriftAll(now, 60, d.id);
    const drift = await callerFor(owner).monitoring.drift({ workspaceId: workspace.id, name: "credit-prod" });
    const features = drift.latest!.features as { feature: string; severity: string; psi: number; n: number }[];
    expect(features.every((f) => f.severity === "none" && f.psi < 0.1)).toBe(true);
    expect(features.find((f) => f.feature === "debt_ratio")!.n).toBe(540);
    expect(drift.latest!.maxSeverity).toBe("none");
    const r = await evaluateAlerts(now);
    const incidents = await getDb().select().from(alertIncidents).where(eq(alertIncidents.deploymentId, d.id));
    expect(incidents).toEqual([]);
    expect(r.fired.filter((id) => incidents.some((i) => i.id === id))).toEqual([]);
  });
});

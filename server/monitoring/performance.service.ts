import "server-only";
import { and, asc, eq, gte, sql } from "drizzle-orm";
import { getDb } from "~/db/client";
import { deployments, performanceWindows } from "~/db/schema";
import type { WorkspaceActor } from "~/server/audit/actor";
import { classification, regression, rocAuc } from "~/server/pipelines/metrics";
import { publish } from "~/server/realtime/publish";
import { deploymentByName } from "./monitoring.service";

/*
 * Model performance with delayed ground truth: predictions of the last day, by hour,
 * joined with the labels posted later (POST …/feedback) by request id. Recomputed on each
 * run so late labels count, with the share of predictions that have a label (coverage).
 * The shadow's agreement with the primary on the same requests, per hour.
 */

type Outputs = Record<string, unknown> | null;
/** A scalar score from a prediction's outputs: a probability (binary) or the value (regression). */
function scoreOf(outputs: Outputs): number | null {
  if (!outputs) return null;
  const pick = (v: unknown): number | null => (typeof v === "number" ? v : Array.isArray(v) ? pick(v.at(-1)) : null);
  for (const k of ["probability", "probabilities", "score", "variable", "prediction", "y", "output"]) if (k in outputs) return pick(outputs[k]);
  return pick(Object.values(outputs)[0]);
}
const labelOf = (v: unknown): number | null =>
  typeof v === "number"
    ? v
    : typeof v === "boolean"
      ? Number(v)
      : typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))
        ? Number(v)
        : Array.isArray(v)
          ? labelOf(v[0])
          : null;

export async function computePerformance(now = new Date(), hours = 24) {
  const db = getDb();
  const since = new Date(Math.floor(now.getTime() / 3_600_000) * 3_600_000 - (hours - 1) * 3_600_000);
  const list = await db.select({ id: deployments.id, workspaceId: deployments.workspaceId }).from(deployments);
  let windows = 0;
  for (const d of list) {
    type Row = { w: Date; request_id: string; role: string; outputs: Outputs; label: unknown };
    const rows: Row[] = await db.execute<Row>(sql`
      select date_trunc('hour', l.at) as w, l.request_id, l.role, l.outputs, f.label
      from prediction_logs l
      left join prediction_feedback f on f.deployment_id = l.deployment_id and f.request_id = l.request_id
      where l.deployment_id = ${d.id} and l.at >= ${since.toISOString()}::timestamptz and l.status = 'ok'
      limit 200000`);
    if (!rows.length) continue;
    const byWindow = new Map<number, Row[]>();
    for (const r of rows) {
      const t = new Date(r.w).getTime();
      const list = byWindow.get(t) ?? [];
      list.push(r);
      byWindow.set(t, list);
    }
    for (const [t, rs] of byWindow) {
      const primary = rs.filter((r) => r.role !== "shadow");
      const labeled = primary
        .map((r) => ({ score: scoreOf(r.outputs), label: labelOf(r.label) }))
        .filter((x): x is { score: number; label: number } => x.score !== null && x.label !== null);
      const metrics: PerformanceMetrics = {};
      if (labeled.length) {
        const y = labeled.map((x) => x.label);
        const s = labeled.map((x) => x.score);
        const binary = y.every((v) => v === 0 || v === 1) && s.every((v) => v >= 0 && v <= 1);
        if (binary) {
          const pred = s.map((v) => (v >= 0.5 ? 1 : 0));
          const c = classification(y, pred, ["0", "1"]);
          Object.assign(metrics, { task: "classification", accuracy: c.accuracy, f1: c.perClass[1]!.f1, auc: rocAuc(y, s) });
        } else {
          const r = regression(y, s);
          Object.assign(metrics, { task: "regression", mae: r.mae, rmse: r.rmse });
        }
      }
      // Shadow vs primary on the same requests.
      const shadow = new Map(rs.filter((r) => r.role === "shadow").map((r) => [r.request_id, scoreOf(r.outputs)]));
      if (shadow.size) {
        let compared = 0;
        let agree = 0;
        let diff = 0;
        // On the labelled requests both answered: each one's metric, and the shadow's delta.
        const both: { y: number; a: number; b: number }[] = [];
        for (const p of primary) {
          const a = scoreOf(p.outputs);
          const b = shadow.get(p.request_id);
          if (a === null || b === null || b === undefined) continue;
          compared++;
          diff += Math.abs(a - b);
          if (a >= 0.5 === b >= 0.5) agree++;
          const y = labelOf(p.label);
          if (y !== null) both.push({ y, a, b });
        }
        if (compared) {
          const out: PerformanceMetrics["shadow"] = { compared, agreement: agree / compared, meanAbsDiff: diff / compared, labeled: both.length };
          if (both.length && metrics.task === "classification") {
            const acc = (k: "a" | "b") => both.filter((x) => (x[k] >= 0.5 ? 1 : 0) === x.y).length / both.length;
            Object.assign(out, { metric: "accuracy", primary: acc("a"), shadow: acc("b"), delta: acc("b") - acc("a") });
          } else if (both.length && metrics.task === "regression") {
            const mae = (k: "a" | "b") => both.reduce((s, x) => s + Math.abs(x[k] - x.y), 0) / both.length;
            Object.assign(out, { metric: "mae", primary: mae("a"), shadow: mae("b"), delta: mae("b") - mae("a") });
          }
          metrics.shadow = out;
        }
      }
      await db
        .insert(performanceWindows)
        .values({
          deploymentId: d.id,
          workspaceId: d.workspaceId,
          windowStart: new Date(t),
          predictions: primary.length,
          labeled: labeled.length,
          metrics,
          computedAt: now,
        })
        .onConflictDoUpdate({
          target: [performanceWindows.deploymentId, performanceWindows.windowStart],
          set: { predictions: primary.length, labeled: labeled.length, metrics, computedAt: now },
        });
      windows++;
    }
    publish.toWorkspace(d.workspaceId, "monitoring.updated", { workspaceId: d.workspaceId, deploymentId: d.id });
  }
  return { windows };
}

export type PerformanceMetrics = {
  task?: "classification" | "regression";
  accuracy?: number;
  f1?: number;
  auc?: number | null;
  mae?: number;
  rmse?: number;
  /** The shadow against the primary on the same requests; on the labelled ones, each one's accuracy (or MAE) and the shadow's delta. */
  shadow?: {
    compared: number;
    agreement: number;
    meanAbsDiff: number;
    labeled: number;
    metric?: "accuracy" | "mae";
    primary?: number;
    shadow?: number;
    delta?: number;
  };
};

export async function performance(
  actor: WorkspaceActor,
  name: string,
  days = 7,
): Promise<{ windowStart: Date; predictions: number; labeled: number; coverage: number; metrics: PerformanceMetrics }[]> {
  const d = await deploymentByName(actor, name);
  const rows = await getDb()
    .select()
    .from(performanceWindows)
    .where(and(eq(performanceWindows.deploymentId, d.id), gte(performanceWindows.windowStart, new Date(Date.now() - days * 86_400_000))))
    .orderBy(asc(performanceWindows.windowStart));
  return rows.map((r) => ({
    windowStart: r.windowStart,
    predictions: r.predictions,
    labeled: r.labeled,
    coverage: r.predictions ? r.labeled / r.predictions : 0,
    metrics: r.metrics,
  }));
}

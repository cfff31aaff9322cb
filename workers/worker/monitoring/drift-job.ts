import { and, desc, eq, gte, inArray, lt } from "drizzle-orm";
import { getDb } from "~/db/client";
import { datasets, datasetVersions, deployments, driftResults, modelVersionDatasets, modelVersions, predictionLogs, referenceBounds } from "~/db/schema";
import { materialize } from "~/server/artifacts/store";
import {
  categoricalDrift,
  driftReport,
  numericDrift,
  outlierBounds,
  toCategoryOrMissing,
  type FeatureDrift,
  type OutlierBounds,
} from "~/server/monitoring/drift";
import { recheckInputs } from "~/server/monitoring/monitoring.service";
import { publish } from "~/server/realtime/publish";
import { featureNames, planInputs, planOutputs, type OutputPlan } from "~/server/shared/tabular";
import type { ColumnSchema, OnnxSignature } from "~/db/schema/registry";
import type { DriftReference } from "~/db/schema/monitoring";
import { loadTable, openSession, positiveScore, predict, predictedClass, type Table } from "~/workers/worker/steps/runtime";

/*
 * Drift of every input feature of each active deployment: the last window of logged
 * inputs (a sample of at most MAX_CURRENT records, newest first) against the reference —
 * by default the training dataset version in the primary version's lineage, else its
 * evaluation dataset; or, when the deployment's settings say so, a window of its own
 * past traffic. And prediction drift: the model's scores (or classes) on the window
 * against its scores on the reference (the model run over the reference dataset, or the
 * scores logged in the reference window). Computed here from a windowed sample, never by
 * scanning all logs per chart.
 *
 * A dataset reference is a uniform sample of the dataset (DuckDB's reservoir with a fixed
 * seed, so every run and every worker reads the same rows), never its first rows: on a
 * date-ordered file those are its first days. Missing values are passed through as they are
 * logged (null, absent, "", unparseable): the drift functions count them as missing.
 */
export const MAX_REFERENCE = 100_000;
/** The reservoir's seed: fixed, so a reference is the same sample at every run (recorded in the result). */
export const REFERENCE_SEED = 20;
const MAX_CURRENT = 20_000;
/** How far back requests already rolled up are checked again when a deployment's bounds change. */
const RECHECK_MS = 24 * 3600_000;
/** Rows of the reference dataset the model is run over for prediction drift. */
const MAX_REFERENCE_PREDICTIONS = 20_000;

/*
 * Reference tables by content hash and columns: a dataset version never changes, so it is
 * read from the artifact store once per worker, not at every run for every deployment.
 */
const references = new Map<string, Promise<Table>>();
function referenceTable(sha256: string, format: "csv" | "parquet", columns: ColumnSchema[]) {
  const key = `${sha256}:${columns.map((c) => c.name).join(",")}`;
  let t = references.get(key);
  if (!t) {
    t = (async () => {
      const file = await materialize(sha256);
      try {
        return await loadTable(file.path, format, columns, { sample: { rows: MAX_REFERENCE, seed: REFERENCE_SEED } });
      } finally {
        await file.release();
      }
    })();
    t.catch(() => references.delete(key));
    if (references.size >= 8) references.delete(references.keys().next().value!);
    references.set(key, t);
  }
  return t;
}

/** A prediction as a number (binary score, regression value) or a class, read from logged outputs. */
type Score = { kind: "num"; value: number } | { kind: "cat"; value: string };
function scoresOf(outputs: Record<string, unknown> | null, plan: OutputPlan): Score[] {
  if (!outputs) return [];
  const rows = (name: string | undefined) => (name && Array.isArray(outputs[name]) ? (outputs[name] as unknown[]) : null);
  const out: Score[] = [];
  if (plan.task === "regression") {
    for (const r of rows(plan.value) ?? []) {
      const v: unknown = Array.isArray(r) ? (r as unknown[])[0] : r;
      if (typeof v === "number") out.push({ kind: "num", value: v });
    }
    return out;
  }
  const proba = rows(plan.proba);
  if (proba) {
    for (const r of proba) {
      const v = Array.isArray(r) ? (r as unknown[]) : [r];
      if (v.length <= 2 && typeof v.at(-1) === "number") out.push({ kind: "num", value: v.at(-1) as number });
      else if (v.every((x) => typeof x === "number")) out.push({ kind: "cat", value: String(v.indexOf(Math.max(...v))) });
    }
    return out;
  }
  for (const r of rows(plan.label) ?? []) out.push({ kind: "cat", value: String(Array.isArray(r) ? r[0] : r) });
  return out;
}

/** The model's predictions over (a sample of) the reference dataset, once per model and dataset. */
const referencePredictions = new Map<string, Promise<Score[]>>();
function predictReference(model: { sha256: string; signature: OnnxSignature }, table: Table, datasetSha: string) {
  const key = `${model.sha256}:${datasetSha}`;
  let p = referencePredictions.get(key);
  if (!p) {
    p = (async () => {
      const plan = planInputs(model.signature, [...table.columns.keys()]);
      const out = planOutputs(model.signature);
      const file = await materialize(model.sha256);
      try {
        const session = await openSession(file.path);
        try {
          const sample: Table = { rows: Math.min(table.rows, MAX_REFERENCE_PREDICTIONS), columns: table.columns };
          const pr = await predict(session, plan, out, sample);
          if (pr.task === "regression") return Array.from(pr.value, (value) => ({ kind: "num" as const, value }));
          const score = positiveScore(pr);
          if (score) return Array.from(score, (value) => ({ kind: "num" as const, value }));
          return Array.from(predictedClass(pr), (v) => ({ kind: "cat" as const, value: String(v) }));
        } finally {
          await session.release();
        }
      } finally {
        await file.release();
      }
    })();
    p.catch(() => referencePredictions.delete(key));
    if (referencePredictions.size >= 8) referencePredictions.delete(referencePredictions.keys().next().value!);
    referencePredictions.set(key, p);
  }
  return p;
}

function predictionDrift(reference: Score[], current: Score[]): FeatureDrift | null {
  if (!reference.length) return null;
  if (reference[0]!.kind === "num") {
    const num = (xs: Score[]) => xs.filter((x): x is Extract<Score, { kind: "num" }> => x.kind === "num" && Number.isFinite(x.value)).map((x) => x.value);
    return numericDrift("prediction", num(reference), num(current));
  }
  return categoricalDrift(
    "predicted class",
    reference.map((x) => String(x.value)),
    current.map((x) => String(x.value)),
  );
}

/** A feature's values in records, missing ones included (absent, null, "", NaN): the drift functions count them, never as 0. */
const valuesOf = (records: Record<string, unknown>[], name: string) => records.map((r) => r[name]);
/** Numeric when every value that is there is a number or a boolean. */
const looksNumeric = (values: unknown[]) => {
  const there = values.filter((x) => toCategoryOrMissing(x) !== null);
  return there.length > 0 && there.every((x) => typeof x === "number" || typeof x === "boolean");
};

/** Instance records from logged inputs; tensor bodies carry no column names to compare. */
function recordsOf(logs: { inputs: unknown }[]) {
  const records: Record<string, unknown>[] = [];
  for (const l of logs) {
    const inst = (l.inputs as { instances?: unknown } | null)?.instances;
    if (Array.isArray(inst)) for (const r of inst) if (r && typeof r === "object") records.push(r as Record<string, unknown>);
  }
  return records;
}

export async function computeDriftAll(now = new Date(), windowMinutes = 60, onlyDeploymentId?: string) {
  const db = getDb();
  const list = await db
    .select()
    .from(deployments)
    .where(and(eq(deployments.status, "active"), onlyDeploymentId ? eq(deployments.id, onlyDeploymentId) : undefined));
  let computed = 0;
  for (const d of list) {
    const [v] = await db
      .select({ id: modelVersions.id, sha256: modelVersions.sha256, signature: modelVersions.signature })
      .from(modelVersions)
      .where(eq(modelVersions.id, d.primaryVersionId));
    if (!v) continue;
    const windowRef = d.settings.driftReference?.kind === "window" ? d.settings.driftReference : null;
    const lineage = windowRef
      ? []
      : await db
          .select({
            role: modelVersionDatasets.role,
            name: datasets.name,
            version: datasetVersions.version,
            sha256: datasetVersions.sha256,
            format: datasetVersions.format,
            schema: datasetVersions.schema,
            rowCount: datasetVersions.rowCount,
          })
          .from(modelVersionDatasets)
          .innerJoin(datasetVersions, eq(datasetVersions.id, modelVersionDatasets.datasetVersionId))
          .innerJoin(datasets, eq(datasets.id, datasetVersions.datasetId))
          .where(and(eq(modelVersionDatasets.modelVersionId, d.primaryVersionId), inArray(modelVersionDatasets.role, ["train", "eval"])));
    const ref = lineage.find((l) => l.role === "train") ?? lineage.find((l) => l.role === "eval");
    if (!ref && !windowRef) continue;
    const wanted = featureNames(v.signature) ?? v.signature.inputs.map((i) => i.name);
    const windowStart = new Date(now.getTime() - windowMinutes * 60_000);
    const served = and(eq(predictionLogs.deploymentId, d.id), eq(predictionLogs.status, "ok"), inArray(predictionLogs.role, ["primary", "canary"]));
    const logs = await db
      .select({ inputs: predictionLogs.inputs, outputs: predictionLogs.outputs })
      .from(predictionLogs)
      .where(and(served, gte(predictionLogs.at, windowStart), lt(predictionLogs.at, now)))
      .orderBy(desc(predictionLogs.at))
      .limit(MAX_CURRENT);
    const records = recordsOf(logs);
    let outPlan: OutputPlan | null = null;
    try {
      outPlan = planOutputs(v.signature);
    } catch {
      outPlan = null; // no output to read as a prediction: input drift only
    }
    const current = outPlan ? logs.flatMap((l) => scoresOf(l.outputs as Record<string, unknown> | null, outPlan)) : [];
    let features: FeatureDrift[];
    let reference: DriftReference;
    let prediction: FeatureDrift | null = null;
    let bounds: OutlierBounds;
    if (windowRef) {
      // A window of the deployment's own traffic: the same reading of inputs and outputs on both sides.
      const refLogs = await db
        .select({ inputs: predictionLogs.inputs, outputs: predictionLogs.outputs })
        .from(predictionLogs)
        .where(and(served, gte(predictionLogs.at, new Date(windowRef.from)), lt(predictionLogs.at, new Date(windowRef.to))))
        .orderBy(desc(predictionLogs.at))
        .limit(MAX_REFERENCE);
      const refRecords = recordsOf(refLogs);
      const refColumns = wanted.map((name) => {
        const values = valuesOf(refRecords, name);
        return { name, kind: looksNumeric(values) ? ("numeric" as const) : ("categorical" as const), values };
      });
      features = refColumns.map((c) => (c.kind === "numeric" ? numericDrift : categoricalDrift)(c.name, c.values, valuesOf(records, c.name)));
      bounds = outlierBounds(refColumns);
      if (outPlan)
        prediction = predictionDrift(
          refLogs.flatMap((l) => scoresOf(l.outputs as Record<string, unknown> | null, outPlan)),
          current,
        );
      reference = { kind: "window", from: windowRef.from, to: windowRef.to, rows: refRecords.length };
    } else {
      const columns = ref!.schema.filter((c) => wanted.includes(c.name) && (c.logical === "numeric" || c.logical === "boolean" || c.logical === "categorical"));
      if (!columns.length) continue;
      const table = await referenceTable(ref!.sha256, ref!.format, columns);
      features = columns.map((c) => {
        const col = table.columns.get(c.name)!;
        if (col.kind === "num") return numericDrift(c.name, col.values, valuesOf(records, c.name));
        return categoricalDrift(c.name, col.values, valuesOf(records, c.name));
      });
      bounds = outlierBounds(
        columns.map((c) => {
          const col = table.columns.get(c.name)!;
          return { name: c.name, kind: col.kind === "num" ? "numeric" : "categorical", values: col.values };
        }),
      );
      if (outPlan) {
        const refScores = await predictReference(v, table, ref!.sha256).catch((err: unknown) => {
          console.error(`[monitoring] could not run ${d.name}'s model over its reference for prediction drift:`, err);
          return [] as Score[];
        });
        prediction = predictionDrift(refScores, current);
      }
      reference = {
        kind: "dataset",
        dataset: ref!.name,
        version: ref!.version,
        role: ref!.role,
        rows: ref!.rowCount,
        sample: { rows: table.rows, seed: REFERENCE_SEED, method: "reservoir" },
      };
    }
    driftReport(features);
    const ok = features.filter((f) => f.status === "ok");
    const maxSeverity = !ok.length
      ? "unknown"
      : ok.some((f) => f.severity === "major")
        ? "major"
        : ok.some((f) => f.severity === "moderate")
          ? "moderate"
          : "none";
    await db.insert(driftResults).values({
      workspaceId: d.workspaceId,
      deploymentId: d.id,
      modelVersionId: d.primaryVersionId,
      windowStart,
      windowEnd: now,
      reference,
      features,
      predictionDrift: prediction,
      maxSeverity,
      sampled: records.length,
    });
    if (outPlan?.task === "regression") bounds.score = { output: outPlan.value, pick: "value" };
    else if (outPlan?.proba) bounds.score = { output: outPlan.proba, pick: "proba" };
    // What every request is checked against from the next rollup on (input outliers, missing
    // values); new bounds are applied to the last day already rolled up as well.
    const [previous] = await db.select({ bounds: referenceBounds.bounds }).from(referenceBounds).where(eq(referenceBounds.deploymentId, d.id));
    await db
      .insert(referenceBounds)
      .values({ deploymentId: d.id, workspaceId: d.workspaceId, modelVersionId: d.primaryVersionId, bounds, computedAt: now })
      .onConflictDoUpdate({ target: referenceBounds.deploymentId, set: { modelVersionId: d.primaryVersionId, bounds, computedAt: now } });
    if (JSON.stringify(previous?.bounds) !== JSON.stringify(bounds)) await recheckInputs(d.id, new Date(Date.now() - RECHECK_MS));
    publish.toWorkspace(d.workspaceId, "monitoring.updated", { workspaceId: d.workspaceId, deploymentId: d.id });
    computed++;
  }
  return { computed };
}

import { and, desc, eq, gte, inArray, sql } from "drizzle-orm";
import { getDb } from "~/db/client";
import { datasets, datasetVersions, deployments, driftResults, modelVersionDatasets, modelVersions, predictionLogs } from "~/db/schema";
import { materialize } from "~/server/artifacts/store";
import { categoricalDrift, driftReport, numericDrift, type FeatureDrift } from "~/server/monitoring/drift";
import { publish } from "~/server/realtime/publish";
import { featureNames } from "~/server/shared/tabular";
import type { ColumnSchema } from "~/db/schema/registry";
import { loadTable, type Table } from "~/workers/steps/runtime";

/*
 * Drift of every input feature of each active deployment: the last window of logged
 * inputs (a sample of at most MAX_CURRENT records, newest first) against the reference —
 * the training dataset version in the primary version's lineage, else its evaluation
 * dataset. Computed here from a windowed sample, never by scanning all logs per chart.
 */
const MAX_REFERENCE = 100_000;
const MAX_CURRENT = 20_000;

/*
 * Reference tables by content hash and columns: a dataset version never changes, so it is
 * read from the artifact store once per worker, not at every run for every deployment.
 */
const references = new Map<string, Promise<Table>>();
function reference(sha256: string, format: "csv" | "parquet", columns: ColumnSchema[]) {
  const key = `${sha256}:${columns.map((c) => c.name).join(",")}`;
  let t = references.get(key);
  if (!t) {
    t = (async () => {
      const file = await materialize(sha256);
      try {
        return await loadTable(file.path, format, columns, { maxRows: MAX_REFERENCE });
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

export async function computeDriftAll(now = new Date(), windowMinutes = 60, onlyDeploymentId?: string) {
  const db = getDb();
  const list = await db
    .select()
    .from(deployments)
    .where(and(eq(deployments.status, "active"), onlyDeploymentId ? eq(deployments.id, onlyDeploymentId) : undefined));
  let computed = 0;
  for (const d of list) {
    const [v] = await db.select({ id: modelVersions.id, signature: modelVersions.signature }).from(modelVersions).where(eq(modelVersions.id, d.primaryVersionId));
    const lineage = await db
      .select({ role: modelVersionDatasets.role, name: datasets.name, version: datasetVersions.version, sha256: datasetVersions.sha256, format: datasetVersions.format, schema: datasetVersions.schema })
      .from(modelVersionDatasets)
      .innerJoin(datasetVersions, eq(datasetVersions.id, modelVersionDatasets.datasetVersionId))
      .innerJoin(datasets, eq(datasets.id, datasetVersions.datasetId))
      .where(and(eq(modelVersionDatasets.modelVersionId, d.primaryVersionId), inArray(modelVersionDatasets.role, ["train", "eval"])));
    const ref = lineage.find((l) => l.role === "train") ?? lineage.find((l) => l.role === "eval");
    if (!v || !ref) continue;
    const wanted = featureNames(v.signature) ?? v.signature.inputs.map((i) => i.name);
    const columns = ref.schema.filter((c) => wanted.includes(c.name) && (c.logical === "numeric" || c.logical === "boolean" || c.logical === "categorical"));
    if (!columns.length) continue;
    const table = await reference(ref.sha256, ref.format, columns);
    const windowStart = new Date(now.getTime() - windowMinutes * 60_000);
    const logs = await db
      .select({ inputs: predictionLogs.inputs })
      .from(predictionLogs)
      .where(and(eq(predictionLogs.deploymentId, d.id), gte(predictionLogs.at, windowStart), sql`${predictionLogs.at} < ${now.toISOString()}::timestamptz`, eq(predictionLogs.status, "ok"), inArray(predictionLogs.role, ["primary", "canary"])))
      .orderBy(desc(predictionLogs.at))
      .limit(MAX_CURRENT);
    // Records from `instances` bodies; tensor bodies carry no column names to compare.
    const records: Record<string, unknown>[] = [];
    for (const l of logs) {
      const inst = (l.inputs as { instances?: unknown } | null)?.instances;
      if (Array.isArray(inst)) for (const r of inst) if (r && typeof r === "object") records.push(r as Record<string, unknown>);
    }
    const features: FeatureDrift[] = columns.map((c) => {
      const col = table.columns.get(c.name)!;
      if (col.kind === "num") {
        const refValues = Array.from(col.values).filter((x) => Number.isFinite(x));
        const cur = records.map((r) => Number(r[c.name])).filter((x) => Number.isFinite(x));
        return numericDrift(c.name, refValues, cur);
      }
      const refValues = col.values.filter((x): x is string => x !== null);
      const cur = records.map((r) => r[c.name]).filter((x) => x !== null && x !== undefined).map(String);
      return categoricalDrift(c.name, refValues, cur);
    });
    driftReport(features);
    const ok = features.filter((f) => f.status === "ok");
    const maxSeverity = !ok.length ? "unknown" : ok.some((f) => f.severity === "major") ? "major" : ok.some((f) => f.severity === "moderate") ? "moderate" : "none";
    await db.insert(driftResults).values({ workspaceId: d.workspaceId, deploymentId: d.id, modelVersionId: d.primaryVersionId, windowStart, windowEnd: now, reference: { dataset: ref.name, version: ref.version, role: ref.role, rows: table.rows }, features, maxSeverity, sampled: records.length });
    publish.toWorkspace(d.workspaceId, "monitoring.updated", { workspaceId: d.workspaceId, deploymentId: d.id });
    computed++;
  }
  return { computed };
}

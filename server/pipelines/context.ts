import "server-only";
import { and, desc, eq, inArray } from "drizzle-orm";
import { getDb } from "~/db/client";
import { datasets, datasetVersions, modelAliases, models, modelVersionDatasets, modelVersions, pipelineRuns, pipelineVersions } from "~/db/schema";
import type { stepRuns } from "~/db/schema";
import type { ColumnSchema, DatasetProfile, OnnxSignature } from "~/db/schema/registry";
import { materialize } from "~/server/artifacts/store";
import type { PipelineSpec, StepOptions, StepSpec } from "~/server/shared/pipeline-spec";

/*
 * What a step needs, resolved from the database before it runs: the pipeline's options
 * for the step, the model version's file and signature, the dataset (from the version's
 * lineage or by name), the training profile, the label and sensitive columns, and the
 * champion to compare with. Files are materialised locally; release() cleans up.
 */

export class ConfigError extends Error {}

type Step = typeof stepRuns.$inferSelect;
type DatasetInfo = { file: string; format: "csv" | "parquet"; schema: ColumnSchema[]; profile: DatasetProfile; ref: string };
type ModelInfo = { file: string; signature: OnnxSignature; ref: string; name: string; version: number; id: string };

export type ResolvedStep = {
  run: typeof pipelineRuns.$inferSelect;
  spec: StepSpec;
  options: StepOptions;
  model: ModelInfo | null;
  dataset?: DatasetInfo;
  train?: { profile: DatasetProfile; ref: string };
  champion?: ModelInfo | null;
  label?: string;
  sensitive?: string;
  slices: string[];
  release: () => Promise<void>;
};

const LABEL_GUESSES = ["label", "target", "y", "class"];

export async function resolveStep(step: Step): Promise<ResolvedStep> {
  const db = getDb();
  const [run] = await db.select().from(pipelineRuns).where(eq(pipelineRuns.id, step.runId));
  const [pv] = await db.select({ spec: pipelineVersions.spec }).from(pipelineVersions).where(eq(pipelineVersions.id, run!.pipelineVersionId));
  const pipeline = pv!.spec as PipelineSpec;
  const spec = pipeline.steps[step.key]!;
  const options: StepOptions = { ...pipeline.inputs, ...spec.with };
  const releases: (() => Promise<void>)[] = [];
  const release = async () => {
    for (const r of releases) await r().catch(() => undefined);
  };
  try {
    const base = { run: run!, spec, options, slices: options.slices ?? [], release };
    if (!run!.modelVersionId) {
      if (spec.type !== "command") throw new ConfigError(`Step "${step.key}" tests a model, but this run has no model version.`);
      return { ...base, model: null };
    }
    const loadModel = async (id: string): Promise<ModelInfo> => {
      const [mv] = await db
        .select({ id: modelVersions.id, sha256: modelVersions.sha256, signature: modelVersions.signature, version: modelVersions.version, name: models.name })
        .from(modelVersions)
        .innerJoin(models, eq(models.id, modelVersions.modelId))
        .where(eq(modelVersions.id, id));
      const file = await materialize(mv!.sha256);
      releases.push(file.release);
      return { id: mv!.id, file: file.path, signature: mv!.signature, ref: `${mv!.name}@${mv!.version}`, name: mv!.name, version: mv!.version };
    };
    const model = await loadModel(run!.modelVersionId);
    // A command step gets a dataset only when it names one itself (`with: { dataset: … }`).
    if (spec.type === "command" && !spec.with?.dataset) return { ...base, model };

    const lineage = await db
      .select({ role: modelVersionDatasets.role, id: datasetVersions.id, name: datasets.name, version: datasetVersions.version })
      .from(modelVersionDatasets)
      .innerJoin(datasetVersions, eq(datasetVersions.id, modelVersionDatasets.datasetVersionId))
      .innerJoin(datasets, eq(datasets.id, datasetVersions.datasetId))
      .where(eq(modelVersionDatasets.modelVersionId, model.id));
    const loadDataset = async (id: string): Promise<DatasetInfo> => {
      const [dv] = await db
        .select({
          sha256: datasetVersions.sha256,
          format: datasetVersions.format,
          schema: datasetVersions.schema,
          profile: datasetVersions.profile,
          version: datasetVersions.version,
          name: datasets.name,
        })
        .from(datasetVersions)
        .innerJoin(datasets, eq(datasets.id, datasetVersions.datasetId))
        .where(eq(datasetVersions.id, id));
      const file = await materialize(dv!.sha256);
      releases.push(file.release);
      return { file: file.path, format: dv!.format, schema: dv!.schema, profile: dv!.profile, ref: `${dv!.name}@${dv!.version}` };
    };
    const choice = options.dataset ?? "eval";
    let datasetId: string | undefined;
    if (choice === "eval" || choice === "train") {
      datasetId = lineage.find((l) => l.role === choice)?.id;
      if (!datasetId && spec.type !== "performance") {
        throw new ConfigError(
          `${model.ref} has no ${choice === "eval" ? "evaluation" : "training"} dataset in its lineage. Register it with datasets: [{ ref: "name@version", role: "${choice}" }], or set \`dataset: name@version\` in the pipeline.`,
        );
      }
    } else {
      const [name, v] = choice.split("@");
      const [row] = await db
        .select({ id: datasetVersions.id })
        .from(datasetVersions)
        .innerJoin(datasets, eq(datasets.id, datasetVersions.datasetId))
        .where(and(eq(datasets.workspaceId, step.workspaceId), eq(datasets.name, name!), ...(v ? [eq(datasetVersions.version, Number(v))] : [])))
        .orderBy(desc(datasetVersions.version))
        .limit(1);
      if (!row) throw new ConfigError(`There is no dataset ${choice} in this workspace (set in the pipeline's \`dataset\`).`);
      datasetId = row.id;
    }
    const dataset = datasetId ? await loadDataset(datasetId) : undefined;
    if (spec.type === "command") return { ...base, model, dataset };
    const trainLineage = lineage.find((l) => l.role === "train");
    let train: ResolvedStep["train"];
    if (trainLineage) {
      const [t] = await db.select({ profile: datasetVersions.profile }).from(datasetVersions).where(eq(datasetVersions.id, trainLineage.id));
      train = { profile: t!.profile, ref: `${trainLineage.name}@${trainLineage.version}` };
    }
    const meta = model.signature.metadata;
    const columns = dataset?.schema.map((c) => c.name) ?? [];
    const label = options.label ?? meta.label_column ?? meta.target ?? LABEL_GUESSES.find((g) => columns.includes(g));
    const sensitive = options.sensitive ?? meta.sensitive_columns?.split(",")[0]?.trim() ?? undefined;

    let champion: ModelInfo | null | undefined;
    if (spec.type === "compare-to-champion") {
      const [mv] = await db.select({ modelId: modelVersions.modelId }).from(modelVersions).where(eq(modelVersions.id, model.id));
      const holders = await db
        .select({ alias: modelAliases.alias, id: modelAliases.modelVersionId })
        .from(modelAliases)
        .where(and(eq(modelAliases.modelId, mv!.modelId), inArray(modelAliases.alias, ["champion", "production"])));
      const holder = holders.find((h) => h.alias === "champion") ?? holders.find((h) => h.alias === "production");
      champion = holder ? (holder.id === model.id ? { ...model } : await loadModel(holder.id)) : null;
    }
    return { ...base, model, dataset, train, label, sensitive, champion };
  } catch (err) {
    await release();
    throw err;
  }
}

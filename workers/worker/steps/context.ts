import type { ColumnSchema, DatasetProfile, OnnxSignature } from "~/db/schema/registry";
import type { StepOptions, StepType, Threshold } from "~/server/shared/pipeline-spec";

/*
 * What a model-testing step receives from the parent (the files, signature and
 * profiles it resolved) and what it returns: its figures, chart data and the
 * default thresholds for its checks.
 */

export type ModelRef = { file: string; signature: OnnxSignature; ref: string };
export type StepContext = {
  type: Exclude<StepType, "command">;
  options: StepOptions;
  model: ModelRef;
  dataset?: { file: string; format: "csv" | "parquet"; schema: ColumnSchema[]; profile: DatasetProfile; ref: string };
  train?: { profile: DatasetProfile; ref: string };
  champion?: ModelRef | null;
  label?: string;
  sensitive?: string;
  slices: string[];
};
export type StepOutput = {
  metrics: Record<string, number | null>;
  defaults: Record<string, Threshold>;
  outputs: Record<string, unknown>;
  notes?: Record<string, string>;
  /** The step did not apply (no sensitive column, no champion…): why. */
  skipped?: string;
};
export type Log = (line: string) => void;

export class StepFailure extends Error {}

export const fail = (msg: string): never => {
  throw new StepFailure(msg);
};

/** One built-in step type: reads the context, logs progress, returns its figures (or throws StepFailure). */
export type StepHandler = (ctx: StepContext, log: Log) => Promise<StepOutput>;

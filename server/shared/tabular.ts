import type { OnnxSignature, OnnxValueInfo } from "~/db/schema/registry";

/*
 * How the columns of a table feed a model's inputs, and how its outputs read as
 * predictions. Isomorphic and pure: the pipeline steps, the inference server's
 * `instances` requests and the UI all use the same rules.
 *
 *  - one input of shape [batch, F] and `feature_names` metadata with F names: a matrix,
 *    columns in that order;
 *  - otherwise every input is named after a column and has shape [batch] or [batch, 1].
 */

export const NUMERIC_ELEMS = new Set(["float", "double", "float16", "bfloat16", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"]);

export type InputPlan =
  | { kind: "matrix"; input: string; elemType: string; features: string[] }
  | { kind: "columns"; inputs: { input: string; column: string; elemType: string; rank: 1 | 2 }[] };

export class PlanError extends Error {}

export function featureNames(sig: Pick<OnnxSignature, "metadata">): string[] | null {
  const raw = sig.metadata.feature_names;
  if (!raw) return null;
  const names = raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return names.length ? names : null;
}

/** Plans how to feed `sig`'s inputs from a table with `columns`; throws PlanError naming what is missing. */
export function planInputs(sig: Pick<OnnxSignature, "inputs" | "metadata">, columns?: string[]): InputPlan {
  const names = featureNames(sig);
  const first = sig.inputs[0];
  if (sig.inputs.length === 1 && first && first.shape?.length === 2 && names) {
    const width = first.shape[1];
    if (typeof width === "number" && width !== names.length) {
      throw new PlanError(`Input "${first.name}" has ${width} features but the model's feature_names metadata lists ${names.length}.`);
    }
    if (columns) {
      const missing = names.filter((n) => !columns.includes(n));
      if (missing.length)
        throw new PlanError(
          `The dataset has no column${missing.length > 1 ? "s" : ""} ${missing.map((m) => `"${m}"`).join(", ")}, which the model takes as features (feature_names: ${names.join(", ")}).`,
        );
    }
    return { kind: "matrix", input: first.name, elemType: first.elemType, features: names };
  }
  const inputs = sig.inputs.map((inp: OnnxValueInfo): { input: string; column: string; elemType: string; rank: 1 | 2 } => {
    const rank = inp.shape?.length ?? 1;
    if (rank > 2 || (rank === 2 && inp.shape?.[1] !== 1)) {
      throw new PlanError(
        `Input "${inp.name}" has shape [${(inp.shape ?? []).map((d) => d ?? "?").join(", ")}]; a table feeds it only with one column per input ([batch] or [batch, 1]) or, for one [batch, F] input, with feature_names metadata naming the F columns.`,
      );
    }
    if (columns && !columns.includes(inp.name)) throw new PlanError(`The dataset has no column "${inp.name}" for the model's input "${inp.name}".`);
    return { input: inp.name, column: inp.name, elemType: inp.elemType, rank: rank === 2 ? 2 : 1 };
  });
  return { kind: "columns", inputs };
}

/** The table columns the plan reads, in order. */
export const planColumns = (plan: InputPlan) => (plan.kind === "matrix" ? plan.features : plan.inputs.map((i) => i.column));

export type OutputPlan = { task: "classification"; proba?: string; label?: string } | { task: "regression"; value: string };

/** Which outputs hold probabilities, labels or a regression value. */
export function planOutputs(sig: Pick<OnnxSignature, "outputs">, task?: "classification" | "regression"): OutputPlan {
  const outs = sig.outputs.filter((o) => o.elemType !== "map" && o.elemType !== "sequence");
  const proba = outs.find((o) => /prob|score/i.test(o.name) && (o.elemType === "float" || o.elemType === "double"));
  const label = outs.find((o) => /label|class|pred/i.test(o.name) && o !== proba);
  if (task === "regression" || (!task && !proba && !(label && label.elemType !== "float" && label.elemType !== "double"))) {
    const value = outs.find((o) => o.elemType === "float" || o.elemType === "double");
    if (!value) throw new PlanError("The model has no float output to read as a regression value.");
    return { task: "regression", value: value.name };
  }
  if (!proba && !label) throw new PlanError("The model has no probability or label output (outputs named like 'probability' or 'label').");
  return { task: "classification", proba: proba?.name, label: label?.name };
}

import { LineCounter, parseDocument, isMap, isSeq, isScalar, type Node as YamlNode } from "yaml";
import { z } from "zod";

/*
 * Pipeline definitions are YAML, validated here — isomorphic, so the editor shows the
 * same errors inline, with line and column, that the server refuses to save.
 */

export const STEP_TYPES = ["data-integrity", "evaluate", "fairness", "robustness", "performance", "explain", "compare-to-champion", "command"] as const;
export type StepType = (typeof STEP_TYPES)[number];

export const STEP_TYPE_INFO: Record<StepType, string> = {
  "data-integrity": "The evaluation dataset matches the model's inputs and the training profile.",
  evaluate: "Runs the model over the evaluation dataset: classification or regression metrics, slices.",
  fairness: "Selection rate, TPR and FPR per group of a sensitive column; parity and equalized odds.",
  robustness: "Prediction stability under noise, missing and out-of-range values, category swaps.",
  performance: "Latency p50/p95/p99 and throughput at batch 1 and 32, peak memory, on this CPU.",
  explain: "Permutation feature importance on the evaluation dataset.",
  "compare-to-champion": "Metrics against the version behind `champion` (else `production`).",
  command: "A shell command run by the worker (admins only); its ONNX output registers a new version.",
};

const Key = z.string().regex(/^[a-z][a-z0-9_-]{0,39}$/, "A step key is 1-40 lower-case letters, digits, '_' or '-', starting with a letter.");

export const Threshold = z
  .object({
    fail_below: z.number().optional(),
    warn_below: z.number().optional(),
    fail_above: z.number().optional(),
    warn_above: z.number().optional(),
  })
  .strict()
  .refine((t) => Object.keys(t).length > 0, "A threshold needs at least one of fail_below, warn_below, fail_above, warn_above.");
export type Threshold = z.infer<typeof Threshold>;

const Cron = z
  .string()
  .trim()
  .regex(/^(\S+\s+){4}\S+$/, 'A schedule is a cron expression with five fields, for example "0 3 * * *".');

const DatasetChoice = z
  .string()
  .regex(
    /^(eval|train|[A-Za-z0-9][A-Za-z0-9._-]*(@\d+)?)$/,
    "dataset is `eval`, `train` (the model version's lineage) or a dataset name, optionally with @version.",
  );

/** Options shared by the model-testing steps; `inputs` sets them for every step, `with` per step. */
export const StepOptions = z
  .object({
    dataset: DatasetChoice.optional(),
    label: z.string().min(1).optional(),
    sensitive: z.string().min(1).optional(),
    slices: z.array(z.string().min(1)).max(10).optional(),
    task: z.enum(["classification", "regression"]).optional(),
    positive_label: z.union([z.string(), z.number()]).optional(),
    /** The label set macro averages run over (scikit-learn's `labels=`); default: the classes present in the labels or the predictions. */
    labels: z
      .array(z.union([z.string(), z.number()]))
      .min(1)
      .max(1000)
      .optional(),
    /** Rows read from the dataset (evaluate, fairness, robustness, explain); all when absent. */
    max_rows: z.number().int().positive().optional(),
    batch_size: z.number().int().min(1).max(65536).optional(),
    /** robustness */
    noise_scales: z.array(z.number().positive()).max(10).optional(),
    /** explain */
    repeats: z.number().int().min(1).max(20).optional(),
    /** performance */
    iterations: z.number().int().min(5).max(100000).optional(),
    /** compare-to-champion */
    metrics: z.array(z.string()).max(20).optional(),
    tolerance: z.number().min(0).optional(),
    /** command: the model name its ONNX outputs register under (default: the run's model). */
    register_as: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/)
      .optional(),
    /**
     * command: open a review request moving the version it registers to this alias, in the
     * name of the pipeline version's author — the retraining loop's last link (alert →
     * retrain → validate → review). The new version's validation runs as for any version.
     */
    open_review: z
      .object({ alias: z.string().min(1).max(60), summary: z.string().max(2000).optional() })
      .strict()
      .optional(),
  })
  .strict();
export type StepOptions = z.infer<typeof StepOptions>;

const Step = z
  .object({
    type: z.enum(STEP_TYPES, { error: `type must be one of: ${STEP_TYPES.join(", ")}.` }),
    needs: z.array(Key).max(20).optional(),
    with: StepOptions.optional(),
    checks: z.record(z.string().min(1), Threshold).optional(),
    /** Seconds; the step fails when it runs longer. */
    timeout: z
      .number()
      .int()
      .min(1)
      .max(24 * 3600)
      .optional(),
    /** false: the step's checks inform but do not gate (a failure shows, the run does not fail). */
    required: z.boolean().optional(),
    retries: z.number().int().min(0).max(5).optional(),
    // command steps
    run: z.string().min(1).max(10_000).optional(),
    env: z.record(z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "Environment variable names are upper case, digits and '_'."), z.string()).optional(),
    /** Relative to the step's work folder (its `/steward/work` inside the sandbox). */
    workdir: z
      .string()
      .min(1)
      .max(200)
      .refine((w) => !w.startsWith("/") && !w.split("/").includes(".."), "workdir is a folder inside the step's work folder: a relative path without '..'.")
      .optional(),
    /** The sandbox has no network unless the step asks for it here and the instance allows it (COMMAND_STEPS_NETWORK). */
    network: z.boolean().optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.type === "command" && !s.run) ctx.addIssue({ code: "custom", message: "A command step needs `run`: the shell command to execute.", path: ["run"] });
    if (s.type !== "command") {
      for (const k of ["run", "env", "workdir", "network"] as const) {
        if (s[k] !== undefined) ctx.addIssue({ code: "custom", message: `\`${k}\` is only for command steps.`, path: [k] });
      }
      if (s.with?.open_review)
        ctx.addIssue({
          code: "custom",
          message: "`open_review` is only for command steps (it reviews the version the command registers).",
          path: ["with", "open_review"],
        });
    }
  });
export type StepSpec = z.infer<typeof Step>;

export const PipelineSpec = z
  .object({
    description: z.string().max(2000).optional(),
    on: z
      .object({
        model_version: z.union([z.boolean(), z.object({ models: z.array(z.string().min(1)).min(1) }).strict()]).optional(),
        schedule: Cron.optional(),
      })
      .strict()
      .optional(),
    /** The model version a scheduled or alert-started run tests. */
    target: z
      .object({ model: z.string().min(1), alias: z.string().min(1).default("production") })
      .strict()
      .optional(),
    inputs: StepOptions.optional(),
    steps: z.record(Key, Step).refine((s) => Object.keys(s).length > 0, "A pipeline needs at least one step."),
  })
  .strict()
  .superRefine((p, ctx) => {
    const keys = Object.keys(p.steps);
    for (const [key, step] of Object.entries(p.steps)) {
      for (const [i, dep] of (step.needs ?? []).entries()) {
        if (dep === key) ctx.addIssue({ code: "custom", message: `Step "${key}" cannot need itself.`, path: ["steps", key, "needs", i] });
        else if (!keys.includes(dep))
          ctx.addIssue({
            code: "custom",
            message: `Step "${key}" needs "${dep}", which is not a step of this pipeline (steps: ${keys.join(", ")}).`,
            path: ["steps", key, "needs", i],
          });
      }
    }
    const cycle = findCycle(Object.fromEntries(Object.entries(p.steps).map(([k, s]) => [k, s.needs ?? []])));
    if (cycle)
      ctx.addIssue({ code: "custom", message: `The steps form a cycle: ${cycle.join(" → ")}. A pipeline is a DAG.`, path: ["steps", cycle[0]!, "needs"] });
    if (p.on?.schedule && !p.target)
      ctx.addIssue({
        code: "custom",
        message: "A scheduled pipeline needs `target` (model and alias) to know which version to test.",
        path: ["on", "schedule"],
      });
  });
export type PipelineSpec = z.infer<typeof PipelineSpec>;

export function findCycle(graph: Record<string, string[]>): string[] | null {
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (n: string): string[] | null => {
    if (state.get(n) === 2) return null;
    if (state.get(n) === 1) return [...stack.slice(stack.indexOf(n)), n];
    state.set(n, 1);
    stack.push(n);
    for (const d of graph[n] ?? []) {
      if (!(d in graph)) continue;
      const c = visit(d);
      if (c) return c;
    }
    stack.pop();
    state.set(n, 2);
    return null;
  };
  for (const n of Object.keys(graph)) {
    const c = visit(n);
    if (c) return c;
  }
  return null;
}

/** Steps in an order where each comes after what it needs. */
export function topoOrder(spec: PipelineSpec): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const visit = (k: string) => {
    if (seen.has(k)) return;
    seen.add(k);
    for (const d of spec.steps[k]?.needs ?? []) visit(d);
    out.push(k);
  };
  for (const k of Object.keys(spec.steps)) visit(k);
  return out;
}

export type SpecIssue = { message: string; path: string; line: number; col: number; from: number; to: number };
export type ParseResult = { ok: true; spec: PipelineSpec; issues: [] } | { ok: false; issues: SpecIssue[] };

function nodeAt(doc: ReturnType<typeof parseDocument>, path: (string | number)[]): YamlNode | null {
  // Walk as deep as the path exists; report at the deepest node found (the key if the value is missing).
  let node: unknown = doc.contents;
  let found: YamlNode | null = doc.contents ?? null;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((it) => isScalar(it.key) && String(it.key.value) === String(seg));
      if (!pair) break;
      found = (pair.value as YamlNode | null) ?? (pair.key as YamlNode);
      node = pair.value;
      if (!node) {
        found = pair.key as YamlNode;
        break;
      }
    } else if (isSeq(node) && typeof seg === "number") {
      const item = node.items[seg] as YamlNode | undefined;
      if (!item) break;
      found = item;
      node = item;
    } else break;
  }
  return found;
}

/** Parses and validates a pipeline's YAML; every problem comes back with its position. */
export function parsePipelineYaml(text: string): ParseResult {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const pos = (offset: number) => lc.linePos(Math.max(0, Math.min(offset, text.length)));
  if (doc.errors.length) {
    return {
      ok: false,
      issues: doc.errors.map((e) => {
        const [from, to] = e.pos;
        const p = pos(from);
        return { message: `YAML: ${e.message.split("\n")[0]}`, path: "", line: p.line, col: p.col, from, to: Math.max(to, from + 1) };
      }),
    };
  }
  const raw: unknown = doc.toJS();
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    return {
      ok: false,
      issues: [{ message: "A pipeline is a YAML mapping with at least `steps`.", path: "", line: 1, col: 1, from: 0, to: Math.max(1, text.length) }],
    };
  }
  const result = PipelineSpec.safeParse(raw);
  if (result.success) return { ok: true, spec: result.data, issues: [] };
  return {
    ok: false,
    issues: result.error.issues.map((issue) => {
      const path = issue.path.map((p) => (typeof p === "symbol" ? String(p) : p));
      // Unknown keys: point at the key itself.
      const extra = issue.code === "unrecognized_keys" ? issue.keys[0] : undefined;
      const node = nodeAt(doc, extra ? [...path, extra] : path);
      let from = node?.range?.[0] ?? 0;
      let to = node?.range?.[1] ?? from + 1;
      if (extra && isMap(nodeAt(doc, path))) {
        const map = nodeAt(doc, path);
        const pair = isMap(map) ? map.items.find((it) => isScalar(it.key) && String(it.key.value) === extra) : undefined;
        if (pair && isScalar(pair.key) && pair.key.range) [from, to] = [pair.key.range[0], pair.key.range[1]];
      }
      const p = pos(from);
      const where = path.length ? path.join(".") : "(top level)";
      const message =
        issue.code === "unrecognized_keys"
          ? `Unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")} in ${where}.`
          : issue.message;
      return { message, path: where, line: p.line, col: p.col, from, to: Math.max(to, from + 1) };
    }),
  };
}

/** True when the pipeline runs shell commands (only admins may define those). */
export const hasCommandStep = (spec: PipelineSpec) => Object.values(spec.steps).some((s) => s.type === "command");

export const DEFAULT_VALIDATE_YAML = `# Runs on every new model version, before anyone reviews it.
description: Checks every new model version before review.
on:
  model_version: true
inputs:
  # \`eval\` is the evaluation dataset in the version's lineage.
  dataset: eval
steps:
  integrity:
    type: data-integrity
  evaluate:
    type: evaluate
    needs: [integrity]
  fairness:
    type: fairness
    needs: [integrity]
  robustness:
    type: robustness
    needs: [integrity]
  performance:
    type: performance
  explain:
    type: explain
    needs: [integrity]
    required: false
  champion:
    type: compare-to-champion
    needs: [evaluate]
`;

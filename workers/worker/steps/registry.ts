import type { StepType } from "~/server/shared/pipeline-spec";
import { StepFailure, type Log, type StepContext, type StepHandler, type StepOutput } from "./context";
import { compareStep } from "./types/compare-to-champion";
import { integrityStep } from "./types/data-integrity";
import { evaluateStep } from "./types/evaluate";
import { explainStep } from "./types/explain";
import { fairnessStep } from "./types/fairness";
import { performanceStep } from "./types/performance";
import { robustnessStep } from "./types/robustness";

/*
 * The built-in step types. Each reads what the parent resolved (files, signature,
 * profiles), computes its figures and chart data, and returns them with the default
 * thresholds for its checks; the parent judges them and records the result.
 */
// One handler per step type of the pipeline spec (server/shared/pipeline-spec.ts STEP_TYPES).
// "command" is not here: it runs a shell command in the sandbox (spawn.ts), not in the
// step process; registry.test.ts fails when the two lists disagree.
export const COMMAND_STEP_TYPE = "command" satisfies StepType;
export const STEP_HANDLERS: Record<Exclude<StepType, typeof COMMAND_STEP_TYPE>, StepHandler> = {
  "data-integrity": integrityStep,
  evaluate: evaluateStep,
  fairness: fairnessStep,
  robustness: robustnessStep,
  performance: performanceStep,
  explain: explainStep,
  "compare-to-champion": compareStep,
};

export async function runStep(ctx: StepContext, log: Log): Promise<StepOutput> {
  const handler = STEP_HANDLERS[ctx.type] as StepHandler | undefined;
  if (!handler) throw new StepFailure(`No handler for step type "${ctx.type}" in the step process.`);
  return handler(ctx, log);
}

import type { CheckStatus } from "~/db/schema/pipelines";
import type { Threshold } from "~/server/shared/pipeline-spec";

export type CheckResult = { name: string; status: CheckStatus; value: number | null; threshold: string; message: string };

const fmt = (v: number) => (Math.abs(v) >= 1000 || Number.isInteger(v) ? String(v) : Number(v.toPrecision(4)).toString());

export function describeThreshold(t: Threshold): string {
  const parts: string[] = [];
  if (t.fail_below !== undefined) parts.push(`fail < ${fmt(t.fail_below)}`);
  if (t.fail_above !== undefined) parts.push(`fail > ${fmt(t.fail_above)}`);
  if (t.warn_below !== undefined) parts.push(`warn < ${fmt(t.warn_below)}`);
  if (t.warn_above !== undefined) parts.push(`warn > ${fmt(t.warn_above)}`);
  return parts.join(" · ");
}

/** One figure against its threshold: fail beats warn beats pass. */
export function judge(name: string, value: number | null | undefined, t: Threshold, why?: string): CheckResult {
  const threshold = describeThreshold(t);
  if (value === null || value === undefined || Number.isNaN(value)) {
    return { name, status: "warn", value: null, threshold, message: `${name} could not be computed${why ? `: ${why}` : ""}.` };
  }
  const below = (x?: number) => x !== undefined && value < x;
  const above = (x?: number) => x !== undefined && value > x;
  if (below(t.fail_below) || above(t.fail_above)) return { name, status: "fail", value, threshold, message: `${name} is ${fmt(value)} (${threshold}).` };
  if (below(t.warn_below) || above(t.warn_above)) return { name, status: "warn", value, threshold, message: `${name} is ${fmt(value)} (${threshold}).` };
  return { name, status: "pass", value, threshold, message: `${name} is ${fmt(value)}.` };
}

/**
 * The step's checks: its built-in defaults, overridden or extended by the pipeline's
 * `checks`. A threshold on a figure the step does not produce fails, naming the ones it does.
 */
export function evaluateChecks(
  metrics: Record<string, number | null>,
  defaults: Record<string, Threshold>,
  overrides: Record<string, Threshold> = {},
  notes: Record<string, string> = {},
): CheckResult[] {
  const merged = { ...defaults, ...overrides };
  return Object.entries(merged).map(([name, t]) => {
    if (!(name in metrics)) {
      const available = Object.keys(metrics).sort();
      return {
        name,
        status: "fail" as const,
        value: null,
        threshold: describeThreshold(t),
        message: `This step produces no figure "${name}"${available.length ? ` (it produces: ${available.join(", ")})` : ""}.`,
      };
    }
    return judge(name, metrics[name], t, notes[name]);
  });
}

export const worst = (statuses: CheckStatus[]): CheckStatus => (statuses.includes("fail") ? "fail" : statuses.includes("warn") ? "warn" : "pass");

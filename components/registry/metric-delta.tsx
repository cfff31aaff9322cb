import { cn } from "~/components/ui/cn";
import { changeVerdict } from "~/server/shared/metrics";

const TONE = { better: "text-emerald-700 dark:text-emerald-400", worse: "text-red-600 dark:text-red-400", same: "text-muted" } as const;

/**
 * A change of a metric, green when it is an improvement for that metric and red when it is
 * a regression (a lower log_loss is green). Without a metric name it is only a number.
 * Used by the Compare page and the review room.
 */
export function DeltaText({ value, metric, digits = 4 }: { value: number | null; metric?: string; digits?: number }) {
  if (value === null) return <span className="text-muted">—</span>;
  const verdict = metric ? changeVerdict(metric, value) : "same";
  return (
    <span className={cn("tabular-nums", TONE[verdict])}>
      {value > 0 ? "+" : ""}
      {Number(value.toPrecision(digits))}
      {metric && verdict !== "same" && <span className="sr-only"> ({verdict})</span>}
    </span>
  );
}

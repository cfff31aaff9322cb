import { Loader2 } from "lucide-react";
import { Badge, type Tone } from "~/components/ui/badge";

const TONE: Record<string, Tone> = {
  passed: "passing",
  pass: "passing",
  warned: "warning",
  warn: "warning",
  failed: "failing",
  fail: "failing",
  queued: "pending",
  pending: "pending",
  running: "pending",
  skipped: "stale",
  cancelled: "stale",
};

export const LABEL: Record<string, string> = { pass: "pass", warn: "warn", fail: "fail", pending: "waiting" };

/** Run, step and check statuses, one colour per meaning (as everywhere in the app). */
export function StatusBadge({ status, title }: { status: string; title?: string }) {
  return (
    <Badge tone={TONE[status] ?? "neutral"} title={title} data-status={status}>
      {status === "running" && <Loader2 className="size-3 animate-spin" aria-hidden />}
      {LABEL[status] ?? status}
    </Badge>
  );
}

export function duration(start: Date | null, end: Date | null, now = Date.now()) {
  if (!start) return "—";
  // The clock ticks once a second; never show a step as having run for less than nothing.
  const ms = Math.max(0, (end ? end.getTime() : Math.max(now, Date.now())) - start.getTime());
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export const fmt = (v: number | null | undefined, digits = 4) =>
  v === null || v === undefined || Number.isNaN(v) ? "—" : Math.abs(v) >= 1000 ? Math.round(v).toLocaleString("en") : Number(v.toPrecision(digits)).toString();

import { Badge, type Tone } from "~/components/ui/badge";
import type { InventoryStatus, RiskTier } from "~/server/shared/inventory.schema";

/** One colour per state, as elsewhere: current is passing, due soon a warning, overdue failing, unassessed neutral. */
export const STATUS_TONE: Record<InventoryStatus, Tone> = { current: "passing", "due soon": "warning", overdue: "failing", "not assessed": "neutral" };

export function StatusBadge({ status }: { status: InventoryStatus }) {
  return (
    <Badge tone={STATUS_TONE[status]} data-status={status}>
      {status}
    </Badge>
  );
}

const TIER_BARS: Record<RiskTier, number> = { high: 3, medium: 2, low: 1 };

/**
 * A risk tier is not a status, so it gets no status colour (red would read as "failing"):
 * a neutral badge with one to three bars, the word carrying the meaning.
 */
export function TierBadge({ tier }: { tier: RiskTier | null }) {
  if (!tier) return <span className="text-xs text-muted">not assessed</span>;
  return (
    <Badge tone="neutral" className="text-fg" data-tier={tier} title={`${tier} risk`}>
      <span aria-hidden className="inline-flex items-end gap-px">
        {[1, 2, 3].map((i) => (
          <span key={i} className={`w-[3px] rounded-sm ${i <= TIER_BARS[tier] ? "bg-current" : "bg-current/25"}`} style={{ height: 4 + i * 2 }} />
        ))}
      </span>
      {tier}
    </Badge>
  );
}

/** "2026-03-01" — inventory dates are days, shown the same everywhere (UTC). */
export function day(d: Date | null | undefined) {
  return d ? d.toISOString().slice(0, 10) : "—";
}

/** "in 12 days", "3 days ago", "today". */
export function daysFrom(d: Date, now = Date.now()) {
  const n = Math.round((d.getTime() - now) / 86_400_000);
  if (n === 0) return "today";
  return n > 0 ? `in ${n} day${n === 1 ? "" : "s"}` : `${-n} day${n === -1 ? "" : "s"} ago`;
}

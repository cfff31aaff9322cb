import { safeCsvRow } from "~/server/shared/csv";
import { csvRow } from "~/server/shared/format";

// Isomorphic: the inventory's CSV export (owners' names and intended uses are free text).

export const INVENTORY_CSV_COLUMNS = [
  "model",
  "owner_name",
  "owner_email",
  "intended_use",
  "risk_tier",
  "risk_rationale",
  "frameworks",
  "revalidation_days",
  "last_revalidated_at",
  "last_revalidated_via",
  "next_due_at",
  "status",
] as const;

type CsvEntry = {
  name: string;
  owner: { name: string; email: string } | null;
  intendedUse: string | null;
  riskTier: string | null;
  riskRationale: string | null;
  frameworks: { text: string }[];
  revalidationDays: number | null;
  lastRevalidatedAt: Date | null;
  lastRevalidatedVia: { label: string } | null;
  dueAt: Date | null;
  status: string;
};

/** The inventory as RFC 4180 CSV with a header row, every text cell neutralised. */
export function inventoryCsv(entries: CsvEntry[]): string {
  const lines = [csvRow([...INVENTORY_CSV_COLUMNS])];
  for (const e of entries) {
    const cells = [
      e.name,
      e.owner?.name ?? "",
      e.owner?.email ?? "",
      e.intendedUse ?? "",
      e.riskTier ?? "",
      e.riskRationale ?? "",
      e.frameworks.map((f) => f.text).join("; "),
      e.revalidationDays,
      e.lastRevalidatedAt,
      e.lastRevalidatedVia?.label ?? "",
      e.dueAt,
      e.status,
    ];
    lines.push(safeCsvRow(cells));
  }
  return lines.join("");
}

"use client";

import { useQuery } from "@tanstack/react-query";
import { ArrowDown, ArrowUp, ClipboardList, Download } from "lucide-react";
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useMemo } from "react";
import { useWorkspace } from "~/components/shell/workspace-context";
import { useTRPC } from "~/components/trpc/client";
import { Button } from "~/components/ui/button";
import { Card } from "~/components/ui/card";
import { Select } from "~/components/ui/field";
import { EmptyState, PageHeader } from "~/components/ui/states";
import { QueryWait, ready } from "~/components/ui/query-state";
import { cn } from "~/components/ui/cn";
import { INVENTORY_STATUSES, InventoryFilter, RISK_TIERS, type InventoryStatus } from "~/server/shared/inventory.schema";
import { day, daysFrom, StatusBadge, STATUS_TONE, TierBadge } from "./inventory-badges";
import { STATUS_TONES } from "~/components/ui/badge";

const SORTS = ["name", "owner", "tier", "cadence", "last", "due", "status"] as const;
type Sort = (typeof SORTS)[number];
const TIER_ORDER = { high: 0, medium: 1, low: 2 } as const;
const STATUS_ORDER: Record<InventoryStatus, number> = { overdue: 0, "due soon": 1, "not assessed": 2, current: 3 };

/** Governance › Model inventory: every model's owner, tier, cadence and revalidation status; filters live in the URL. */
export function InventoryPage() {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const router = useRouter();
  const pathname = usePathname();
  const sp = useSearchParams();
  // Unknown values in a hand-edited URL are ignored rather than sent to the server.
  const filter = InventoryFilter.safeParse({ tier: sp.get("tier") ?? undefined, status: sp.get("status") ?? undefined, owner: sp.get("owner") ?? undefined });
  const f = filter.success ? filter.data : {};
  const sort: Sort = (SORTS as readonly string[]).includes(sp.get("sort") ?? "") ? (sp.get("sort") as Sort) : "due";
  const desc = sp.get("dir") === "desc";
  const list = useQuery(trpc.inventory.list.queryOptions({ workspaceId: workspace.id, ...f }));
  const all = useQuery(trpc.inventory.list.queryOptions({ workspaceId: workspace.id }));
  const members = useQuery(trpc.members.list.queryOptions({ workspaceId: workspace.id }));

  const setParams = (next: Record<string, string | undefined>) => {
    const q = new URLSearchParams(sp.toString());
    for (const [k, v] of Object.entries(next)) {
      if (v) q.set(k, v);
      else q.delete(k);
    }
    router.replace(`${pathname}${q.size ? `?${q}` : ""}`, { scroll: false });
  };
  const filtered = !!(f.tier || f.status || f.owner);

  const rows = useMemo(() => {
    const key = (e: NonNullable<typeof list.data>[number]): string | number => {
      switch (sort) {
        case "name":
          return e.name.toLowerCase();
        case "owner":
          return e.owner?.name.toLowerCase() ?? "\uffff";
        case "tier":
          return e.riskTier ? TIER_ORDER[e.riskTier] : 9;
        case "cadence":
          return e.revalidationDays ?? Number.MAX_SAFE_INTEGER;
        case "last":
          return e.lastRevalidatedAt?.getTime() ?? 0;
        case "due":
          return e.dueAt?.getTime() ?? Number.MAX_SAFE_INTEGER;
        case "status":
          return STATUS_ORDER[e.status];
      }
    };
    return [...(list.data ?? [])].sort((a, b) => {
      const [x, y] = [key(a), key(b)];
      const c = x < y ? -1 : x > y ? 1 : a.name.localeCompare(b.name);
      return desc ? -c : c;
    });
  }, [list.data, sort, desc]);

  const counts = useMemo(() => {
    const c: Record<InventoryStatus, number> = { overdue: 0, "due soon": 0, current: 0, "not assessed": 0 };
    for (const e of all.data ?? []) c[e.status]++;
    return c;
  }, [all.data]);

  const csvHref = () => {
    const q = new URLSearchParams({ format: "csv" });
    for (const [k, v] of Object.entries(f)) if (v) q.set(k, v);
    return `/api/v1/workspaces/${workspace.slug}/inventory?${q}`;
  };

  const Th = ({ id, label, className }: { id: Sort; label: string; className?: string }) => (
    <th className={cn("px-3 py-2 font-medium", className)} aria-sort={sort === id ? (desc ? "descending" : "ascending") : "none"}>
      <button
        type="button"
        className="inline-flex items-center gap-1 hover:text-fg"
        onClick={() => setParams({ sort: id, dir: sort === id && !desc ? "desc" : undefined })}
      >
        {label}
        {sort === id && (desc ? <ArrowDown className="size-3" aria-hidden /> : <ArrowUp className="size-3" aria-hidden />)}
      </button>
    </th>
  );

  return (
    <>
      <PageHeader
        title="Model inventory"
        description="Every model's owner, intended use, risk tier and revalidation cadence. Approved reviews and passing runs of the production version count as revalidations."
        actions={
          <a
            className="inline-flex h-9 items-center gap-2 rounded-md border border-border bg-panel px-3 text-sm hover:bg-subtle"
            href={csvHref()}
            data-testid="inventory-csv"
            download
          >
            <Download className="size-4" aria-hidden /> Export CSV
          </a>
        }
      />
      <div className="mb-4 flex flex-wrap items-center gap-2 text-sm" role="group" aria-label="Filters">
        {(["overdue", "due soon", "current", "not assessed"] as const).map((s) => (
          <button
            key={s}
            type="button"
            aria-pressed={f.status === s}
            onClick={() => setParams({ status: f.status === s ? undefined : s })}
            className={cn(
              "inline-flex items-center gap-1.5 rounded-full border px-2.5 py-1 text-xs",
              f.status === s ? "border-accent" : "border-border hover:bg-subtle",
            )}
          >
            <span className={cn("rounded-full px-1.5 font-medium", STATUS_TONES[STATUS_TONE[s]])}>{all.data ? counts[s] : "…"}</span>
            {s}
          </button>
        ))}
        <span className="mx-1 h-5 w-px bg-border" aria-hidden />
        <label className="sr-only" htmlFor="inv-tier">
          Tier
        </label>
        <Select id="inv-tier" className="h-8" value={f.tier ?? ""} onChange={(e) => setParams({ tier: e.target.value || undefined })}>
          <option value="">Any tier</option>
          {RISK_TIERS.map((t) => (
            <option key={t} value={t}>
              {t} risk
            </option>
          ))}
          <option value="unassessed">not assessed</option>
        </Select>
        <label className="sr-only" htmlFor="inv-status">
          Status
        </label>
        <Select id="inv-status" className="h-8" value={f.status ?? ""} onChange={(e) => setParams({ status: e.target.value || undefined })}>
          <option value="">Any status</option>
          {INVENTORY_STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </Select>
        <label className="sr-only" htmlFor="inv-owner-filter">
          Owner
        </label>
        <Select id="inv-owner-filter" className="h-8 max-w-56" value={f.owner ?? ""} onChange={(e) => setParams({ owner: e.target.value || undefined })}>
          <option value="">Any owner</option>
          {(members.data ?? []).map((m) => (
            <option key={m.userId} value={m.userId}>
              {m.name}
            </option>
          ))}
          <option value="none">No owner</option>
        </Select>
        {filtered && (
          <Button size="sm" variant="ghost" onClick={() => setParams({ tier: undefined, status: undefined, owner: undefined })}>
            Clear filters
          </Button>
        )}
      </div>
      <Card>
        {!ready(list) ? (
          <QueryWait query={list} rows={6} />
        ) : rows.length === 0 ? (
          filtered ? (
            <EmptyState title="No models match these filters">
              <Button size="sm" variant="secondary" onClick={() => setParams({ tier: undefined, status: undefined, owner: undefined })}>
                Clear filters
              </Button>
            </EmptyState>
          ) : (
            <EmptyState title="No models yet" icon={<ClipboardList className="size-8" aria-hidden />}>
              Models appear here once registered in{" "}
              <Link className="text-accent hover:underline" href={`/w/${workspace.slug}/models`}>
                Models
              </Link>
              ; give each an owner, intended use and risk tier from its page.
            </EmptyState>
          )
        ) : (
          <div className="overflow-x-auto">
            <table className="w-full text-sm" data-testid="inventory-table">
              <thead className="bg-subtle text-left text-xs text-muted">
                <tr>
                  <Th id="name" label="Model" className="pl-5" />
                  <Th id="owner" label="Owner" />
                  <Th id="tier" label="Tier" />
                  <th className="px-3 py-2 font-medium">Intended use</th>
                  <Th id="cadence" label="Cadence" />
                  <Th id="last" label="Last revalidated" />
                  <Th id="due" label="Next due" />
                  <Th id="status" label="Status" className="pr-5" />
                </tr>
              </thead>
              <tbody className="divide-y divide-border">
                {rows.map((e) => (
                  <tr key={e.modelId} data-model={e.name}>
                    <td className="py-2 pr-3 pl-5 font-medium whitespace-nowrap">
                      <Link className="hover:underline" href={`/w/${workspace.slug}/models/${encodeURIComponent(e.name)}`}>
                        {e.name}
                      </Link>
                    </td>
                    <td className="px-3 py-2 whitespace-nowrap">
                      {e.owner ? (
                        <span title={e.owner.email}>
                          {e.owner.name}
                          {!e.owner.member && <span className="ml-1 text-xs text-danger">(left)</span>}
                        </span>
                      ) : (
                        <span className="text-muted">—</span>
                      )}
                    </td>
                    <td className="px-3 py-2" title={e.riskRationale ?? undefined}>
                      <TierBadge tier={e.riskTier} />
                    </td>
                    <td className="max-w-72 px-3 py-2">
                      <span className="line-clamp-2 text-xs" title={e.intendedUse ?? undefined}>
                        {e.intendedUse ?? <span className="text-muted">—</span>}
                      </span>
                    </td>
                    <td className="px-3 py-2 whitespace-nowrap tabular-nums">
                      {e.revalidationDays ? `${e.revalidationDays} days` : <span className="text-muted">—</span>}
                    </td>
                    <td className="px-3 py-2 whitespace-nowrap">
                      {e.lastRevalidatedAt ? (
                        <span title={e.lastRevalidatedVia?.label}>
                          {day(e.lastRevalidatedAt)}{" "}
                          <span className="text-xs text-muted">
                            {e.lastRevalidatedVia?.kind === "recorded"
                              ? "recorded"
                              : e.lastRevalidatedVia?.kind === "review"
                                ? `review #${e.lastRevalidatedVia.ref}`
                                : `run #${e.lastRevalidatedVia?.ref}`}
                          </span>
                        </span>
                      ) : (
                        <span className="text-muted">never</span>
                      )}
                    </td>
                    <td className="px-3 py-2 whitespace-nowrap tabular-nums">
                      {e.dueAt ? (
                        <>
                          {day(e.dueAt)} <span className="text-xs text-muted">{daysFrom(e.dueAt)}</span>
                        </>
                      ) : (
                        <span className="text-muted">—</span>
                      )}
                    </td>
                    <td className="py-2 pr-5 pl-3">
                      <StatusBadge status={e.status} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </>
  );
}

"use client";

import { useInfiniteQuery, useMutation } from "@tanstack/react-query";
import { useVirtualizer } from "@tanstack/react-virtual";
import { ChevronDown, ChevronRight, Download, ShieldAlert, ShieldCheck } from "lucide-react";
import { usePathname, useSearchParams } from "next/navigation";
import { Fragment, useEffect, useRef, useState } from "react";
import { useCan, useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, useTRPC } from "~/components/trpc/client";
import { Badge } from "~/components/ui/badge";
import { Button } from "~/components/ui/button";
import { Card } from "~/components/ui/card";
import { Input, Select } from "~/components/ui/field";
import { EmptyState, PageHeader } from "~/components/ui/states";
import { QueryWait, ready } from "~/components/ui/query-state";
import { AUDIT_ACTIONS, type AuditAction } from "~/server/shared/audit-actions";
import { describeEvent } from "./describe";

type Filters = { actor: string; action: "" | AuditAction; targetType: string; targetId: string; q: string; from: string; to: string };
const EMPTY: Filters = { actor: "", action: "", targetType: "", targetId: "", q: "", from: "", to: "" };

function useDebounced<T>(value: T, ms: number) {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

const GRID = "grid grid-cols-[2rem_4rem_10.5rem_minmax(10rem,1fr)_11rem_minmax(14rem,2fr)_6rem] items-center gap-2";

export function AuditTrail() {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const canExport = useCan("audit:export");
  const sp = useSearchParams();
  const pathname = usePathname();
  // Every filter and the expanded event live in the URL, so a filtered view can be shared.
  const [filters, setFilters] = useState<Filters>(() => {
    const action = sp.get("action") ?? "";
    return {
      actor: sp.get("actor") ?? "",
      action: (AUDIT_ACTIONS as readonly string[]).includes(action) ? (action as AuditAction) : "",
      targetType: sp.get("targetType") ?? "",
      targetId: sp.get("targetId") ?? "",
      q: sp.get("q") ?? "",
      from: sp.get("from") ?? "",
      to: sp.get("to") ?? "",
    };
  });
  const debounced = useDebounced(filters, 250);
  const [expanded, setExpanded] = useState<number | null>(() => {
    const n = Number(sp.get("event"));
    return Number.isInteger(n) && n > 0 ? n : null;
  });
  // The URL follows the filters at once (the query waits for the debounce): an update that came
  // 250 ms later could land while a link the user just clicked is still loading, and replace it.
  useEffect(() => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filters)) if (v.trim()) q.set(k, v.trim());
    if (expanded !== null) q.set("event", String(expanded));
    const next = q.toString();
    // The browser's own replaceState (Next.js keeps useSearchParams in step with it): a router
    // navigation here would cancel one the user has just started (a link clicked within the
    // debounce), and once another page is showing, its URL is not ours to rewrite.
    if (window.location.pathname !== pathname) return;
    if (next !== window.location.search.replace(/^\?/, "")) window.history.replaceState(null, "", next ? `${pathname}?${next}` : pathname);
  }, [filters, expanded, pathname]);
  const input = {
    workspaceId: workspace.id,
    actor: debounced.actor.trim() || undefined,
    action: debounced.action || undefined,
    targetType: debounced.targetType.trim() || undefined,
    targetId: debounced.targetId.trim() || undefined,
    q: debounced.q.trim() || undefined,
    from: debounced.from ? new Date(debounced.from) : undefined,
    to: debounced.to ? new Date(debounced.to) : undefined,
    limit: 100,
  };
  const events = useInfiniteQuery(
    trpc.audit.list.infiniteQueryOptions(input, { getNextPageParam: (last) => last.nextCursor ?? undefined, initialCursor: undefined }),
  );
  const verify = useMutation(trpc.audit.verify.mutationOptions());
  const rows = events.data?.pages.flatMap((p) => p.items) ?? [];
  const filtered = Object.values(filters).some(Boolean);

  const scroller = useRef<HTMLDivElement>(null);
  // Sizes are remembered per event, not per position: a live event shifts every row down one
  // index, and an expanded row's height must move with it (it overlapped its neighbours).
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => 44,
    overscan: 12,
    getItemKey: (i) => rows[i]?.id ?? i,
  });
  // A shared link to one event opens with it in view.
  const scrolledTo = useRef(false);
  useEffect(() => {
    if (scrolledTo.current || rows.length === 0) return;
    scrolledTo.current = true;
    const i = expanded === null ? -1 : rows.findIndex((e) => e.seq === expanded);
    if (i >= 0) virtualizer.scrollToIndex(i, { align: "start" });
  }, [rows, expanded, virtualizer]);
  const items = virtualizer.getVirtualItems();
  const lastIndex = items.at(-1)?.index ?? 0;
  useEffect(() => {
    if (lastIndex >= rows.length - 20 && events.hasNextPage && !events.isFetchingNextPage) void events.fetchNextPage();
  }, [lastIndex, rows.length, events]);

  const exportUrl = (format: "ndjson" | "csv") => {
    const q = new URLSearchParams({ format });
    for (const [k, v] of Object.entries({
      actor: input.actor,
      action: input.action,
      targetType: input.targetType,
      targetId: input.targetId,
      q: input.q,
      from: input.from?.toISOString(),
      to: input.to?.toISOString(),
    }))
      if (v) q.set(k, v);
    return `/api/v1/workspaces/${workspace.slug}/audit/export?${q}`;
  };

  return (
    <>
      <PageHeader
        title="Audit trail"
        description="Every action in this workspace, in a hash chain checked against signed checkpoints."
        actions={
          <div className="flex gap-2">
            {canExport && (
              <>
                <a
                  className="inline-flex h-9 items-center gap-2 rounded-md border border-border bg-panel px-3 text-sm hover:bg-subtle"
                  href={exportUrl("ndjson")}
                  data-testid="export-ndjson"
                >
                  <Download className="size-4" aria-hidden /> NDJSON
                </a>
                <a className="inline-flex h-9 items-center gap-2 rounded-md border border-border bg-panel px-3 text-sm hover:bg-subtle" href={exportUrl("csv")}>
                  <Download className="size-4" aria-hidden /> CSV
                </a>
              </>
            )}
            <Button onClick={() => verify.mutate({ workspaceId: workspace.id })} loading={verify.isPending}>
              <ShieldCheck className="size-4" aria-hidden /> Verify chain
            </Button>
          </div>
        }
      />
      {verify.data && (
        <div
          role="status"
          data-testid="verify-result"
          className={
            verify.data.intact
              ? "mb-4 flex items-center gap-2 rounded-md border border-emerald-500/30 bg-emerald-500/10 px-4 py-3 text-sm"
              : "mb-4 flex items-center gap-2 rounded-md border border-danger/30 bg-danger/10 px-4 py-3 text-sm"
          }
        >
          {verify.data.intact ? (
            <>
              <ShieldCheck className="size-4 text-emerald-600" aria-hidden />
              Chain intact: {verify.data.checked} events checked, head #{verify.data.headSeq} ({verify.data.headHash.slice(0, 12)}…), {verify.data.checkpoints}{" "}
              signed checkpoint
              {verify.data.checkpoints === 1 ? "" : "s"} matched.
            </>
          ) : (
            <>
              <ShieldAlert className="size-4 text-danger" aria-hidden />
              Chain broken at event #{verify.data.firstBadSeq}: {verify.data.reason}.
            </>
          )}
        </div>
      )}
      {verify.isError && (
        <p role="alert" className="mb-4 text-sm text-danger">
          {errorMessage(verify.error)}
        </p>
      )}
      <Card>
        <form className="flex flex-wrap items-end gap-3 border-b border-border p-4" onSubmit={(e) => e.preventDefault()} aria-label="Filter audit events">
          <label className="flex flex-col text-xs text-muted">
            Search
            <Input className="mt-1 w-48" placeholder="text in any field" value={filters.q} onChange={(e) => setFilters({ ...filters, q: e.target.value })} />
          </label>
          <label className="flex flex-col text-xs text-muted">
            Actor
            <Input className="mt-1 w-44" placeholder="e-mail or id" value={filters.actor} onChange={(e) => setFilters({ ...filters, actor: e.target.value })} />
          </label>
          <label className="flex flex-col text-xs text-muted">
            Action
            <Select
              className="mt-1 block w-48"
              value={filters.action}
              onChange={(e) => setFilters({ ...filters, action: e.target.value as Filters["action"] })}
            >
              <option value="">All actions</option>
              {AUDIT_ACTIONS.map((a) => (
                <option key={a} value={a}>
                  {a}
                </option>
              ))}
            </Select>
          </label>
          <label className="flex flex-col text-xs text-muted">
            Resource type
            <Input
              className="mt-1 w-32"
              placeholder="model, user…"
              value={filters.targetType}
              onChange={(e) => setFilters({ ...filters, targetType: e.target.value })}
            />
          </label>
          <label className="flex flex-col text-xs text-muted">
            Resource id
            <Input className="mt-1 w-40" value={filters.targetId} onChange={(e) => setFilters({ ...filters, targetId: e.target.value })} />
          </label>
          <label className="flex flex-col text-xs text-muted">
            From
            <Input className="mt-1 w-48" type="datetime-local" value={filters.from} onChange={(e) => setFilters({ ...filters, from: e.target.value })} />
          </label>
          <label className="flex flex-col text-xs text-muted">
            To
            <Input className="mt-1 w-48" type="datetime-local" value={filters.to} onChange={(e) => setFilters({ ...filters, to: e.target.value })} />
          </label>
          {filtered && (
            <Button type="button" variant="ghost" size="sm" onClick={() => (setFilters(EMPTY), setExpanded(null))}>
              Clear filters
            </Button>
          )}
        </form>
        {!ready(events) ? (
          <QueryWait query={events} rows={8} />
        ) : rows.length === 0 ? (
          <EmptyState title={filtered ? "No events match these filters" : "No events yet"}>
            {filtered ? "Widen the time range or clear a filter." : "Actions in this workspace will appear here as they happen."}
          </EmptyState>
        ) : (
          <div className="overflow-x-auto text-sm" data-testid="audit-table" role="table" aria-rowcount={rows.length}>
            <div className={`${GRID} min-w-[62rem] bg-subtle px-3 py-2 text-xs text-muted`} role="row">
              <span role="columnheader" aria-label="Details" />
              <span role="columnheader">#</span>
              <span role="columnheader">Time (UTC)</span>
              <span role="columnheader">Actor</span>
              <span role="columnheader">Action</span>
              <span role="columnheader">What happened</span>
              <span role="columnheader">Hash</span>
            </div>
            <div ref={scroller} className="max-h-[36rem] min-w-[62rem] overflow-y-auto">
              <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
                {items.map((item) => {
                  const e = rows[item.index]!;
                  return (
                    <div
                      key={e.id}
                      data-index={item.index}
                      ref={virtualizer.measureElement}
                      className="absolute inset-x-0 border-b border-border"
                      style={{ transform: `translateY(${item.start}px)` }}
                      role="row"
                      data-action={e.action}
                    >
                      <div className={`${GRID} px-3 py-2 hover:bg-subtle/60`}>
                        <span role="cell">
                          <button
                            type="button"
                            className="rounded p-0.5 text-muted hover:bg-subtle"
                            aria-expanded={expanded === e.seq}
                            aria-label={`Details of event ${e.seq}`}
                            onClick={() => setExpanded(expanded === e.seq ? null : e.seq)}
                          >
                            {expanded === e.seq ? <ChevronDown className="size-4" /> : <ChevronRight className="size-4" />}
                          </button>
                        </span>
                        <span role="cell" className="font-mono text-xs text-muted">
                          {e.seq}
                        </span>
                        <span role="cell" className="font-mono text-xs whitespace-nowrap">
                          {e.occurredAt.toISOString().replace("T", " ").slice(0, 19)}
                        </span>
                        <span role="cell" className="truncate" title={e.actorLabel ?? e.actorType}>
                          {e.actorName ?? e.actorLabel ?? e.actorType}
                        </span>
                        <span role="cell">
                          <Badge
                            tone={
                              e.action.includes("failed") || e.action.includes("removed") ? "failing" : e.action.startsWith("audit.") ? "passing" : "neutral"
                            }
                          >
                            {e.action}
                          </Badge>
                        </span>
                        <span role="cell">{describeEvent(e)}</span>
                        <span role="cell" className="font-mono text-xs text-muted" title={e.hash}>
                          {e.hash.slice(0, 10)}
                        </span>
                      </div>
                      {expanded === e.seq && (
                        <dl className="grid gap-x-6 gap-y-1 bg-subtle/40 px-12 py-3 font-mono text-xs sm:grid-cols-[max-content_1fr]">
                          <dt className="text-muted">target</dt>
                          <dd>
                            {e.targetType} {e.targetId ?? ""}
                          </dd>
                          {e.changes &&
                            Object.entries(e.changes).map(([k, [before, after]]) => (
                              <Fragment key={k}>
                                <dt className="text-muted">{k}</dt>
                                <dd>
                                  <span className="text-danger line-through">{JSON.stringify(before)}</span> →{" "}
                                  <span className="text-emerald-700 dark:text-emerald-400">{JSON.stringify(after)}</span>
                                </dd>
                              </Fragment>
                            ))}
                          {e.metadata && (
                            <>
                              <dt className="text-muted">metadata</dt>
                              <dd className="break-all">{JSON.stringify(e.metadata)}</dd>
                            </>
                          )}
                          <dt className="text-muted">request</dt>
                          <dd>{e.requestId ?? "—"}</dd>
                          <dt className="text-muted">hash</dt>
                          <dd className="break-all">{e.hash}</dd>
                        </dl>
                      )}
                    </div>
                  );
                })}
              </div>
            </div>
            <div className="border-t border-border px-3 py-2 text-xs text-muted">
              {rows.length} event{rows.length === 1 ? "" : "s"} loaded{events.hasNextPage ? " — scroll for older" : ""}
              {events.isFetchingNextPage ? " · loading…" : ""}
            </div>
          </div>
        )}
      </Card>
    </>
  );
}

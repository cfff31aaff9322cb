"use client";

import { useInfiniteQuery, useMutation } from "@tanstack/react-query";
import { ChevronDown, ChevronRight, ShieldAlert, ShieldCheck } from "lucide-react";
import { Fragment, useState } from "react";
import { useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, useTRPC } from "~/components/trpc/client";
import { Badge } from "~/components/ui/badge";
import { Button } from "~/components/ui/button";
import { Card } from "~/components/ui/card";
import { Input, Select } from "~/components/ui/field";
import { EmptyState, ErrorState, PageHeader, Skeleton } from "~/components/ui/states";
import { AUDIT_ACTIONS, type AuditAction } from "~/server/audit/actions";
import { describeEvent } from "./describe";

type Filters = { actor: string; action: "" | AuditAction; from: string; to: string };

function toDate(local: string) {
  return local ? new Date(local) : undefined;
}

export function AuditTrail() {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const [filters, setFilters] = useState<Filters>({ actor: "", action: "", from: "", to: "" });
  const [expanded, setExpanded] = useState<string | null>(null);
  const input = {
    workspaceId: workspace.id,
    actor: filters.actor.trim() || undefined,
    action: filters.action || undefined,
    from: toDate(filters.from),
    to: toDate(filters.to),
    limit: 50,
  };
  const events = useInfiniteQuery(
    trpc.audit.list.infiniteQueryOptions(input, {
      getNextPageParam: (last) => last.nextCursor ?? undefined,
      initialCursor: undefined,
    }),
  );
  const verify = useMutation(trpc.audit.verify.mutationOptions());
  const rows = events.data?.pages.flatMap((p) => p.items) ?? [];
  const filtered = !!(input.actor || input.action || input.from || input.to);

  return (
    <>
      <PageHeader
        title="Audit trail"
        description="Every action in this workspace, in a hash chain that cannot be altered without detection."
        actions={
          <Button onClick={() => verify.mutate({ workspaceId: workspace.id })} loading={verify.isPending}>
            <ShieldCheck className="size-4" aria-hidden /> Verify chain
          </Button>
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
              Chain intact: {verify.data.checked} events checked, head #{verify.data.headSeq} ({verify.data.headHash.slice(0, 12)}…).
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
        <form
          className="flex flex-wrap items-end gap-3 border-b border-border p-4"
          onSubmit={(e) => e.preventDefault()}
          aria-label="Filter audit events"
        >
          <label className="flex flex-col text-xs text-muted">
            Actor
            <Input
              className="mt-1 w-52"
              placeholder="e-mail or id"
              value={filters.actor}
              onChange={(e) => setFilters({ ...filters, actor: e.target.value })}
            />
          </label>
          <label className="flex flex-col text-xs text-muted">
            Action
            <Select
              className="mt-1 block w-52"
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
            From
            <Input className="mt-1 w-52" type="datetime-local" value={filters.from} onChange={(e) => setFilters({ ...filters, from: e.target.value })} />
          </label>
          <label className="flex flex-col text-xs text-muted">
            To
            <Input className="mt-1 w-52" type="datetime-local" value={filters.to} onChange={(e) => setFilters({ ...filters, to: e.target.value })} />
          </label>
          {filtered && (
            <Button type="button" variant="ghost" size="sm" onClick={() => setFilters({ actor: "", action: "", from: "", to: "" })}>
              Clear filters
            </Button>
          )}
        </form>
        {events.isPending ? (
          <Skeleton rows={8} />
        ) : events.isError ? (
          <ErrorState message={errorMessage(events.error)} onRetry={() => void events.refetch()} />
        ) : rows.length === 0 ? (
          <EmptyState title={filtered ? "No events match these filters" : "No events yet"}>
            {filtered ? "Widen the time range or clear a filter." : "Actions in this workspace will appear here as they happen."}
          </EmptyState>
        ) : (
          <div className="overflow-x-auto">
            <table className="w-full text-sm" data-testid="audit-table">
              <thead className="bg-subtle text-left text-xs text-muted">
                <tr>
                  <th className="w-8 px-3 py-2" aria-label="Details" />
                  <th className="px-3 py-2 font-medium">#</th>
                  <th className="px-3 py-2 font-medium">Time (UTC)</th>
                  <th className="px-3 py-2 font-medium">Actor</th>
                  <th className="px-3 py-2 font-medium">Action</th>
                  <th className="px-3 py-2 font-medium">What happened</th>
                  <th className="px-3 py-2 font-medium">Hash</th>
                </tr>
              </thead>
              <tbody className="divide-y divide-border">
                {rows.map((e) => (
                  <Fragment key={e.id}>
                    <tr className="hover:bg-subtle/60" data-action={e.action}>
                      <td className="px-3 py-2">
                        <button
                          type="button"
                          className="rounded p-0.5 text-muted hover:bg-subtle"
                          aria-expanded={expanded === e.id}
                          aria-label={`Details of event ${e.seq}`}
                          onClick={() => setExpanded(expanded === e.id ? null : e.id)}
                        >
                          {expanded === e.id ? <ChevronDown className="size-4" /> : <ChevronRight className="size-4" />}
                        </button>
                      </td>
                      <td className="px-3 py-2 font-mono text-xs text-muted">{e.seq}</td>
                      <td className="px-3 py-2 font-mono text-xs whitespace-nowrap">{e.occurredAt.toISOString().replace("T", " ").slice(0, 19)}</td>
                      <td className="px-3 py-2 whitespace-nowrap">{e.actorLabel ?? e.actorType}</td>
                      <td className="px-3 py-2">
                        <Badge tone={e.action.includes("failed") || e.action.includes("removed") ? "failing" : e.action.startsWith("audit.") ? "passing" : "neutral"}>
                          {e.action}
                        </Badge>
                      </td>
                      <td className="px-3 py-2">{describeEvent(e)}</td>
                      <td className="px-3 py-2 font-mono text-xs text-muted" title={e.hash}>
                        {e.hash.slice(0, 10)}
                      </td>
                    </tr>
                    {expanded === e.id && (
                      <tr className="bg-subtle/40">
                        <td />
                        <td colSpan={6} className="px-3 py-3">
                          <dl className="grid gap-x-6 gap-y-1 font-mono text-xs sm:grid-cols-[max-content_1fr]">
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
                                    <span className="text-emerald-600">{JSON.stringify(after)}</span>
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
                        </td>
                      </tr>
                    )}
                  </Fragment>
                ))}
              </tbody>
            </table>
            {events.hasNextPage && (
              <div className="border-t border-border p-3 text-center">
                <Button variant="secondary" size="sm" loading={events.isFetchingNextPage} onClick={() => void events.fetchNextPage()}>
                  Load older events
                </Button>
              </div>
            )}
          </div>
        )}
      </Card>
    </>
  );
}

"use client";

import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { CalendarClock, Plus, Workflow, Zap } from "lucide-react";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { useCan, useWorkspace } from "~/components/shell/workspace-context";
import { useTRPC } from "~/components/trpc/client";
import { LoadMore, PAGED, pagedItems } from "~/components/ui/load-more";
import { Badge } from "~/components/ui/badge";
import { Button } from "~/components/ui/button";
import { Card, CardHeader } from "~/components/ui/card";
import { Select } from "~/components/ui/field";
import { EmptyState, PageHeader } from "~/components/ui/states";
import { QueryWait, ready } from "~/components/ui/query-state";
import { TimeAgo } from "~/components/ui/time";
import { duration, StatusBadge } from "./status";

function RunsTable() {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const router = useRouter();
  const [pipeline, setPipeline] = useState("");
  const runs = useInfiniteQuery(trpc.runs.page.infiniteQueryOptions({ workspaceId: workspace.id, ...(pipeline ? { pipeline } : {}), limit: 50 }, PAGED));
  const rows = pagedItems(runs);
  const defs = useQuery(trpc.pipelines.list.queryOptions({ workspaceId: workspace.id }));
  return (
    <Card>
      <CardHeader
        title="Runs"
        description="Newest first; updates live."
        actions={
          <Select aria-label="Filter by pipeline" className="h-8" value={pipeline} onChange={(e) => setPipeline(e.target.value)}>
            <option value="">All pipelines</option>
            {defs.data?.map((d) => (
              <option key={d.id} value={d.name}>
                {d.name}
              </option>
            ))}
          </Select>
        }
      />
      {!ready(runs) ? (
        <QueryWait query={runs} rows={5} />
      ) : rows.length === 0 ? (
        <EmptyState title="No runs yet" icon={<Workflow className="size-8" aria-hidden />}>
          Register a model version and the <span className="font-mono">validate</span> pipeline runs on it, or start a pipeline from its page.
        </EmptyState>
      ) : (
        <div className="overflow-x-auto">
          <>
            <table className="w-full text-sm whitespace-nowrap" data-testid="runs-table">
              <thead className="bg-subtle text-left text-xs text-muted">
                <tr>
                  <th className="px-4 py-2 font-medium">Run</th>
                  <th className="px-4 py-2 font-medium">Status</th>
                  <th className="px-4 py-2 font-medium">Pipeline</th>
                  <th className="px-4 py-2 font-medium">Model version</th>
                  <th className="px-4 py-2 font-medium">Trigger</th>
                  <th className="px-4 py-2 font-medium">Progress</th>
                  <th className="px-4 py-2 font-medium">Started</th>
                  <th className="px-4 py-2 font-medium">Duration</th>
                </tr>
              </thead>
              <tbody className="divide-y divide-border">
                {rows.map((r) => {
                  const href = `/w/${workspace.slug}/pipelines/runs/${r.id}`;
                  return (
                    <tr key={r.id} className="cursor-pointer hover:bg-subtle/60" onClick={() => router.push(href)}>
                      <td className="px-4 py-2 font-medium">
                        <Link href={href} className="hover:underline" onClick={(e) => e.stopPropagation()}>
                          #{r.number}
                        </Link>
                      </td>
                      <td className="px-4 py-2">
                        <StatusBadge status={r.status} />
                      </td>
                      <td className="px-4 py-2">{r.pipeline}</td>
                      <td className="px-4 py-2 font-mono text-xs">{r.model ? `${r.model}@${r.version}` : "—"}</td>
                      <td className="px-4 py-2 text-muted">
                        {r.trigger.replace("_", " ")}
                        {r.createdBy ? ` · ${r.createdBy}` : ""}
                      </td>
                      <td className="px-4 py-2">
                        <div className="flex items-center gap-2">
                          <div className="h-1.5 w-20 overflow-hidden rounded bg-subtle">
                            <div className="h-full bg-accent" style={{ width: `${(100 * r.steps.done) / Math.max(1, r.steps.total)}%` }} />
                          </div>
                          <span className="text-xs text-muted tabular-nums">
                            {r.steps.done}/{r.steps.total}
                          </span>
                        </div>
                      </td>
                      <td className="px-4 py-2 text-muted">
                        <TimeAgo date={r.createdAt} />
                      </td>
                      <td className="px-4 py-2 text-muted tabular-nums">{duration(r.startedAt, r.finishedAt)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
            <LoadMore query={runs} shown={rows.length} noun="runs" />
          </>
        </div>
      )}
    </Card>
  );
}

function Definitions() {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const canDefine = useCan("pipeline:define");
  const defs = useQuery(trpc.pipelines.list.queryOptions({ workspaceId: workspace.id }));
  return (
    <Card>
      <CardHeader
        title="Pipelines"
        description="Each is a DAG of steps, defined in YAML and versioned."
        actions={
          canDefine && (
            <Link href={`/w/${workspace.slug}/pipelines/new`}>
              <Button size="sm" variant="secondary">
                <Plus className="size-4" aria-hidden /> New pipeline
              </Button>
            </Link>
          )
        }
      />
      {!ready(defs) ? (
        <QueryWait query={defs} rows={3} />
      ) : defs.data.length === 0 ? (
        <EmptyState title="No pipelines">Create one to test model versions automatically.</EmptyState>
      ) : (
        <ul className="divide-y divide-border" data-testid="pipelines-list">
          {defs.data.map((d) => (
            <li key={d.id}>
              <Link href={`/w/${workspace.slug}/pipelines/${d.name}`} className="flex items-center justify-between gap-3 px-5 py-3 hover:bg-subtle/60">
                <span>
                  <span className="font-medium">{d.name}</span> <span className="text-xs text-muted">v{d.currentVersion}</span>
                </span>
                <span className="flex gap-1">
                  {d.onModelVersion && (
                    <Badge tone="serving">
                      <Zap className="size-3" aria-hidden /> new versions
                    </Badge>
                  )}
                  {d.schedule && (
                    <Badge>
                      <CalendarClock className="size-3" aria-hidden /> {d.schedule}
                    </Badge>
                  )}
                  <span className="text-xs text-muted">
                    updated <TimeAgo date={d.updatedAt} />
                  </span>
                </span>
              </Link>
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}

export function PipelinesPage() {
  return (
    <>
      <PageHeader title="Pipelines" description="Model CI: every new version is tested by the workers before anyone reviews it." />
      <div className="grid gap-6 2xl:grid-cols-[1fr_22rem]">
        <RunsTable />
        <Definitions />
      </div>
    </>
  );
}

"use client";

import { checkLabel } from "~/server/shared/check-labels";
import { useQuery } from "@tanstack/react-query";
import { ShieldQuestion } from "lucide-react";
import Link from "next/link";
import { useWorkspace } from "~/components/shell/workspace-context";
import { useTRPC } from "~/components/trpc/client";
import { Card, CardHeader } from "~/components/ui/card";
import { EmptyState, PageHeader } from "~/components/ui/states";
import { QueryWait, ready } from "~/components/ui/query-state";
import { TimeAgo } from "~/components/ui/time";
import { ValidationReport } from "./report";
import { StatusBadge } from "./status";

/** The latest checks of a model version, compact: what the model page shows. */
export function VersionChecks({ name, version }: { name: string; version: number }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const v = useQuery(trpc.runs.forVersion.queryOptions({ workspaceId: workspace.id, name, version }));
  const base = `/w/${workspace.slug}`;
  return (
    <Card data-testid="version-checks">
      <CardHeader
        title={`Checks of v${version}`}
        description={v.data ? `Run #${v.data.number} of ${v.data.pipeline.name}` : "The latest validation run"}
        actions={
          v.data && (
            <div className="flex items-center gap-3 text-sm">
              <StatusBadge status={v.data.status} />
              <Link className="text-accent hover:underline" href={`${base}/pipelines/runs/${v.data.id}`}>
                Run #{v.data.number}
              </Link>
              <Link className="text-accent hover:underline" href={`${base}/models/${encodeURIComponent(name)}/versions/${version}/validation`}>
                Full report
              </Link>
            </div>
          )
        }
      />
      {!ready(v) ? (
        <QueryWait query={v} rows={3} />
      ) : !v.data ? (
        <EmptyState title="Not validated yet" icon={<ShieldQuestion className="size-8" aria-hidden />}>
          No pipeline has run on this version. Start one from{" "}
          <Link className="text-accent hover:underline" href={`${base}/pipelines`}>
            Pipelines
          </Link>
          .
        </EmptyState>
      ) : (
        <div className="flex flex-wrap gap-2 px-5 py-4" data-testid="check-chips">
          {v.data.checks.length === 0 && (
            <span className="text-sm text-muted">
              {["queued", "running"].includes(v.data.status) ? "Running: checks appear as steps finish." : "No checks recorded."}
            </span>
          )}
          {v.data.checks.map((c) => (
            <span
              key={c.name}
              className="inline-flex items-center gap-1.5 rounded-md border border-border px-2 py-1 text-xs"
              title={`${c.name}: ${c.message}${c.threshold ? ` (${c.threshold})` : ""}`}
            >
              <StatusBadge status={c.status} />
              <span>{checkLabel(c.name)}</span>
            </span>
          ))}
        </div>
      )}
    </Card>
  );
}

export function VersionValidationPage({ name, version }: { name: string; version: number }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const v = useQuery(trpc.runs.forVersion.queryOptions({ workspaceId: workspace.id, name, version }));
  const base = `/w/${workspace.slug}`;
  return (
    <>
      <div className="mb-2 text-sm text-muted">
        <Link href={`${base}/models`} className="hover:underline">
          Models
        </Link>{" "}
        /{" "}
        <Link href={`${base}/models/${encodeURIComponent(name)}`} className="hover:underline">
          {name}
        </Link>{" "}
        /
      </div>
      <PageHeader
        title={`Validation of ${name} v${version}`}
        description={v.data ? `Run #${v.data.number} of ${v.data.pipeline.name} v${v.data.pipeline.version}` : undefined}
        actions={
          v.data && (
            <div className="flex items-center gap-3 text-sm">
              <StatusBadge status={v.data.status} />
              {v.data.finishedAt && (
                <span className="text-muted">
                  finished <TimeAgo date={v.data.finishedAt} />
                </span>
              )}
              <Link className="text-accent hover:underline" href={`${base}/pipelines/runs/${v.data.id}`}>
                Steps and logs
              </Link>
            </div>
          )
        }
      />
      {!ready(v) ? (
        <QueryWait query={v} rows={8} />
      ) : !v.data ? (
        <Card>
          <EmptyState title="Not validated yet">No pipeline has run on this version.</EmptyState>
        </Card>
      ) : (
        <ValidationReport steps={v.data.steps} checks={v.data.checks} />
      )}
    </>
  );
}

"use client";

import { useQuery } from "@tanstack/react-query";
import { Activity } from "lucide-react";
import Link from "next/link";
import { useWorkspace } from "~/components/shell/workspace-context";
import { useTRPC } from "~/components/trpc/client";
import { Badge } from "~/components/ui/badge";
import { Card } from "~/components/ui/card";
import { EmptyState, PageHeader } from "~/components/ui/states";
import { QueryWait, ready } from "~/components/ui/query-state";
import { useLiveRates } from "./live";
import { SEVERITY_TONE, ms, pct } from "./monitoring-format";

/** Every deployment's health at a glance. */
export function MonitoringOverview() {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const q = useQuery({ ...trpc.monitoring.overview.queryOptions({ workspaceId: workspace.id }), refetchInterval: 15_000 });
  const live = useLiveRates();
  return (
    <>
      <PageHeader
        title="Monitoring"
        description="Every deployment at a glance: open alerts, traffic now (pushed live by the inference replicas), the last 15 minutes from the rollups, and input drift."
      />
      <Card>
        {!ready(q) ? (
          <QueryWait query={q} rows={4} />
        ) : q.data.length === 0 ? (
          <EmptyState title="Nothing deployed yet" icon={<Activity className="size-8" aria-hidden />}>
            Deploy a model (Deployments › Deploy a model); its traffic and drift show here.
          </EmptyState>
        ) : (
          <table className="w-full text-sm" data-testid="monitoring-overview">
            <thead className="bg-subtle text-left text-xs text-muted">
              <tr>
                <th className="px-5 py-2 font-medium">Deployment</th>
                <th className="px-3 py-2 font-medium">Health</th>
                <th className="px-3 py-2 text-right font-medium">req/s now</th>
                <th
                  className="px-3 py-2 text-right font-medium"
                  title="Over the minutes of the last 15 that are rolled up (the worker rolls up each closed minute)"
                >
                  req/s (15 min)
                </th>
                <th className="px-3 py-2 text-right font-medium">errors</th>
                <th className="px-3 py-2 text-right font-medium">p95</th>
                <th className="px-3 py-2 font-medium">drift</th>
                <th className="px-3 py-2 text-right font-medium">labels (15 min)</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-border">
              {q.data.map((d) => (
                <tr key={d.name} className="hover:bg-subtle">
                  <td className="px-5 py-2">
                    <Link className="font-medium text-accent hover:underline" href={`/w/${workspace.slug}/monitoring/${d.name}`}>
                      {d.name}
                    </Link>{" "}
                    <span className="text-xs text-muted">{d.model}</span> {d.status === "stopped" && <Badge tone="stale">stopped</Badge>}
                  </td>
                  <td className="px-3 py-2">
                    <span className="flex flex-wrap gap-1">
                      {d.firing > 0 && (
                        <Badge tone="failing">
                          {d.firing} alert{d.firing > 1 ? "s" : ""} firing
                        </Badge>
                      )}
                      {d.acknowledged > 0 && <Badge tone="warning">{d.acknowledged} acknowledged</Badge>}
                      {!d.firing && !d.acknowledged && <Badge tone="passing">no alerts</Badge>}
                    </span>
                  </td>
                  <td className="px-3 py-2 text-right tabular-nums" data-testid={`live-rps-${d.name}`}>
                    {live.has(d.id) ? live.get(d.id)!.rps.toFixed(1) : <span className="text-muted">—</span>}
                  </td>
                  <td className="px-3 py-2 text-right tabular-nums">{d.rps.toFixed(2)}</td>
                  <td className={`px-3 py-2 text-right tabular-nums ${d.errorRate > 0.01 ? "text-danger" : ""}`}>{pct(d.errorRate)}</td>
                  <td className="px-3 py-2 text-right tabular-nums">{ms(d.p95)}</td>
                  <td className="px-3 py-2">
                    {d.drift ? (
                      <Badge tone={SEVERITY_TONE[d.drift]}>{d.drift === "none" ? "stable" : d.drift}</Badge>
                    ) : (
                      <span className="text-xs text-muted">not computed yet</span>
                    )}
                  </td>
                  <td className="px-3 py-2 text-right tabular-nums">{d.labels15m}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
    </>
  );
}

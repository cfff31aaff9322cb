"use client";

import { useQuery } from "@tanstack/react-query";
import { useTRPC } from "~/components/trpc/client";
import { Badge } from "~/components/ui/badge";
import { Card, CardHeader } from "~/components/ui/card";
import { EmptyState, Skeleton } from "~/components/ui/states";
import { QueryWait, ready } from "~/components/ui/query-state";
import { TimeAgo } from "~/components/ui/time";
import { useRealtimeStatus } from "~/components/realtime/realtime-provider";

const TONE = { alive: "passing", stale: "warning", stopped: "stale" } as const;

export function SystemSettings() {
  const trpc = useTRPC();
  const realtime = useRealtimeStatus();
  // Heartbeats arrive every 5 s; polling at that pace shows liveness without a socket event per beat.
  const status = useQuery({ ...trpc.system.status.queryOptions(), refetchInterval: 5000 });
  return (
    <div className="space-y-6">
      <Card>
        <CardHeader title="Workers" description="Background processes that run jobs from the Postgres queue. Each beats every 5 seconds." />
        {!ready(status) ? (
          <QueryWait query={status} rows={2} />
        ) : status.data.workers.length === 0 ? (
          <EmptyState title="No worker has reported in the last 24 hours">
            Start one with <code>npm run start:worker</code> (npm start runs one for you).
          </EmptyState>
        ) : (
          <table className="w-full text-sm" data-testid="workers-table">
            <thead className="bg-subtle text-left text-xs text-muted">
              <tr>
                <th className="px-5 py-2 font-medium">Worker</th>
                <th className="px-5 py-2 font-medium">Status</th>
                <th className="px-5 py-2 font-medium">Last heartbeat</th>
                <th className="px-5 py-2 font-medium">Started</th>
                <th className="px-5 py-2 font-medium text-right">Heartbeat jobs</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-border">
              {status.data.workers.map((w) => (
                <tr key={w.id}>
                  <td className="px-5 py-2.5 font-mono text-xs">{w.id}</td>
                  <td className="px-5 py-2.5">
                    <Badge tone={TONE[w.status]}>{w.status}</Badge>
                  </td>
                  <td className="px-5 py-2.5 text-muted">
                    <TimeAgo date={w.lastSeenAt} />
                  </td>
                  <td className="px-5 py-2.5 text-muted">
                    <TimeAgo date={w.startedAt} />
                  </td>
                  <td className="px-5 py-2.5 text-right tabular-nums">{w.jobsProcessed}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
      <Card>
        <CardHeader
          title="Process restarts"
          description="Exits of the web, worker and inference processes that npm start did not ask for, in the last 24 hours. Each is restarted after a delay that doubles; after 5 exits within a minute it stays stopped."
        />
        {status.isPending ? (
          <Skeleton rows={1} />
        ) : status.isError ? null : status.data.processExits.length === 0 ? (
          <EmptyState title="No process has exited unexpectedly in the last 24 hours" />
        ) : (
          <table className="w-full text-sm" data-testid="process-exits-table">
            <thead className="bg-subtle text-left text-xs text-muted">
              <tr>
                <th className="px-5 py-2 font-medium">Process</th>
                <th className="px-5 py-2 font-medium">Exit reason</th>
                <th className="px-5 py-2 font-medium">Action</th>
                <th className="px-5 py-2 font-medium">When</th>
                <th className="px-5 py-2 font-medium">Host · PID</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-border">
              {status.data.processExits.map((e) => (
                <tr key={e.id}>
                  <td className="px-5 py-2.5 font-medium">{e.process}</td>
                  <td className="px-5 py-2.5 font-mono text-xs">{e.reason}</td>
                  <td className="px-5 py-2.5">
                    {e.gaveUp ? (
                      <Badge tone="failing">stopped after {e.crashesInWindow} exits</Badge>
                    ) : (
                      <Badge tone="warning">restarted after {Math.round((e.restartInMs ?? 0) / 100) / 10} s</Badge>
                    )}
                  </td>
                  <td className="px-5 py-2.5 text-muted">
                    <TimeAgo date={e.at} />
                  </td>
                  <td className="px-5 py-2.5 font-mono text-xs text-muted">
                    {e.hostname} · {e.pid ?? "–"}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
      <Card>
        <CardHeader title="Services" />
        <dl className="grid grid-cols-[max-content_1fr] gap-x-8 gap-y-2 p-5 text-sm">
          <dt className="text-muted">Database</dt>
          <dd>{status.data?.database.version ?? "…"}</dd>
          <dt className="text-muted">Live updates</dt>
          <dd>
            <Badge tone={realtime === "live" ? "passing" : realtime === "connecting" ? "pending" : "failing"}>{realtime}</Badge>
          </dd>
        </dl>
      </Card>
    </div>
  );
}

"use client";

import { ArrowDown, ArrowUp, TriangleAlert } from "lucide-react";
import { Badge } from "~/components/ui/badge";
import { Card, CardHeader } from "~/components/ui/card";
import { changeVerdict, lowerIsBetter, measuredValue, reportedDiffers } from "~/server/shared/metrics";
import { DeltaText } from "~/components/registry/metric-delta";
import type { Room } from "./room-types";

const fmt = (v: number | undefined) => (v === undefined ? "—" : v.toFixed(4));

/**
 * The version's metrics against the alias holder's: each change coloured by whether it is
 * an improvement for that metric (a lower log_loss is green), and each value the uploader
 * reported set beside what the validation run measured, flagged when they disagree.
 */
export function MetricsSection({ room }: { room: Room }) {
  const reported = room.version.metrics;
  const measured = room.measured ?? {};
  const reportedNames = [...Object.keys(reported), ...Object.keys(room.baseline?.metrics ?? {})];
  // A measured figure already shown beside its reported synonym (auc / roc_auc) gets no row of its own.
  const shownMeasured = new Set(reportedNames.flatMap((n) => Object.keys(measured).filter((m) => m !== n && measuredValue(n, { [m]: 0 }) !== undefined)));
  const names = [...new Set([...reportedNames, ...Object.keys(measured).filter((m) => !shownMeasured.has(m))])].sort();
  if (!names.length) return null;
  const hasMeasured = Object.keys(measured).length > 0;
  const measuredOf = (n: string) => measuredValue(n, measured);
  const gaps = names.filter((n) => reported[n] !== undefined && measuredOf(n) !== undefined && reportedDiffers(reported[n], measuredOf(n)!).differs);
  return (
    <Card>
      <CardHeader
        title="Metrics"
        description={`${room.baseline ? `v${room.version.version} against v${room.baseline.version}, which holds ${room.alias} now` : `No version holds ${room.alias} yet`}. Reported: typed in at registration; measured: by validation run #${room.validation?.run.number ?? "—"}.`}
      />
      {gaps.length > 0 && (
        <p role="status" className="flex items-start gap-2 border-b border-border bg-amber-500/10 px-5 py-2.5 text-sm" data-testid="metric-gaps">
          <TriangleAlert className="mt-0.5 size-4 shrink-0 text-amber-600 dark:text-amber-400" aria-hidden />
          <span>
            {gaps.length === 1 ? "A reported metric differs" : `${gaps.length} reported metrics differ`} from what validation measured:{" "}
            {gaps.map((n, i) => (
              <span key={n}>
                {i > 0 && "; "}
                <span className="font-mono text-xs">{n}</span> reported {fmt(reported[n])}, measured {fmt(measuredOf(n))}
              </span>
            ))}
            .
          </span>
        </p>
      )}
      <div className="overflow-x-auto">
        <table className="w-full text-sm" data-testid="metrics-compare">
          <thead className="bg-subtle text-left text-xs text-muted">
            <tr>
              <th className="px-5 py-2 font-medium">Metric</th>
              {room.baseline && <th className="px-3 py-2 text-right font-medium">v{room.baseline.version}</th>}
              <th className="px-3 py-2 text-right font-medium">v{room.version.version} reported</th>
              <th className="px-3 py-2 font-medium">Change</th>
              {hasMeasured && <th className="px-3 py-2 text-right font-medium">v{room.version.version} measured</th>}
            </tr>
          </thead>
          <tbody className="divide-y divide-border">
            {names.map((n) => {
              const a = room.baseline?.metrics[n];
              const b = reported[n];
              const m = measuredOf(n);
              const d = a !== undefined && b !== undefined ? b - a : null;
              const gap = b !== undefined && m !== undefined ? reportedDiffers(b, m) : null;
              const lower = lowerIsBetter(n);
              return (
                <tr key={n} data-metric={n} data-verdict={d === null ? undefined : changeVerdict(n, d)}>
                  <td className="px-5 py-1.5">
                    <span className="font-mono text-xs">{n}</span>{" "}
                    <span className="text-xs text-muted" title={lower ? "Lower is better" : "Higher is better"}>
                      {lower ? (
                        <ArrowDown className="inline size-3" aria-label="lower is better" />
                      ) : (
                        <ArrowUp className="inline size-3" aria-label="higher is better" />
                      )}
                    </span>
                  </td>
                  {room.baseline && <td className="px-3 py-1.5 text-right tabular-nums">{fmt(a)}</td>}
                  <td className="px-3 py-1.5 text-right tabular-nums">{fmt(b)}</td>
                  <td className="px-3 py-1.5 text-xs">
                    <DeltaText metric={n} value={d} />
                  </td>
                  {hasMeasured && (
                    <td className="px-3 py-1.5 text-right tabular-nums">
                      {gap?.differs ? (
                        <Badge tone="warning" title={`Reported ${fmt(b)}, measured ${fmt(m)}`}>
                          {fmt(m)} <span className="sr-only">differs from the reported {fmt(b)}</span>
                        </Badge>
                      ) : (
                        fmt(m)
                      )}
                    </td>
                  )}
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </Card>
  );
}

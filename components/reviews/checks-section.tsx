"use client";

import { checkLabel } from "~/server/shared/check-labels";
import Link from "next/link";
import { useWorkspace } from "~/components/shell/workspace-context";
import { Badge } from "~/components/ui/badge";
import { Card, CardHeader } from "~/components/ui/card";
import { CheckValue } from "~/components/pipelines/report";
import type { Room } from "./room-types";

export function ChecksSection({ room }: { room: Room }) {
  const { workspace } = useWorkspace();
  const base = new Map((room.baseline?.checks ?? []).map((c) => [c.name, c]));
  return (
    <Card>
      <CardHeader
        title="Checks"
        description={
          room.validation
            ? `Run #${room.validation.run.number} (${room.validation.run.pipeline}) · ${room.validation.run.status}`
            : "No validation run for this version yet"
        }
        actions={
          room.validation ? (
            <Link className="text-sm text-accent hover:underline" href={`/w/${workspace.slug}/pipelines/runs/${room.validation.run.id}`}>
              Open run
            </Link>
          ) : undefined
        }
      />
      {room.validation && room.validation.checks.length > 0 ? (
        <table className="w-full text-sm" data-testid="review-checks">
          <tbody className="divide-y divide-border">
            {room.validation.checks.map((c) => (
              <tr key={c.name}>
                <td className="px-5 py-1.5">
                  <Badge tone={c.status === "pass" ? "passing" : c.status === "warn" ? "warning" : "failing"}>{c.status}</Badge>
                </td>
                <td className="px-3 py-1.5 text-xs">
                  {checkLabel(c.name)}
                  <span className="block font-mono text-[10px] text-muted">{c.name}</span>
                </td>
                <td className="px-3 py-1.5 text-right tabular-nums">
                  <CheckValue value={c.value} message={c.message} />
                </td>
                <td className="px-3 py-1.5 text-xs text-muted">{c.threshold}</td>
                <td className="px-3 py-1.5 text-xs text-muted">{base.get(c.name) ? `v${room.baseline!.version}: ${base.get(c.name)!.status}` : ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p className="px-5 py-4 text-sm text-muted">
          {room.validation ? "The run recorded no checks yet." : "Checks appear here as soon as the version's validation pipeline runs."}
        </p>
      )}
    </Card>
  );
}

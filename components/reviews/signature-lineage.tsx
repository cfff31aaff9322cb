"use client";

import { Badge } from "~/components/ui/badge";
import { Card, CardHeader } from "~/components/ui/card";
import type { Room } from "./room-types";

export function SignatureAndLineage({ room }: { room: Room }) {
  const changed = room.diff ? [...room.diff.inputs, ...room.diff.outputs].filter((x) => x.changed) : [];
  return (
    <div className="grid gap-6 lg:grid-cols-2">
      <Card>
        <CardHeader
          title="Signature diff"
          description={room.baseline ? `Inputs and outputs, v${room.baseline.version} → v${room.version.version}` : "Nothing to compare with"}
        />
        <div className="px-5 py-3 text-sm" data-testid="signature-diff">
          {!room.diff ? (
            <p className="text-muted">—</p>
          ) : changed.length === 0 ? (
            <p className="text-muted">Same inputs and outputs: a drop-in replacement.</p>
          ) : (
            <ul className="space-y-1 font-mono text-xs">
              {changed.map((x) => (
                <li key={x.name}>
                  {x.name}: {x.a ?? "—"} → {x.b ?? "—"}
                </li>
              ))}
            </ul>
          )}
        </div>
      </Card>
      <Card>
        <CardHeader title="Lineage" description="The data this version was trained and evaluated on" />
        <ul className="divide-y divide-border text-sm" data-testid="review-lineage">
          {room.lineage.length === 0 && <li className="px-5 py-3 text-muted">No datasets linked to this version.</li>}
          {room.lineage.map((l) => (
            <li key={`${l.role}:${l.name}@${l.version}`} className="flex items-center justify-between px-5 py-2">
              <span>
                <Badge>{l.role}</Badge> {l.name}@{l.version}
              </span>
              <span className="font-mono text-xs text-muted">{l.sha256.slice(0, 12)}…</span>
            </li>
          ))}
        </ul>
      </Card>
    </div>
  );
}

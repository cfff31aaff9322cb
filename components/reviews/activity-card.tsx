"use client";

import { History } from "lucide-react";
import { describeEvent } from "~/components/audit/describe";
import { Card, CardHeader } from "~/components/ui/card";
import { TimeAgo } from "~/components/ui/time";
import type { Room } from "./room-types";

/** The request's events from the audit trail, newest first. */
export function ActivityCard({ room }: { room: Room }) {
  return (
    <Card>
      <CardHeader title="Activity" description="From the audit trail" />
      <ol className="max-h-96 divide-y divide-border overflow-auto text-xs" data-testid="review-activity">
        {room.activity.map((a) => (
          <li key={a.seq} className="px-5 py-2">
            <div>{describeEvent(a)}</div>
            <div className="text-muted">
              <History className="mr-1 inline size-3" aria-hidden />#{a.seq} · <TimeAgo date={a.occurredAt} />
            </div>
          </li>
        ))}
      </ol>
    </Card>
  );
}

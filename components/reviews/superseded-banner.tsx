"use client";

import { useMutation } from "@tanstack/react-query";
import { AlertTriangle, GitMerge } from "lucide-react";
import { toast } from "sonner";
import { useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, useTRPC } from "~/components/trpc/client";
import { Button } from "~/components/ui/button";
import { TimeAgo } from "~/components/ui/time";
import type { Room } from "./room-types";

// ---------------------------------------------------------------------------
// Superseded: the alias moved under the request
// ---------------------------------------------------------------------------

export function SupersededBanner({ room, canRebase }: { room: Room; canRebase: boolean }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const rebase = useMutation(
    trpc.reviews.rebase.mutationOptions({
      onSuccess: (r) =>
        toast.success(
          `Re-based on ${r.baselineVersion === null ? "the current state" : `v${r.baselineVersion}`}: round ${r.round + 1} starts, the approvers were asked to sign again.`,
        ),
      onError: (e) => toast.error(errorMessage(e)),
    }),
  );
  const sup = room.superseded!;
  const holder = sup.holderVersion === null ? null : `v${sup.holderVersion}`;
  return (
    <div
      role="alert"
      data-testid="superseded-banner"
      className="mb-6 flex flex-wrap items-start justify-between gap-3 rounded-md border border-amber-500/50 bg-amber-500/10 px-4 py-3 text-sm"
    >
      <div className="flex min-w-0 items-start gap-2">
        <AlertTriangle className="mt-0.5 size-4 shrink-0 text-amber-700 dark:text-amber-300" aria-hidden />
        <div>
          {sup.alreadyHolds ? (
            <>
              <strong>
                {holder} already holds {room.alias}
              </strong>{" "}
              since <TimeAgo date={sup.at} />: there is nothing left to approve. Withdraw this request.
            </>
          ) : (
            <>
              <strong>{holder ? `${holder} holds ${room.alias} now` : `Nobody holds ${room.alias} now`}</strong> since <TimeAgo date={sup.at} />; approvals
              below no longer count.{" "}
              {canRebase
                ? "Re-base the request on it to collect signatures again."
                : `${room.requestedBy.name} (or an admin) must re-base it before anyone can sign.`}
            </>
          )}
        </div>
      </div>
      {!sup.alreadyHolds && canRebase && (
        <Button size="sm" loading={rebase.isPending} onClick={() => rebase.mutate({ workspaceId: workspace.id, number: room.number })}>
          <GitMerge className="size-4" aria-hidden /> Re-base on {holder ?? "the current state"}
        </Button>
      )}
    </div>
  );
}

"use client";

import { useMutation, useQuery } from "@tanstack/react-query";
import { CheckCircle2, Circle, FileSignature, ShieldAlert, XCircle } from "lucide-react";
import { useState } from "react";
import { toast } from "sonner";
import { useCan, useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, useTRPC } from "~/components/trpc/client";
import { Badge } from "~/components/ui/badge";
import { Button } from "~/components/ui/button";
import { Card, CardHeader } from "~/components/ui/card";
import { QueryWait, ready } from "~/components/ui/query-state";
import { TimeAgo } from "~/components/ui/time";
import { mayManageRequest } from "~/server/shared/permissions";
import { ActivityCard } from "./activity-card";
import { ChecksSection } from "./checks-section";
import { Markdown } from "./markdown";
import { MetricsSection } from "./metrics-section";
import { CardSection } from "./model-card-section";
import { RequestChangesDialog } from "./request-changes-dialog";
import { STATUS_TONE } from "./reviews-page";
import { SignDialog, useSsoSignatureOutcome } from "./sign-dialog";
import { SignatureAndLineage } from "./signature-lineage";
import { SignaturesCard } from "./signatures-card";
import { SupersededBanner } from "./superseded-banner";
import { Threads } from "./threads";
import { usePresence } from "./use-presence";
import { Breadcrumb } from "~/components/ui/breadcrumb";
import { LockedAction } from "~/components/ui/locked";

// ---------------------------------------------------------------------------
// The room
// ---------------------------------------------------------------------------

export function ReviewRoom({ number }: { number: number }) {
  const { workspace, user } = useWorkspace();
  const trpc = useTRPC();
  const canSign = useCan("review:sign");
  const q = useQuery(trpc.reviews.get.queryOptions({ workspaceId: workspace.id, number }));
  const [decision, setDecision] = useState<"approve" | "reject" | null>(null);
  useSsoSignatureOutcome(number);
  const [changesOpen, setChangesOpen] = useState(false);
  const onError = (e: unknown) => toast.error(errorMessage(e));
  const clearChanges = useMutation(trpc.reviews.clearChanges.mutationOptions({ onError }));
  const withdraw = useMutation(trpc.reviews.withdraw.mutationOptions({ onError }));
  const live = usePresence(q.data?.id ?? "");
  if (!ready(q)) return <QueryWait query={q} rows={10} />;
  const room = q.data;
  const open = room.status === "open";
  const mine = room.requestedBy.id === user.id || room.version.createdBy === user.id;
  const myChange = room.changeRequests.find((c) => c.reviewerId === user.id);
  const superseded = open && room.superseded !== null;
  const canRebase = mayManageRequest(workspace.role, user.id, room.requestedBy.id);
  return (
    <>
      <Breadcrumb href={`/w/${workspace.slug}/reviews`} label="Reviews" />
      <div className="mb-6 flex flex-wrap items-start justify-between gap-4">
        <div>
          <h1 className="text-2xl font-semibold">
            #{room.number} {room.model.name} v{room.version.version} → {room.alias}
          </h1>
          <p className="mt-1 text-sm text-muted">
            <Badge tone={STATUS_TONE[room.status]} data-testid="review-status">
              {room.status}
            </Badge>{" "}
            opened by {room.requestedBy.name} <TimeAgo date={room.createdAt} />
            {room.assignees.length > 0 && <> · reviewers: {room.assignees.map((a) => a.name).join(", ")}</>}
            {room.round > 0 && <> · round {room.round + 1} (re-based)</>}
            {room.closedAt && (
              <>
                {" "}
                · {room.status} by {room.closedBy} <TimeAgo date={room.closedAt} />
                {room.closedReason && <>: “{room.closedReason}”</>}
              </>
            )}
          </p>
        </div>
        <div className="flex items-center gap-1" data-testid="presence" aria-label="In this room now">
          {live.people.map((p) => (
            <span
              key={p.id}
              title={`${p.name} is here`}
              className="flex size-8 items-center justify-center rounded-full border-2 border-emerald-500 bg-subtle text-xs font-semibold"
            >
              {p.name
                .split(/\s+/)
                .map((w) => w[0])
                .slice(0, 2)
                .join("")
                .toUpperCase()}
            </span>
          ))}
          <span className="ml-2 text-xs text-muted">{live.people.length ? `${live.people.map((p) => p.name).join(", ")} here now` : ""}</span>
        </div>
      </div>

      {superseded && <SupersededBanner room={room} canRebase={canRebase} />}

      <div className="grid gap-6 lg:grid-cols-[1fr_20rem]">
        <div className="min-w-0 space-y-6">
          <Card>
            <CardHeader title="Summary" />
            <div className="px-5 py-4">
              <Markdown source={room.summary} people={room.members} />
            </div>
          </Card>
          <CardSection room={room} open={open} />
          <ChecksSection room={room} />
          <MetricsSection room={room} />
          <SignatureAndLineage room={room} />
          <Threads room={room} open={open} sendTyping={live.sendTyping} typing={live.typing} />
        </div>

        <div className="space-y-6">
          <Card>
            <CardHeader
              title="Policy"
              description={
                room.policy ? `${room.alias} · ${room.policy.source === "default" ? "default policy" : `version ${room.policy.version}`}` : "No policy"
              }
            />
            <ul className="space-y-1.5 px-5 py-3 text-sm" data-testid="checklist">
              {room.state?.checklist.map((c, i) => (
                <li key={i} className="flex items-start gap-2">
                  {c.ok ? (
                    <CheckCircle2 className="mt-0.5 size-4 shrink-0 text-emerald-600" aria-label="done" />
                  ) : (
                    <Circle className="mt-0.5 size-4 shrink-0 text-muted" aria-label="missing" />
                  )}
                  <span className={c.ok ? "" : "font-medium"}>{c.text}</span>
                </li>
              ))}
            </ul>
            {open && (
              <div className="space-y-2 border-t border-border px-5 py-3">
                {!canSign && (
                  <div className="flex gap-2">
                    <LockedAction permission="review:sign" action="sign reviews">
                      Approve…
                    </LockedAction>
                    <LockedAction permission="review:sign" action="sign reviews">
                      Reject…
                    </LockedAction>
                  </div>
                )}
                {canSign && !mine && (
                  <div className="flex gap-2">
                    <Button size="sm" disabled={superseded} aria-describedby={superseded ? "signing-paused" : undefined} onClick={() => setDecision("approve")}>
                      <FileSignature className="size-4" aria-hidden /> Approve…
                    </Button>
                    <Button
                      size="sm"
                      variant="danger"
                      disabled={superseded}
                      aria-describedby={superseded ? "signing-paused" : undefined}
                      onClick={() => setDecision("reject")}
                    >
                      <XCircle className="size-4" aria-hidden /> Reject…
                    </Button>
                  </div>
                )}
                {canSign && !mine && superseded && (
                  <p id="signing-paused" className="text-xs text-muted" data-testid="signing-paused">
                    {room.superseded!.alreadyHolds
                      ? `Signing is closed: v${room.superseded!.holderVersion} already holds ${room.alias}.`
                      : `Signing is paused: ${room.superseded!.holderVersion === null ? "the alias moved" : `v${room.superseded!.holderVersion} holds ${room.alias} now`}, so this request must be re-based first.`}
                  </p>
                )}
                {canSign && !mine && !myChange && (
                  <Button size="sm" variant="secondary" onClick={() => setChangesOpen(true)}>
                    <ShieldAlert className="size-4" aria-hidden /> Request changes
                  </Button>
                )}
                {myChange && (
                  <Button
                    size="sm"
                    variant="secondary"
                    loading={clearChanges.isPending}
                    onClick={() => clearChanges.mutate({ workspaceId: workspace.id, number })}
                  >
                    Clear my change request
                  </Button>
                )}
                {mine && <p className="text-xs text-muted">You opened this request (or uploaded the version): someone else approves it.</p>}
                {canRebase && (
                  <Button size="sm" variant="ghost" loading={withdraw.isPending} onClick={() => withdraw.mutate({ workspaceId: workspace.id, number })}>
                    Withdraw request
                  </Button>
                )}
              </div>
            )}
          </Card>

          <SignaturesCard room={room} />

          {room.changeRequests.length > 0 && (
            <Card>
              <CardHeader title="Changes requested" />
              <ul className="divide-y divide-border text-sm">
                {room.changeRequests.map((c) => (
                  <li key={c.id} className="px-5 py-2">
                    <strong>{c.reviewerName}</strong>: {c.reason}
                  </li>
                ))}
              </ul>
            </Card>
          )}

          <ActivityCard room={room} />
        </div>
      </div>

      <SignDialog room={room} decision={decision} onClose={() => setDecision(null)} />
      <RequestChangesDialog number={number} open={changesOpen} onOpenChange={setChangesOpen} />
    </>
  );
}

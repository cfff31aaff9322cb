"use client";

import { useMutation, useQuery } from "@tanstack/react-query";
import { MessageSquare } from "lucide-react";
import { useState } from "react";
import { toast } from "sonner";
import { useCan, useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, useTRPC } from "~/components/trpc/client";
import { Badge } from "~/components/ui/badge";
import { Button } from "~/components/ui/button";
import { Card, CardHeader } from "~/components/ui/card";
import { Dialog } from "~/components/ui/dialog";
import { Select } from "~/components/ui/field";
import { Skeleton } from "~/components/ui/states";
import { TimeAgo } from "~/components/ui/time";
import { CommentBox } from "./comment-box";
import { Markdown } from "./markdown";
import type { Room } from "./room-types";

const ANCHORS = [
  { value: "general", label: "General" },
  { value: "card", label: "Model card" },
  { value: "checks", label: "Checks" },
  { value: "metrics", label: "Metrics" },
  { value: "signature", label: "Signature diff" },
  { value: "lineage", label: "Lineage" },
];
const anchorLabel = (a: string) =>
  ANCHORS.find((x) => x.value === a)?.label ?? a.replace(/^(check|metric):/, (_, k: string) => (k === "check" ? "Check " : "Metric "));

// ---------------------------------------------------------------------------
// Threads
// ---------------------------------------------------------------------------

export function Threads({
  room,
  open,
  sendTyping,
  typing,
}: {
  room: Room;
  open: boolean;
  sendTyping: (threadId: string | null) => void;
  typing: Record<string, { name: string; threadId: string | null }>;
}) {
  const { workspace, user } = useWorkspace();
  const trpc = useTRPC();
  const canComment = useCan("review:participate");
  const [anchor, setAnchor] = useState("general");
  const [editing, setEditing] = useState<string | null>(null);
  const [history, setHistory] = useState<string | null>(null);
  const ref = { workspaceId: workspace.id, number: room.number };
  const onError = (e: unknown) => toast.error(errorMessage(e));
  const comment = useMutation(trpc.reviews.comment.mutationOptions({ onError }));
  const edit = useMutation(trpc.reviews.editComment.mutationOptions({ onError, onSuccess: () => setEditing(null) }));
  const resolve = useMutation(trpc.reviews.resolveThread.mutationOptions({ onError }));
  const hist = useQuery({
    ...trpc.reviews.commentHistory.queryOptions({ ...ref, commentId: history ?? "00000000-0000-0000-0000-000000000000" }),
    enabled: !!history,
  });
  const typers = (threadId: string | null) =>
    Object.values(typing)
      .filter((t) => t.threadId === threadId)
      .map((t) => t.name);
  const TypingLine = ({ threadId }: { threadId: string | null }) => {
    const names = typers(threadId);
    return names.length ? (
      <p className="text-xs text-muted italic" data-testid="typing">
        {names.join(", ")} {names.length === 1 ? "is" : "are"} typing…
      </p>
    ) : null;
  };
  return (
    <Card>
      <CardHeader title="Discussion" description="Threads about the whole request or one section; resolve them when settled" />
      <div className="space-y-4 px-5 py-4" data-testid="threads">
        {room.threads.length === 0 && <p className="text-sm text-muted">No comments yet.</p>}
        {room.threads.map((t) => (
          <div key={t.id} className={`rounded-md border border-border ${t.resolvedAt ? "opacity-70" : ""}`} data-testid="thread">
            <div className="flex items-center justify-between border-b border-border bg-subtle px-3 py-1.5 text-xs">
              <span className="flex items-center gap-2">
                <MessageSquare className="size-3.5" aria-hidden /> {anchorLabel(t.anchor)}
                {t.resolvedAt && <Badge tone="passing">resolved</Badge>}
              </span>
              {canComment && (
                <Button size="sm" variant="ghost" onClick={() => resolve.mutate({ ...ref, threadId: t.id, resolved: !t.resolvedAt })}>
                  {t.resolvedAt ? "Reopen" : "Resolve"}
                </Button>
              )}
            </div>
            <ul className="divide-y divide-border">
              {t.comments.map((c) => (
                <li key={c.id} className="px-3 py-2">
                  <div className="mb-1 flex items-center justify-between text-xs text-muted">
                    <span>
                      <strong className="text-fg">{c.author}</strong> · <TimeAgo date={c.createdAt} />
                      {c.editedAt && (
                        <button className="ml-1 underline" onClick={() => setHistory(c.id)}>
                          (edited)
                        </button>
                      )}
                    </span>
                    {c.authorId === user.id && open && editing !== c.id && (
                      <button className="underline" onClick={() => setEditing(c.id)}>
                        Edit
                      </button>
                    )}
                  </div>
                  {editing === c.id ? (
                    <CommentBox
                      label="Edit comment"
                      members={room.members}
                      initial={c.body}
                      onTyping={() => sendTyping(t.id)}
                      placeholder=""
                      submitLabel="Save"
                      pending={edit.isPending}
                      onSubmit={(body) => edit.mutate({ ...ref, commentId: c.id, body })}
                    />
                  ) : (
                    <Markdown source={c.body} people={room.members} />
                  )}
                </li>
              ))}
            </ul>
            <div className="border-t border-border px-3 py-2">
              <TypingLine threadId={t.id} />
              {canComment && (
                <CommentBox
                  label="Reply"
                  members={room.members}
                  placeholder="Reply…"
                  submitLabel="Reply"
                  pending={comment.isPending}
                  onTyping={() => sendTyping(t.id)}
                  onSubmit={(body) => comment.mutate({ ...ref, body, threadId: t.id })}
                />
              )}
            </div>
          </div>
        ))}
        {canComment && (
          <div className="rounded-md border border-dashed border-border p-3">
            <div className="mb-2 flex items-center gap-2 text-sm">
              <span className="font-medium">New thread about</span>
              <Select aria-label="Thread about" className="h-8 w-44" value={anchor} onChange={(e) => setAnchor(e.target.value)}>
                {ANCHORS.map((a) => (
                  <option key={a.value} value={a.value}>
                    {a.label}
                  </option>
                ))}
                {(room.validation?.checks ?? []).map((c) => (
                  <option key={c.name} value={`check:${c.name}`}>
                    Check {c.name}
                  </option>
                ))}
              </Select>
            </div>
            <TypingLine threadId={null} />
            <CommentBox
              label="New comment"
              members={room.members}
              placeholder="Write a comment… (@ to mention someone)"
              submitLabel="Comment"
              pending={comment.isPending}
              onTyping={() => sendTyping(null)}
              onSubmit={(body) => comment.mutate({ ...ref, body, anchor })}
            />
          </div>
        )}
      </div>
      <Dialog open={!!history} onOpenChange={(o) => !o && setHistory(null)} title="Edit history" description="Earlier versions of this comment, oldest first">
        {hist.data ? (
          <ol className="max-h-80 space-y-3 overflow-auto text-sm">
            {hist.data.earlier.map((e, i) => (
              <li key={i} className="rounded-md border border-border p-2">
                <div className="mb-1 text-xs text-muted">
                  replaced <TimeAgo date={e.replacedAt} />
                </div>
                <Markdown source={e.body} people={room.members} />
              </li>
            ))}
            <li className="rounded-md border border-accent/40 p-2">
              <div className="mb-1 text-xs text-muted">current</div>
              <Markdown source={hist.data.current} people={room.members} />
            </li>
          </ol>
        ) : (
          <Skeleton rows={2} />
        )}
      </Dialog>
    </Card>
  );
}

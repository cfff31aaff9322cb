"use client";

import { useMutation, useQuery } from "@tanstack/react-query";
import { CheckCircle2, Circle, FileSignature, History, MessageSquare, ShieldAlert, XCircle } from "lucide-react";
import Link from "next/link";
import { useEffect, useRef, useState } from "react";
import { toast } from "sonner";
import { describeEvent } from "~/components/audit/describe";
import { useSocket } from "~/components/realtime/realtime-provider";
import { useCan, useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, useTRPC } from "~/components/trpc/client";
import { Badge } from "~/components/ui/badge";
import { Button } from "~/components/ui/button";
import { Card, CardHeader } from "~/components/ui/card";
import { Dialog } from "~/components/ui/dialog";
import { Field, Input, Select } from "~/components/ui/field";
import { ErrorState, Skeleton } from "~/components/ui/states";
import { TimeAgo } from "~/components/ui/time";
import { ROLE_LABELS } from "~/server/authz/permissions";
import type { AppRouter } from "~/server/trpc/root";
import type { inferRouterOutputs } from "@trpc/server";
import { Markdown } from "./markdown";
import { STATUS_TONE } from "./reviews-page";
import { Breadcrumb } from "~/components/ui/breadcrumb";

type Room = inferRouterOutputs<AppRouter>["reviews"]["get"];
type Member = Room["members"][number];

const ANCHORS = [
  { value: "general", label: "General" },
  { value: "card", label: "Model card" },
  { value: "checks", label: "Checks" },
  { value: "metrics", label: "Metrics" },
  { value: "signature", label: "Signature diff" },
  { value: "lineage", label: "Lineage" },
];
const anchorLabel = (a: string) => ANCHORS.find((x) => x.value === a)?.label ?? a.replace(/^(check|metric):/, (_, k: string) => (k === "check" ? "Check " : "Metric "));

// ---------------------------------------------------------------------------
// Live: presence and typing
// ---------------------------------------------------------------------------

function usePresence(requestId: string) {
  const socket = useSocket();
  const [people, setPeople] = useState<{ id: string; name: string }[]>([]);
  const [typing, setTyping] = useState<Record<string, { name: string; threadId: string | null; until: number }>>({});
  useEffect(() => {
    if (!socket) return;
    const join = () => socket.emit("review:join", { requestId });
    const onPresence = (p: { requestId: string; users: { id: string; name: string }[] }) => p.requestId === requestId && setPeople(p.users);
    const onTyping = (p: { requestId: string; threadId: string | null; user: { id: string; name: string } }) => {
      if (p.requestId !== requestId) return;
      setTyping((t) => ({ ...t, [p.user.id]: { name: p.user.name, threadId: p.threadId, until: Date.now() + 3000 } }));
    };
    socket.on("review.presence", onPresence);
    socket.on("review.typing", onTyping);
    socket.on("connect", join);
    if (socket.connected) join();
    const sweep = setInterval(() => setTyping((t) => Object.fromEntries(Object.entries(t).filter(([, v]) => v.until > Date.now()))), 1000);
    return () => {
      socket.emit("review:leave", { requestId });
      socket.off("review.presence", onPresence);
      socket.off("review.typing", onTyping);
      socket.off("connect", join);
      clearInterval(sweep);
    };
  }, [socket, requestId]);
  const last = useRef(0);
  const sendTyping = (threadId: string | null) => {
    if (!socket || Date.now() - last.current < 1000) return;
    last.current = Date.now();
    socket.emit("review:typing", { requestId, threadId });
  };
  return { people, typing, sendTyping };
}

// ---------------------------------------------------------------------------
// Comment box with @mention autocomplete
// ---------------------------------------------------------------------------

function CommentBox({ members, onSubmit, onTyping, placeholder, submitLabel, pending, initial = "", label }: { members: Member[]; onSubmit: (body: string) => void; onTyping: () => void; placeholder: string; submitLabel: string; pending: boolean; initial?: string; label: string }) {
  const [body, setBody] = useState(initial);
  const [query, setQuery] = useState<string | null>(null);
  const [active, setActive] = useState(0);
  const ref = useRef<HTMLTextAreaElement>(null);
  const matches = query === null ? [] : members.filter((m) => `${m.name} ${m.email}`.toLowerCase().includes(query.toLowerCase())).slice(0, 6);
  const update = (v: string) => {
    setBody(v);
    onTyping();
    const caret = ref.current?.selectionStart ?? v.length;
    const m = /(^|\s)@([\w.+-]*)$/.exec(v.slice(0, caret));
    setQuery(m ? m[2]! : null);
    setActive(0);
  };
  const pick = (m: Member) => {
    const caret = ref.current?.selectionStart ?? body.length;
    const before = body.slice(0, caret).replace(/@([\w.+-]*)$/, `@${m.email} `);
    setBody(before + body.slice(caret));
    setQuery(null);
    ref.current?.focus();
  };
  return (
    <form
      className="relative"
      onSubmit={(e) => {
        e.preventDefault();
        if (body.trim()) onSubmit(body);
        setBody("");
      }}
    >
      <textarea
        ref={ref}
        aria-label={label}
        className="h-20 w-full rounded-md border border-border bg-panel p-2 text-sm"
        placeholder={placeholder}
        value={body}
        onChange={(e) => update(e.target.value)}
        onKeyDown={(e) => {
          if (matches.length) {
            if (e.key === "ArrowDown") {
              e.preventDefault();
              setActive((a) => (a + 1) % matches.length);
            } else if (e.key === "ArrowUp") {
              e.preventDefault();
              setActive((a) => (a - 1 + matches.length) % matches.length);
            } else if (e.key === "Enter" || e.key === "Tab") {
              e.preventDefault();
              pick(matches[active]!);
            } else if (e.key === "Escape") setQuery(null);
          } else if (e.key === "Enter" && (e.metaKey || e.ctrlKey)) {
            e.preventDefault();
            if (body.trim()) onSubmit(body);
            setBody("");
          }
        }}
        role="combobox"
        aria-expanded={matches.length > 0}
        aria-controls="mention-list"
        aria-autocomplete="list"
      />
      {matches.length > 0 && (
        <ul id="mention-list" role="listbox" className="absolute z-20 mt-1 w-72 rounded-md border border-border bg-panel py-1 text-sm shadow-lg">
          {matches.map((m, i) => (
            <li
              key={m.id}
              role="option"
              aria-selected={i === active}
              className={`cursor-pointer px-3 py-1.5 ${i === active ? "bg-subtle" : ""}`}
              onMouseDown={(e) => (e.preventDefault(), pick(m))}
            >
              {m.name} <span className="text-xs text-muted">{m.email}</span>
            </li>
          ))}
        </ul>
      )}
      <div className="mt-1 flex items-center justify-between">
        <span className="text-xs text-muted">Markdown · @ to mention · Ctrl+Enter to send</span>
        <Button size="sm" type="submit" loading={pending} disabled={!body.trim()}>
          {submitLabel}
        </Button>
      </div>
    </form>
  );
}

// ---------------------------------------------------------------------------
// Threads
// ---------------------------------------------------------------------------

function Threads({ room, open, sendTyping, typing }: { room: Room; open: boolean; sendTyping: (threadId: string | null) => void; typing: Record<string, { name: string; threadId: string | null }> }) {
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
  const hist = useQuery({ ...trpc.reviews.commentHistory.queryOptions({ ...ref, commentId: history ?? "00000000-0000-0000-0000-000000000000" }), enabled: !!history });
  const typers = (threadId: string | null) => Object.values(typing).filter((t) => t.threadId === threadId).map((t) => t.name);
  const TypingLine = ({ threadId }: { threadId: string | null }) => {
    const names = typers(threadId);
    return names.length ? <p className="text-xs text-muted italic" data-testid="typing">{names.join(", ")} {names.length === 1 ? "is" : "are"} typing…</p> : null;
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
                    <CommentBox label="Edit comment" members={room.members} initial={c.body} onTyping={() => sendTyping(t.id)} placeholder="" submitLabel="Save" pending={edit.isPending} onSubmit={(body) => edit.mutate({ ...ref, commentId: c.id, body })} />
                  ) : (
                    <Markdown source={c.body} />
                  )}
                </li>
              ))}
            </ul>
            <div className="border-t border-border px-3 py-2">
              <TypingLine threadId={t.id} />
              {canComment && <CommentBox label="Reply" members={room.members} placeholder="Reply…" submitLabel="Reply" pending={comment.isPending} onTyping={() => sendTyping(t.id)} onSubmit={(body) => comment.mutate({ ...ref, body, threadId: t.id })} />}
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
            <CommentBox label="New comment" members={room.members} placeholder="Write a comment… (@ to mention someone)" submitLabel="Comment" pending={comment.isPending} onTyping={() => sendTyping(null)} onSubmit={(body) => comment.mutate({ ...ref, body, anchor })} />
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
                <Markdown source={e.body} />
              </li>
            ))}
            <li className="rounded-md border border-accent/40 p-2">
              <div className="mb-1 text-xs text-muted">current</div>
              <Markdown source={hist.data.current} />
            </li>
          </ol>
        ) : (
          <Skeleton rows={2} />
        )}
      </Dialog>
    </Card>
  );
}

// ---------------------------------------------------------------------------
// Signing
// ---------------------------------------------------------------------------

function SignDialog({ room, decision, onClose }: { room: Room; decision: "approve" | "reject" | null; onClose: () => void }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const [meaning, setMeaning] = useState("");
  const [reason, setReason] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const sign = useMutation(
    trpc.reviews.sign.mutationOptions({
      onSuccess: (r) => {
        toast.success(r.outcome === "approved" ? `Approved: ${room.model.name} v${room.version.version} is now ${room.alias}.` : r.outcome === "rejected" ? "Rejected." : "Signed. The request still needs what is left on its checklist.");
        setPassword("");
        onClose();
      },
      onError: (e) => (setError(errorMessage(e)), setPassword("")),
    }),
  );
  const defaultMeaning = decision === "approve" ? `Approved for ${room.alias} release` : `Rejected for ${room.alias} release`;
  useEffect(() => {
    setMeaning(defaultMeaning);
    setError(null);
  }, [defaultMeaning]);
  return (
    <Dialog open={!!decision} onOpenChange={(o) => !o && onClose()} title={decision === "approve" ? "Approve with your signature" : "Reject with your signature"} description={`Your signature binds the artifact (sha256 ${room.version.sha256.slice(0, 12)}…) and the evidence shown here (${room.evidenceHash.slice(0, 12)}…). It cannot be changed afterwards.`}>
      <form
        className="space-y-3"
        onSubmit={(e) => {
          e.preventDefault();
          sign.mutate({ workspaceId: workspace.id, number: room.number, decision: decision!, meaning, reason: reason || undefined, password });
        }}
      >
        <Field label="Meaning of your signature" htmlFor="sig-meaning">
          <Input id="sig-meaning" value={meaning} onChange={(e) => setMeaning(e.target.value)} />
        </Field>
        {decision === "reject" && (
          <Field label="Reason" htmlFor="sig-reason" hint="Shown to the requester and kept on the record.">
            <textarea id="sig-reason" className="h-20 w-full rounded-md border border-border bg-panel p-2 text-sm" value={reason} onChange={(e) => setReason(e.target.value)} />
          </Field>
        )}
        <Field label="Your password" htmlFor="sig-password" hint="Signing asks for your password again.">
          <Input id="sig-password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} />
        </Field>
        {error && (
          <p role="alert" className="text-sm text-danger" data-testid="sign-error">
            {error}
          </p>
        )}
        <div className="flex justify-end gap-2">
          <Button type="button" variant="ghost" onClick={onClose}>
            Cancel
          </Button>
          <Button type="submit" variant={decision === "reject" ? "danger" : "primary"} loading={sign.isPending} disabled={!password || meaning.trim().length < 3}>
            <FileSignature className="size-4" aria-hidden /> Sign and {decision === "approve" ? "approve" : "reject"}
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

// ---------------------------------------------------------------------------
// Sections
// ---------------------------------------------------------------------------

function CardSection({ room, open }: { room: Room; open: boolean }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const canEdit = useCan("review:participate") && open;
  const [draft, setDraft] = useState<string | null>(null);
  const save = useMutation(trpc.reviews.updateCard.mutationOptions({ onSuccess: () => (setDraft(null), toast.success("Model card saved: earlier approvals are now stale.")), onError: (e) => toast.error(errorMessage(e)) }));
  return (
    <Card>
      <CardHeader
        title="Model card"
        description={room.card ? `Revision ${room.card.revision} · ${room.cardRevisions[0]?.editedBy ?? ""}` : "No card yet"}
        actions={
          canEdit && draft === null ? (
            <Button size="sm" variant="secondary" onClick={() => setDraft(room.card?.markdown ?? "")}>
              Edit
            </Button>
          ) : undefined
        }
      />
      <div className="px-5 py-4" data-testid="model-card">
        {draft !== null ? (
          <div className="space-y-2">
            <textarea aria-label="Model card markdown" className="h-72 w-full rounded-md border border-border bg-panel p-3 font-mono text-xs" value={draft} onChange={(e) => setDraft(e.target.value)} />
            <p className="text-xs text-muted">Saving a new revision changes the evidence: approvals given before it become stale and must be given again.</p>
            <div className="flex gap-2">
              <Button size="sm" loading={save.isPending} onClick={() => save.mutate({ workspaceId: workspace.id, number: room.number, markdown: draft, baseRevision: room.card?.revision ?? 0 })}>
                Save card
              </Button>
              <Button size="sm" variant="ghost" onClick={() => setDraft(null)}>
                Cancel
              </Button>
            </div>
          </div>
        ) : room.card ? (
          <Markdown source={room.card.markdown} />
        ) : (
          <p className="text-sm text-muted">No model card.</p>
        )}
      </div>
    </Card>
  );
}

function MetricsSection({ room }: { room: Room }) {
  const names = [...new Set([...Object.keys(room.version.metrics), ...Object.keys(room.baseline?.metrics ?? {})])].sort();
  if (!names.length) return null;
  const max = Math.max(...names.flatMap((n) => [Math.abs(room.version.metrics[n] ?? 0), Math.abs(room.baseline?.metrics[n] ?? 0)]), 1e-9);
  return (
    <Card>
      <CardHeader title="Metrics" description={room.baseline ? `v${room.version.version} against v${room.baseline.version}, which holds ${room.alias} now` : `No version holds ${room.alias} yet`} />
      <table className="w-full text-sm" data-testid="metrics-compare">
        <thead className="bg-subtle text-left text-xs text-muted">
          <tr>
            <th className="px-5 py-2 font-medium">Metric</th>
            {room.baseline && <th className="px-3 py-2 text-right font-medium">v{room.baseline.version}</th>}
            <th className="px-3 py-2 text-right font-medium">v{room.version.version}</th>
            <th className="px-3 py-2 font-medium">Change</th>
          </tr>
        </thead>
        <tbody className="divide-y divide-border">
          {names.map((n) => {
            const a = room.baseline?.metrics[n];
            const b = room.version.metrics[n];
            const d = a !== undefined && b !== undefined ? b - a : null;
            return (
              <tr key={n}>
                <td className="px-5 py-1.5 font-mono text-xs">{n}</td>
                {room.baseline && <td className="px-3 py-1.5 text-right tabular-nums">{a?.toFixed(4) ?? "—"}</td>}
                <td className="px-3 py-1.5 text-right tabular-nums">{b?.toFixed(4) ?? "—"}</td>
                <td className="px-3 py-1.5">
                  <div className="flex items-center gap-2">
                    <div className="h-2 w-24 rounded bg-subtle" aria-hidden>
                      <div className="h-2 rounded bg-accent" style={{ width: `${Math.min(100, (Math.abs(b ?? 0) / max) * 100)}%` }} />
                    </div>
                    {d !== null && <span className={`text-xs tabular-nums ${d > 0 ? "text-emerald-600" : d < 0 ? "text-red-600" : "text-muted"}`}>{d > 0 ? "+" : ""}{d.toFixed(4)}</span>}
                  </div>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </Card>
  );
}

function ChecksSection({ room }: { room: Room }) {
  const { workspace } = useWorkspace();
  const base = new Map((room.baseline?.checks ?? []).map((c) => [c.name, c]));
  return (
    <Card>
      <CardHeader
        title="Checks"
        description={room.validation ? `Run #${room.validation.run.number} (${room.validation.run.pipeline}) · ${room.validation.run.status}` : "No validation run for this version yet"}
        actions={room.validation ? <Link className="text-sm text-accent hover:underline" href={`/w/${workspace.slug}/pipelines/runs/${room.validation.run.id}`}>Open run</Link> : undefined}
      />
      {room.validation && room.validation.checks.length > 0 ? (
        <table className="w-full text-sm" data-testid="review-checks">
          <tbody className="divide-y divide-border">
            {room.validation.checks.map((c) => (
              <tr key={c.name}>
                <td className="px-5 py-1.5">
                  <Badge tone={c.status === "pass" ? "passing" : c.status === "warn" ? "warning" : "failing"}>{c.status}</Badge>
                </td>
                <td className="px-3 py-1.5 font-mono text-xs">{c.name}</td>
                <td className="px-3 py-1.5 text-right tabular-nums">{c.value?.toFixed(4) ?? ""}</td>
                <td className="px-3 py-1.5 text-xs text-muted">{c.threshold}</td>
                <td className="px-3 py-1.5 text-xs text-muted">{base.get(c.name) ? `v${room.baseline!.version}: ${base.get(c.name)!.status}` : ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p className="px-5 py-4 text-sm text-muted">{room.validation ? "The run recorded no checks yet." : "Checks appear here as soon as the version's validation pipeline runs."}</p>
      )}
    </Card>
  );
}

function SignatureAndLineage({ room }: { room: Room }) {
  const changed = room.diff ? [...room.diff.inputs, ...room.diff.outputs].filter((x) => x.changed) : [];
  return (
    <div className="grid gap-6 lg:grid-cols-2">
      <Card>
        <CardHeader title="Signature diff" description={room.baseline ? `Inputs and outputs, v${room.baseline.version} → v${room.version.version}` : "Nothing to compare with"} />
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

// ---------------------------------------------------------------------------
// The room
// ---------------------------------------------------------------------------

export function ReviewRoom({ number }: { number: number }) {
  const { workspace, user } = useWorkspace();
  const trpc = useTRPC();
  const canSign = useCan("review:sign");
  const q = useQuery(trpc.reviews.get.queryOptions({ workspaceId: workspace.id, number }));
  const [decision, setDecision] = useState<"approve" | "reject" | null>(null);
  const [changesOpen, setChangesOpen] = useState(false);
  const [changes, setChanges] = useState("");
  const onError = (e: unknown) => toast.error(errorMessage(e));
  const requestChanges = useMutation(trpc.reviews.requestChanges.mutationOptions({ onError, onSuccess: () => (setChangesOpen(false), setChanges("")) }));
  const clearChanges = useMutation(trpc.reviews.clearChanges.mutationOptions({ onError }));
  const withdraw = useMutation(trpc.reviews.withdraw.mutationOptions({ onError }));
  const live = usePresence(q.data?.id ?? "");
  if (q.isPending) return <Skeleton rows={10} />;
  if (q.isError) return <ErrorState message={errorMessage(q.error)} onRetry={() => void q.refetch()} />;
  const room = q.data;
  const open = room.status === "open";
  const mine = room.requestedBy.id === user.id || room.version.createdBy === user.id;
  const myChange = room.changeRequests.find((c) => c.reviewerId === user.id);
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
            <span key={p.id} title={`${p.name} is here`} className="flex size-8 items-center justify-center rounded-full border-2 border-emerald-500 bg-subtle text-xs font-semibold">
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

      <div className="grid gap-6 lg:grid-cols-[1fr_20rem]">
        <div className="min-w-0 space-y-6">
          <Card>
            <CardHeader title="Summary" />
            <div className="px-5 py-4">
              <Markdown source={room.summary} />
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
            <CardHeader title="Policy" description={room.policy ? `${room.alias} · ${room.policy.source === "default" ? "default policy" : `version ${room.policy.version}`}` : "No policy"} />
            <ul className="space-y-1.5 px-5 py-3 text-sm" data-testid="checklist">
              {room.state?.checklist.map((c, i) => (
                <li key={i} className="flex items-start gap-2">
                  {c.ok ? <CheckCircle2 className="mt-0.5 size-4 shrink-0 text-emerald-600" aria-label="done" /> : <Circle className="mt-0.5 size-4 shrink-0 text-muted" aria-label="missing" />}
                  <span className={c.ok ? "" : "font-medium"}>{c.text}</span>
                </li>
              ))}
            </ul>
            {open && (
              <div className="space-y-2 border-t border-border px-5 py-3">
                {canSign && !mine && (
                  <div className="flex gap-2">
                    <Button size="sm" onClick={() => setDecision("approve")}>
                      <FileSignature className="size-4" aria-hidden /> Approve…
                    </Button>
                    <Button size="sm" variant="danger" onClick={() => setDecision("reject")}>
                      <XCircle className="size-4" aria-hidden /> Reject…
                    </Button>
                  </div>
                )}
                {canSign && !mine && !myChange && (
                  <Button size="sm" variant="secondary" onClick={() => setChangesOpen(true)}>
                    <ShieldAlert className="size-4" aria-hidden /> Request changes
                  </Button>
                )}
                {myChange && (
                  <Button size="sm" variant="secondary" loading={clearChanges.isPending} onClick={() => clearChanges.mutate({ workspaceId: workspace.id, number })}>
                    Clear my change request
                  </Button>
                )}
                {mine && <p className="text-xs text-muted">You opened this request (or uploaded the version): someone else approves it.</p>}
                {(room.requestedBy.id === user.id || isAdminRole(workspace.role)) && (
                  <Button size="sm" variant="ghost" loading={withdraw.isPending} onClick={() => withdraw.mutate({ workspaceId: workspace.id, number })}>
                    Withdraw request
                  </Button>
                )}
              </div>
            )}
          </Card>

          <Card>
            <CardHeader title="Signatures" description="E-signed decisions; each binds the artifact and the evidence shown" />
            <ul className="divide-y divide-border text-sm" data-testid="signatures">
              {room.signatures.length === 0 && <li className="px-5 py-3 text-muted">Nobody has signed yet.</li>}
              {room.signatures.map((s) => (
                <li key={s.id} className="px-5 py-2.5">
                  <div className="flex items-center justify-between">
                    <strong>{s.signerName}</strong>
                    <Badge tone={s.decision === "reject" ? "failing" : s.stale ? "stale" : "passing"}>{s.decision === "reject" ? "rejected" : s.stale ? "stale" : "approved"}</Badge>
                  </div>
                  <div className="text-xs text-muted">
                    {ROLE_LABELS[s.role]} · “{s.meaning}” · {s.signedAt.toISOString().replace("T", " ").slice(0, 19)} UTC
                  </div>
                  <div className="mt-1 font-mono text-[10px] break-all text-muted" title="artifact sha256 · evidence hash · record hash">
                    artifact {s.artifactSha256.slice(0, 16)}… · evidence {s.evidenceHash.slice(0, 16)}…{s.current ? "" : " (changed since)"} · record {s.recordHash.slice(0, 16)}…
                  </div>
                </li>
              ))}
            </ul>
          </Card>

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
        </div>
      </div>

      <SignDialog room={room} decision={decision} onClose={() => setDecision(null)} />
      <Dialog open={changesOpen} onOpenChange={setChangesOpen} title="Request changes" description="Blocks approval until you clear it. The requester is notified.">
        <form
          className="space-y-3"
          onSubmit={(e) => {
            e.preventDefault();
            requestChanges.mutate({ workspaceId: workspace.id, number, reason: changes });
          }}
        >
          <textarea aria-label="What must change" className="h-24 w-full rounded-md border border-border bg-panel p-2 text-sm" value={changes} onChange={(e) => setChanges(e.target.value)} />
          <div className="flex justify-end">
            <Button type="submit" loading={requestChanges.isPending} disabled={changes.trim().length < 3}>
              Request changes
            </Button>
          </div>
        </form>
      </Dialog>
    </>
  );
}

const isAdminRole = (role: string) => role === "admin" || role === "owner";

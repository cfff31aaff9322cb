"use client";

import { useInfiniteQuery, useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { toast } from "sonner";
import { useCan, useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, useTRPC } from "~/components/trpc/client";
import { Badge, type Tone } from "~/components/ui/badge";
import { Button } from "~/components/ui/button";
import { Card, CardHeader } from "~/components/ui/card";
import { Dialog } from "~/components/ui/dialog";
import { Field, Input } from "~/components/ui/field";
import { EmptyState, ErrorState, Skeleton } from "~/components/ui/states";
import { QueryWait, ready } from "~/components/ui/query-state";
import { TimeAgo } from "~/components/ui/time";
import { ALERT_EVENTS, patternProblem, webhookEventGroups } from "~/server/shared/webhooks.schema";
import { ConfirmButton } from "~/components/ui/confirm-dialog";

type Subscription = { events: string[]; models: string[]; deployments: string[] };

const names = (s: string) =>
  s
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);

const STATE_TONES: Record<string, Tone> = { delivered: "passing", failed: "failing", pending: "pending", skipped: "stale" };

/** The catalogue grouped by domain (a whole domain is `domain.*`), plus free patterns; and the model/deployment filters. */
function SubscriptionFields({ value, onChange, idPrefix }: { value: Subscription; onChange: (v: Subscription) => void; idPrefix: string }) {
  const [pattern, setPattern] = useState("");
  const [patternError, setPatternError] = useState<string | null>(null);
  const has = (e: string) => value.events.includes(e);
  const toggle = (e: string) => onChange({ ...value, events: has(e) ? value.events.filter((x) => x !== e) : [...value.events, e] });
  const groups = webhookEventGroups();
  const known = new Set(groups.flatMap((g) => [`${g.domain}.*`, ...g.events]));
  const free = value.events.filter((e) => !known.has(e));
  return (
    <div className="w-full space-y-3">
      <fieldset>
        <legend className="mb-1 text-sm font-medium">Events</legend>
        <div className="max-h-64 space-y-2 overflow-y-auto rounded border border-border p-2 text-xs" data-testid="event-catalogue">
          {groups.map((g) => {
            const all = `${g.domain}.*`;
            return (
              <div key={g.domain}>
                <label className="flex items-center gap-1 font-medium">
                  <input type="checkbox" checked={has(all)} onChange={() => toggle(all)} /> {all}
                </label>
                <div className="ml-4 flex flex-wrap gap-x-3 gap-y-0.5">
                  {g.events.map((e) => (
                    <label key={e} className={`flex items-center gap-1 font-mono ${has(all) ? "text-muted" : ""}`}>
                      <input type="checkbox" checked={has(e) || has(all)} disabled={has(all)} onChange={() => toggle(e)} /> {e}
                    </label>
                  ))}
                </div>
              </div>
            );
          })}
        </div>
      </fieldset>
      <div className="flex flex-wrap items-end gap-2">
        <Field label="Pattern" htmlFor={`${idPrefix}-pattern`} error={patternError ?? undefined} hint="* stands for any characters, e.g. *.rollout_*">
          <Input
            id={`${idPrefix}-pattern`}
            value={pattern}
            onChange={(e) => (setPattern(e.target.value), setPatternError(null))}
            placeholder="deployment.rollout_*"
          />
        </Field>
        <Button
          type="button"
          size="sm"
          variant="secondary"
          disabled={!pattern.trim()}
          onClick={() => {
            const p = pattern.trim();
            const problem = patternProblem(p);
            if (problem) return setPatternError(problem);
            if (!has(p)) onChange({ ...value, events: [...value.events, p] });
            setPattern("");
          }}
        >
          Add pattern
        </Button>
        {free.map((p) => (
          <Badge key={p} className="font-mono">
            {p}{" "}
            <button type="button" aria-label={`Remove ${p}`} onClick={() => toggle(p)}>
              ×
            </button>
          </Badge>
        ))}
      </div>
      <div className="flex flex-wrap gap-3">
        <Field label="Only these models" htmlFor={`${idPrefix}-models`} hint="Names, comma-separated; empty: any">
          <Input
            id={`${idPrefix}-models`}
            value={value.models.join(", ")}
            onChange={(e) => onChange({ ...value, models: names(e.target.value) })}
            placeholder="credit, churn"
          />
        </Field>
        <Field label="Only these deployments" htmlFor={`${idPrefix}-deployments`} hint="Names, comma-separated; empty: any">
          <Input
            id={`${idPrefix}-deployments`}
            value={value.deployments.join(", ")}
            onChange={(e) => onChange({ ...value, deployments: names(e.target.value) })}
            placeholder="credit-prod"
          />
        </Field>
      </div>
    </div>
  );
}

/** A webhook's deliveries, newest first, each with its attempts, the receiver's answers and the payload. */
function DeliveryLog({ webhookId }: { webhookId: string }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const log = useInfiniteQuery(
    trpc.webhooks.deliveries.infiniteQueryOptions(
      { workspaceId: workspace.id, id: webhookId, limit: 10 },
      { getNextPageParam: (p) => p.nextCursor ?? undefined },
    ),
  );
  const again = useMutation(
    trpc.webhooks.redeliver.mutationOptions({
      onSuccess: () => (toast.success("Queued again."), void log.refetch()),
      onError: (e) => toast.error(errorMessage(e)),
    }),
  );
  if (!ready(log)) return <QueryWait query={log} rows={2} />;
  const items = log.data.pages.flatMap((p) => p.items);
  if (!items.length) return <p className="mt-2 text-xs text-muted">No deliveries yet. Send a test event to try the receiver.</p>;
  return (
    <div className="mt-2 space-y-1" data-testid="delivery-log">
      {items.map((d) => (
        <details key={d.id} className="rounded border border-border px-2 py-1 text-xs">
          <summary className="cursor-pointer">
            <Badge tone={STATE_TONES[d.state] ?? "neutral"}>{d.state}</Badge> <span className="font-mono">{d.event}</span>
            {d.seq !== null && <span className="text-muted"> · #{d.seq}</span>} · {d.attempts.length} attempt{d.attempts.length === 1 ? "" : "s"} ·{" "}
            <TimeAgo date={d.createdAt} />
          </summary>
          <ul className="mt-1 space-y-1">
            {d.attempts.map((a) => (
              <li key={a.attempt}>
                Attempt {a.attempt}: <Badge tone={a.ok ? "passing" : "failing"}>{a.status ?? "no answer"}</Badge> {a.error} · {a.durationMs} ms ·{" "}
                <TimeAgo date={a.at} />
                {a.responseBody ? <pre className="mt-0.5 max-h-32 overflow-auto rounded bg-subtle p-1 whitespace-pre-wrap">{a.responseBody}</pre> : null}
              </li>
            ))}
          </ul>
          <div className="mt-1 flex flex-wrap items-center gap-2 text-muted">
            <span>
              Delivery id (Idempotency-Key): <code>{d.id}</code>
            </span>
            {!d.test && (d.state === "failed" || d.state === "skipped") && (
              <Button
                size="sm"
                variant="secondary"
                loading={again.isPending}
                onClick={() => again.mutate({ workspaceId: workspace.id, id: webhookId, deliveryId: d.id })}
              >
                Redeliver
              </Button>
            )}
          </div>
          <pre className="mt-1 max-h-48 overflow-auto rounded bg-subtle p-1">{JSON.stringify(d.payload, null, 2)}</pre>
        </details>
      ))}
      {log.hasNextPage && (
        <Button size="sm" variant="secondary" loading={log.isFetchingNextPage} onClick={() => void log.fetchNextPage()}>
          Older deliveries
        </Button>
      )}
    </div>
  );
}

/** Where workspace events go (admins): signed POSTs of the audit events a webhook subscribes to, retried, switched off after repeated failures. */
export function WebhooksSettings() {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const allowed = useCan("workspace:update");
  const list = useQuery({ ...trpc.webhooks.list.queryOptions({ workspaceId: workspace.id }), enabled: allowed });
  const [name, setName] = useState("");
  const [url, setUrl] = useState("");
  const [sub, setSub] = useState<Subscription>({ events: ["model.version_registered", "review.approved"], models: [], deployments: [] });
  const [secret, setSecret] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [editing, setEditing] = useState<{ id: string; name: string; url: string; sub: Subscription } | null>(null);
  const [editError, setEditError] = useState<string | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const refetch = () => void list.refetch();
  const create = useMutation(
    trpc.webhooks.create.mutationOptions({
      onSuccess: (w) => (setSecret(w.secret), setName(""), setUrl(""), setError(null), refetch()),
      onError: (e) => setError(errorMessage(e)),
    }),
  );
  const update = useMutation(
    trpc.webhooks.update.mutationOptions({ onSuccess: () => (setEditing(null), refetch()), onError: (e) => setEditError(errorMessage(e)) }),
  );
  const toggle = useMutation(trpc.webhooks.setEnabled.mutationOptions({ onSuccess: refetch, onError: (e) => toast.error(errorMessage(e)) }));
  const remove = useMutation(trpc.webhooks.delete.mutationOptions({ onSuccess: refetch, onError: (e) => toast.error(errorMessage(e)) }));
  const test = useMutation(
    trpc.webhooks.sendTest.mutationOptions({
      onSuccess: (r) => {
        if (r.ok) toast.success(`Test event delivered (HTTP ${r.status}).`);
        else toast.error(`Test event failed: ${r.error ?? "no answer"}${r.responseBody ? ` — ${r.responseBody.slice(0, 200)}` : ""}`);
        refetch();
      },
      onError: (e) => toast.error(errorMessage(e)),
    }),
  );
  if (!allowed) return <p className="text-sm text-muted">Only admins and owners manage webhooks.</p>;
  return (
    <div className="space-y-6">
      <Card>
        <CardHeader
          title="Add a webhook"
          description="The events you choose are POSTed as JSON with a Steward-Signature header: t=<unix time>,v1=HMAC-SHA256(secret, t + '.' + body). Each carries its audit sequence number and hash, and a Steward-Delivery id that stays the same across retries."
        />
        {secret && (
          <div role="status" className="border-b border-border bg-amber-500/10 px-5 py-3 text-sm">
            Copy the signing secret now; it is not shown again:{" "}
            <code className="font-mono break-all" data-testid="webhook-secret">
              {secret}
            </code>
          </div>
        )}
        <form
          className="flex flex-wrap items-end gap-3 px-5 py-4"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            create.mutate({ workspaceId: workspace.id, name, url, ...sub });
          }}
        >
          <Field label="Name" htmlFor="wh-name">
            <Input id="wh-name" value={name} onChange={(e) => setName(e.target.value)} placeholder="CD pipeline" />
          </Field>
          <Field label="URL" htmlFor="wh-url">
            <Input id="wh-url" className="w-96" value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://hooks.example.com/steward" />
          </Field>
          <SubscriptionFields value={sub} onChange={setSub} idPrefix="wh-new" />
          <Button type="submit" size="sm" loading={create.isPending} disabled={!name || !url || !sub.events.length}>
            Add webhook
          </Button>
          <Button type="button" size="sm" variant="secondary" onClick={() => setSub({ ...sub, events: [...ALERT_EVENTS] })}>
            Alerts only
          </Button>
          {error && (
            <p role="alert" className="w-full text-sm text-danger">
              {error}
            </p>
          )}
        </form>
      </Card>
      <Card>
        <CardHeader
          title="Webhooks"
          description="Targets must resolve to public addresses; redirects are not followed; each delivery is tried 5 times with backoff; 5 failures in a row switch a webhook off"
        />
        {list.isPending ? (
          <Skeleton rows={3} />
        ) : list.isError ? (
          <ErrorState message={errorMessage(list.error)} onRetry={refetch} />
        ) : list.data.length === 0 ? (
          <EmptyState title="No webhooks yet">Alerts still reach the inbox (and e-mail when SMTP is set).</EmptyState>
        ) : (
          <ul className="divide-y divide-border text-sm" data-testid="webhooks">
            {list.data.map((w) => (
              <li key={w.id} className="px-5 py-3">
                <div className="flex flex-wrap items-center justify-between gap-3">
                  <div className="min-w-0">
                    <strong>{w.name}</strong> <span className="font-mono text-xs text-muted">{w.url}</span>{" "}
                    {w.enabled ? <Badge tone="passing">on</Badge> : <Badge tone="stale">off</Badge>}
                    <div className="mt-0.5 flex flex-wrap gap-1 text-xs">
                      {w.events.map((e) => (
                        <Badge key={e} className="font-mono">
                          {e}
                        </Badge>
                      ))}
                      {w.models.length > 0 && <span className="text-muted">models: {w.models.join(", ")}</span>}
                      {w.deployments.length > 0 && <span className="text-muted">deployments: {w.deployments.join(", ")}</span>}
                    </div>
                    {w.disabledReason && <div className="text-xs text-danger">{w.disabledReason}</div>}
                  </div>
                  <div className="flex flex-wrap gap-2">
                    <Button
                      size="sm"
                      variant="secondary"
                      loading={test.isPending && test.variables.id === w.id}
                      onClick={() => test.mutate({ workspaceId: workspace.id, id: w.id })}
                    >
                      Send test event
                    </Button>
                    <Button size="sm" variant="secondary" onClick={() => setOpen(open === w.id ? null : w.id)}>
                      {open === w.id ? "Hide deliveries" : "Deliveries"}
                    </Button>
                    <Button
                      size="sm"
                      variant="secondary"
                      onClick={() => (
                        setEditError(null),
                        setEditing({ id: w.id, name: w.name, url: w.url, sub: { events: w.events, models: w.models, deployments: w.deployments } })
                      )}
                    >
                      Edit
                    </Button>
                    <Button size="sm" variant="secondary" onClick={() => toggle.mutate({ workspaceId: workspace.id, id: w.id, enabled: !w.enabled })}>
                      {w.enabled ? "Switch off" : "Switch on"}
                    </Button>
                    <ConfirmButton
                      variant="secondary"
                      title={`Delete the webhook "${w.name}"?`}
                      description={w.url}
                      consequence="Its delivery log goes with it and deliveries still queued are dropped; the receiver hears nothing more. Audited (webhook.deleted)."
                      confirm="Delete webhook"
                      danger
                      onConfirm={() => remove.mutateAsync({ workspaceId: workspace.id, id: w.id })}
                    >
                      Delete
                    </ConfirmButton>
                  </div>
                </div>
                {open === w.id ? (
                  <DeliveryLog webhookId={w.id} />
                ) : (
                  w.recent.length > 0 && (
                    <ul className="mt-2 space-y-0.5 text-xs text-muted">
                      {w.recent.map((d) => (
                        <li key={d.id}>
                          <Badge tone={STATE_TONES[d.state] ?? "neutral"}>{d.state}</Badge> {d.event} · {d.attempts} attempt{d.attempts === 1 ? "" : "s"} ·{" "}
                          <TimeAgo date={d.at} />
                        </li>
                      ))}
                    </ul>
                  )
                )}
              </li>
            ))}
          </ul>
        )}
      </Card>
      <Dialog open={!!editing} onOpenChange={(o) => !o && setEditing(null)} title="Edit webhook" description="What it receives and where it goes.">
        {editing && (
          <form
            className="space-y-3"
            noValidate
            onSubmit={(e) => {
              e.preventDefault();
              update.mutate({ workspaceId: workspace.id, id: editing.id, data: { name: editing.name, url: editing.url, ...editing.sub } });
            }}
          >
            <Field label="Name" htmlFor="wh-edit-name">
              <Input id="wh-edit-name" value={editing.name} onChange={(e) => setEditing({ ...editing, name: e.target.value })} />
            </Field>
            <Field label="URL" htmlFor="wh-edit-url">
              <Input id="wh-edit-url" value={editing.url} onChange={(e) => setEditing({ ...editing, url: e.target.value })} />
            </Field>
            <SubscriptionFields value={editing.sub} onChange={(s) => setEditing({ ...editing, sub: s })} idPrefix="wh-edit" />
            {editError && (
              <p role="alert" className="text-sm text-danger">
                {editError}
              </p>
            )}
            <Button type="submit" size="sm" loading={update.isPending} disabled={!editing.sub.events.length}>
              Save
            </Button>
          </form>
        )}
      </Dialog>
    </div>
  );
}

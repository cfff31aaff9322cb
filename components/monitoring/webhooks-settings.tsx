"use client";

import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { toast } from "sonner";
import { useCan, useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, useTRPC } from "~/components/trpc/client";
import { Badge } from "~/components/ui/badge";
import { Button } from "~/components/ui/button";
import { Card, CardHeader } from "~/components/ui/card";
import { Field, Input } from "~/components/ui/field";
import { EmptyState, ErrorState, Skeleton } from "~/components/ui/states";
import { TimeAgo } from "~/components/ui/time";

/** Where alert events go (admins): signed POSTs, retried, switched off after repeated failures. */
export function WebhooksSettings() {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const allowed = useCan("workspace:update");
  const list = useQuery({ ...trpc.monitoring.webhooks.queryOptions({ workspaceId: workspace.id }), enabled: allowed });
  const [name, setName] = useState("");
  const [url, setUrl] = useState("");
  const [secret, setSecret] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const create = useMutation(trpc.monitoring.createWebhook.mutationOptions({ onSuccess: (w) => (setSecret(w.secret), setName(""), setUrl(""), setError(null), void list.refetch()), onError: (e) => setError(errorMessage(e)) }));
  const toggle = useMutation(trpc.monitoring.setWebhookEnabled.mutationOptions({ onSuccess: () => void list.refetch(), onError: (e) => toast.error(errorMessage(e)) }));
  if (!allowed) return <p className="text-sm text-muted">Only admins and owners manage webhooks.</p>;
  return (
    <div className="space-y-6">
      <Card>
        <CardHeader title="Add a webhook" description="Alert events (fired, resolved) are POSTed as JSON with a Steward-Signature header: t=<unix time>,v1=HMAC-SHA256(secret, t + '.' + body)." />
        {secret && (
          <div role="status" className="border-b border-border bg-amber-500/10 px-5 py-3 text-sm">
            Copy the signing secret now; it is not shown again: <code className="font-mono break-all" data-testid="webhook-secret">{secret}</code>
          </div>
        )}
        <form
          className="flex flex-wrap items-end gap-3 px-5 py-4"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            create.mutate({ workspaceId: workspace.id, name, url });
          }}
        >
          <Field label="Name" htmlFor="wh-name">
            <Input id="wh-name" value={name} onChange={(e) => setName(e.target.value)} placeholder="on-call pager" />
          </Field>
          <Field label="URL" htmlFor="wh-url">
            <Input id="wh-url" className="w-96" value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://hooks.example.com/steward" />
          </Field>
          <Button type="submit" size="sm" loading={create.isPending} disabled={!name || !url}>
            Add webhook
          </Button>
          {error && (
            <p role="alert" className="w-full text-sm text-danger">
              {error}
            </p>
          )}
        </form>
      </Card>
      <Card>
        <CardHeader title="Webhooks" description="Targets must resolve to public addresses; redirects are not followed; 5 failures in a row switch a webhook off" />
        {list.isPending ? (
          <Skeleton rows={3} />
        ) : list.isError ? (
          <ErrorState message={errorMessage(list.error)} onRetry={() => void list.refetch()} />
        ) : list.data.length === 0 ? (
          <EmptyState title="No webhooks yet">Alerts still reach the inbox (and e-mail when SMTP is set).</EmptyState>
        ) : (
          <ul className="divide-y divide-border text-sm" data-testid="webhooks">
            {list.data.map((w) => (
              <li key={w.id} className="px-5 py-3">
                <div className="flex items-center justify-between gap-3">
                  <div className="min-w-0">
                    <strong>{w.name}</strong> <span className="font-mono text-xs text-muted">{w.url}</span> {w.enabled ? <Badge tone="passing">on</Badge> : <Badge tone="stale">off</Badge>}
                    {w.disabledReason && <div className="text-xs text-danger">{w.disabledReason}</div>}
                  </div>
                  <Button size="sm" variant="secondary" onClick={() => toggle.mutate({ workspaceId: workspace.id, id: w.id, enabled: !w.enabled })}>
                    {w.enabled ? "Switch off" : "Switch on"}
                  </Button>
                </div>
                {w.recent.length > 0 && (
                  <ul className="mt-2 space-y-0.5 text-xs text-muted">
                    {w.recent.map((d, i) => (
                      <li key={i}>
                        <Badge tone={d.ok ? "passing" : "failing"}>{d.ok ? d.status : (d.status ?? "error")}</Badge> {d.event} · attempt {d.attempt} · {d.durationMs} ms · <TimeAgo date={d.at} />
                        {d.error ? ` · ${d.error}` : ""}
                      </li>
                    ))}
                  </ul>
                )}
              </li>
            ))}
          </ul>
        )}
      </Card>
    </div>
  );
}

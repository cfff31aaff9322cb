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
import { ErrorState, Skeleton } from "~/components/ui/states";
import { TimeAgo } from "~/components/ui/time";
import type { PolicyRules } from "~/db/schema/reviews";

const ROLES = ["reviewer", "compliance_officer", "admin", "owner"] as const;

function PolicyForm({ alias, rules, active, editable, onSaved }: { alias: string; rules: PolicyRules; active: boolean; editable: boolean; onSaved?: () => void }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const [r, setR] = useState(rules);
  const [on, setOn] = useState(active);
  const [error, setError] = useState<string | null>(null);
  const save = useMutation(trpc.policies.save.mutationOptions({ onSuccess: () => (toast.success(`Policy for "${alias}" saved.`), setError(null), onSaved?.()), onError: (e) => setError(errorMessage(e)) }));
  const count = (role: (typeof ROLES)[number]) => r.requiredApprovals.find((x) => x.role === role)?.count ?? 0;
  const setCount = (role: (typeof ROLES)[number], n: number) =>
    setR((x) => ({ ...x, requiredApprovals: [...x.requiredApprovals.filter((y) => y.role !== role), ...(n > 0 ? [{ role, count: n }] : [])].sort((a, b) => ROLES.indexOf(a.role) - ROLES.indexOf(b.role)) }));
  const id = (k: string) => `pol-${alias}-${k}`;
  return (
    <form
      className="space-y-4 px-5 py-4"
      noValidate
      data-testid={`policy-${alias}`}
      onSubmit={(e) => {
        e.preventDefault();
        save.mutate({ workspaceId: workspace.id, alias, rules: r, active: on });
      }}
    >
      <fieldset disabled={!editable} className="space-y-4">
        <label className="flex items-center gap-2 text-sm">
          <input type="checkbox" checked={on} onChange={(e) => setOn(e.target.checked)} /> Protect "{alias}": it moves only when a review satisfies this policy
        </label>
        <div className="grid gap-4 sm:grid-cols-4">
          {ROLES.map((role) => (
            <Field key={role} label={`${role.replace("_", " ")} approvals`} htmlFor={id(role)}>
              <Input id={id(role)} type="number" min={0} max={10} value={count(role)} onChange={(e) => setCount(role, Math.max(0, Number(e.target.value) || 0))} />
            </Field>
          ))}
        </div>
        <div className="grid gap-4 sm:grid-cols-3">
          <Field label="Minimum distinct approvers" htmlFor={id("min")}>
            <Input id={id("min")} type="number" min={1} max={20} value={r.minDistinctApprovers} onChange={(e) => setR({ ...r, minDistinctApprovers: Number(e.target.value) })} />
          </Field>
          <Field label="Approvals stay valid for (days)" htmlFor={id("days")} hint="Empty: no expiry.">
            <Input id={id("days")} type="number" min={1} value={r.approvalValidDays ?? ""} onChange={(e) => setR({ ...r, approvalValidDays: e.target.value ? Number(e.target.value) : null })} />
          </Field>
          <Field label="Checks that must pass" htmlFor={id("checks")} hint='Comma-separated check names; "*" = every required check of the validation run; empty = none.'>
            <Input id={id("checks")} value={r.requiredChecks.join(", ")} onChange={(e) => setR({ ...r, requiredChecks: e.target.value.split(",").map((x) => x.trim()).filter(Boolean) })} />
          </Field>
        </div>
        <label className="flex items-center gap-2 text-sm">
          <input type="checkbox" checked={r.allowRequesterApproval} onChange={(e) => setR({ ...r, allowRequesterApproval: e.target.checked })} /> The requester (or the version's author) may approve their own request
        </label>
      </fieldset>
      {error && (
        <p role="alert" className="text-sm text-danger">
          {error}
        </p>
      )}
      {editable && (
        <Button size="sm" type="submit" loading={save.isPending}>
          Save policy
        </Button>
      )}
    </form>
  );
}

/** Approval policies per protected alias: edited by admins, versioned, every change audited. */
export function PoliciesSettings() {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const editable = useCan("workspace:update");
  const list = useQuery(trpc.policies.list.queryOptions({ workspaceId: workspace.id }));
  const [alias, setAlias] = useState("");
  if (list.isPending) return <Skeleton rows={6} />;
  if (list.isError) return <ErrorState message={errorMessage(list.error)} onRetry={() => void list.refetch()} />;
  return (
    <div className="space-y-6">
      {list.data.map((p) => (
        <Card key={`${p.alias}:${p.version}`}>
          <CardHeader
            title={p.alias}
            description={p.source === "default" ? "Default policy (not saved yet)" : `Version ${p.version}, saved by ${p.savedBy ?? "—"}`}
            actions={p.active ? <Badge tone="pending">protected</Badge> : <Badge tone="stale">not protected</Badge>}
          />
          <PolicyForm alias={p.alias} rules={p.rules} active={p.active} editable={editable} />
          {p.history.length > 1 && (
            <details className="border-t border-border px-5 py-2 text-xs text-muted">
              <summary>History ({p.history.length} versions)</summary>
              <ul className="mt-1 space-y-0.5">
                {p.history.map((h) => (
                  <li key={h.version}>
                    v{h.version} {h.active ? "" : "(off)"} · {h.savedBy} · <TimeAgo date={h.savedAt} />
                  </li>
                ))}
              </ul>
            </details>
          )}
        </Card>
      ))}
      {editable && (
        <Card>
          <CardHeader title="Protect another alias" description="For example champion, or a regional production alias" />
          <div className="flex items-end gap-2 px-5 py-4">
            <Field label="Alias" htmlFor="pol-new">
              <Input id="pol-new" value={alias} onChange={(e) => setAlias(e.target.value.trim())} placeholder="champion" />
            </Field>
          </div>
          {alias && <PolicyForm key={alias} alias={alias} rules={{ requiredApprovals: [{ role: "reviewer", count: 1 }], minDistinctApprovers: 1, requiredChecks: ["*"], allowRequesterApproval: false, approvalValidDays: 30 }} active editable onSaved={() => setAlias("")} />}
        </Card>
      )}
    </div>
  );
}

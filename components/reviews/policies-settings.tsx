"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { useState } from "react";
import { toast } from "sonner";
import { useCan, useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, useTRPC } from "~/components/trpc/client";
import { Badge } from "~/components/ui/badge";
import { Button } from "~/components/ui/button";
import { Card, CardHeader } from "~/components/ui/card";
import { ConfirmDialog } from "~/components/ui/confirm-dialog";
import { Field, Input } from "~/components/ui/field";
import { QueryWait, ready } from "~/components/ui/query-state";
import { TimeAgo } from "~/components/ui/time";
import type { PolicyRules } from "~/db/schema/reviews";
import { policyDiff, type PolicyDiffRow } from "~/server/shared/policy-diff";
import type { AppRouter } from "~/server/web/trpc/root";

type Policy = inferRouterOutputs<AppRouter>["policies"]["list"][number];
type Pending = NonNullable<Policy["pendingChange"]>;

const ROLES = ["reviewer", "compliance_officer", "admin", "owner"] as const;

function PolicyForm({
  alias,
  rules,
  active,
  editable,
  protectedNow,
  blockedBy,
  onSaved,
}: {
  alias: string;
  rules: PolicyRules;
  active: boolean;
  editable: boolean;
  protectedNow: boolean;
  blockedBy?: string | null;
  onSaved?: () => void;
}) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [r, setR] = useState<PolicyRules>({ ...rules, canaryBeforeApproval: rules.canaryBeforeApproval ?? null });
  const [on, setOn] = useState(active);
  const [reason, setReason] = useState("");
  const [error, setError] = useState<string | null>(null);
  // The change, field by field, shown for confirmation before it is saved or proposed.
  const [confirming, setConfirming] = useState<PolicyDiffRow[] | null>(null);
  const save = useMutation(
    trpc.policies.save.mutationOptions({
      onSuccess: (out) => {
        toast.success(out.pending ? `Change to "${alias}" proposed: it applies when another admin or owner approves it.` : `Policy for "${alias}" saved.`);
        setError(null);
        setReason("");
        setConfirming(null);
        void queryClient.invalidateQueries({ queryKey: trpc.policies.pathKey() });
        onSaved?.();
      },
      onError: (e) => setError(errorMessage(e)),
    }),
  );
  const count = (role: (typeof ROLES)[number]) => r.requiredApprovals.find((x) => x.role === role)?.count ?? 0;
  const setCount = (role: (typeof ROLES)[number], n: number) =>
    setR((x) => ({
      ...x,
      requiredApprovals: [...x.requiredApprovals.filter((y) => y.role !== role), ...(n > 0 ? [{ role, count: n }] : [])].sort(
        (a, b) => ROLES.indexOf(a.role) - ROLES.indexOf(b.role),
      ),
    }));
  const id = (k: string) => `pol-${alias}-${k}`;
  return (
    <form
      className="space-y-4 px-5 py-4"
      noValidate
      data-testid={`policy-${alias}`}
      onSubmit={(e) => {
        e.preventDefault();
        const diff = policyDiff({ rules, active }, { rules: r, active: on });
        if (!diff.length) return setError(`Nothing changed: the "${alias}" policy already says this.`);
        setError(null);
        setConfirming(diff);
      }}
    >
      <fieldset disabled={!editable} className="space-y-4">
        <label className="flex items-center gap-2 text-sm">
          <input type="checkbox" checked={on} onChange={(e) => setOn(e.target.checked)} /> Protect "{alias}": it moves only when a review satisfies this policy
        </label>
        <div className="grid gap-4 sm:grid-cols-4">
          {ROLES.map((role) => (
            <Field key={role} label={`${role.replace("_", " ")} approvals`} htmlFor={id(role)}>
              <Input
                id={id(role)}
                type="number"
                min={0}
                max={10}
                value={count(role)}
                onChange={(e) => setCount(role, Math.max(0, Number(e.target.value) || 0))}
              />
            </Field>
          ))}
        </div>
        <div className="grid gap-4 sm:grid-cols-3">
          <Field label="Minimum distinct approvers" htmlFor={id("min")}>
            <Input
              id={id("min")}
              type="number"
              min={1}
              max={20}
              value={r.minDistinctApprovers}
              onChange={(e) => setR({ ...r, minDistinctApprovers: Number(e.target.value) })}
            />
          </Field>
          <Field label="Approvals stay valid for (days)" htmlFor={id("days")} hint="Empty: no expiry.">
            <Input
              id={id("days")}
              type="number"
              min={1}
              value={r.approvalValidDays ?? ""}
              onChange={(e) => setR({ ...r, approvalValidDays: e.target.value ? Number(e.target.value) : null })}
            />
          </Field>
          <Field
            label="Checks that must pass"
            htmlFor={id("checks")}
            hint='Comma-separated check names; "*" = every required check of the validation run; empty = none.'
          >
            <Input
              id={id("checks")}
              value={r.requiredChecks.join(", ")}
              onChange={(e) =>
                setR({
                  ...r,
                  requiredChecks: e.target.value
                    .split(",")
                    .map((x) => x.trim())
                    .filter(Boolean),
                })
              }
            />
          </Field>
        </div>
        <label className="flex items-center gap-2 text-sm">
          <input type="checkbox" checked={r.allowRequesterApproval} onChange={(e) => setR({ ...r, allowRequesterApproval: e.target.checked })} /> The requester
          (or the version's author) may approve their own request
        </label>
        <div className="flex flex-wrap items-end gap-4">
          <label className="flex items-center gap-2 text-sm">
            <input
              type="checkbox"
              checked={r.canaryBeforeApproval != null}
              onChange={(e) => setR({ ...r, canaryBeforeApproval: e.target.checked ? { maxPercent: r.canaryBeforeApproval?.maxPercent ?? 10 } : null })}
            />{" "}
            Allow a canary of a version under review, before it is approved
          </label>
          {r.canaryBeforeApproval != null && (
            <Field label="Canary share at most (%)" htmlFor={id("canary")} hint="1 to 50. Off by default: only approved versions reach callers.">
              <Input
                id={id("canary")}
                type="number"
                min={1}
                max={50}
                className="w-28"
                value={r.canaryBeforeApproval.maxPercent}
                onChange={(e) => setR({ ...r, canaryBeforeApproval: { maxPercent: Number(e.target.value) } })}
              />
            </Field>
          )}
        </div>
        {protectedNow && (
          <Field label="Why this change (shown to the admin who approves it)" htmlFor={id("reason")}>
            <Input id={id("reason")} value={reason} maxLength={2000} onChange={(e) => setReason(e.target.value)} />
          </Field>
        )}
      </fieldset>
      {error && !confirming && (
        <p role="alert" className="text-sm text-danger">
          {error}
        </p>
      )}
      {editable && (
        <div className="flex items-center gap-3">
          <Button size="sm" type="submit" loading={save.isPending} disabled={!!blockedBy}>
            {protectedNow ? "Propose change" : "Save policy"}
          </Button>
          <ConfirmDialog
            open={confirming !== null}
            onOpenChange={(o) => !o && setConfirming(null)}
            title={protectedNow ? `Propose a change to "${alias}"?` : `Save the policy for "${alias}"?`}
            description={
              protectedNow
                ? "It applies only when another admin or owner approves it; until then the current policy applies. The change is audited with your reason."
                : "It applies at once and is audited."
            }
            consequence={
              confirming?.some((d) => d.weakens)
                ? `This weakens the gate for "${alias}" in ${confirming.filter((d) => d.weakens).length === 1 ? "one place" : `${confirming.filter((d) => d.weakens).length} places`}.`
                : undefined
            }
            confirm={protectedNow ? "Propose change" : "Save policy"}
            danger={confirming?.some((d) => d.weakens)}
            pending={save.isPending}
            onConfirm={() => save.mutate({ workspaceId: workspace.id, alias, rules: r, active: on, reason: reason || undefined })}
          >
            <DiffTable rows={confirming ?? []} />
            {error && (
              <p role="alert" className="text-sm text-danger">
                {error}
              </p>
            )}
          </ConfirmDialog>
          <span className="text-xs text-muted">
            {blockedBy ??
              (protectedNow ? "Another admin or owner must approve it; until then the current policy applies." : "Applies at once: it only adds protection.")}
          </span>
        </div>
      )}
    </form>
  );
}

/** A policy change field by field: before, after, and whether it weakens the gate. */
function DiffTable({ rows }: { rows: PolicyDiffRow[] }) {
  return (
    <table className="mb-3 w-full text-left text-xs" data-testid="policy-diff">
      <thead className="text-muted">
        <tr>
          <th className="py-1 font-medium">Setting</th>
          <th className="py-1 font-medium">Now</th>
          <th className="py-1 font-medium">Proposed</th>
          <th className="py-1">
            <span className="sr-only">Effect</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {rows.map((d) => (
          <tr key={d.field} className="border-t border-border">
            <td className="py-1 pr-2">{d.label}</td>
            <td className="py-1 pr-2 line-through decoration-muted">{d.before}</td>
            <td className="py-1 pr-2 font-medium">{d.after}</td>
            <td className="py-1">{d.weakens ? <Badge tone="failing">weakens</Badge> : <Badge tone="passing">tightens</Badge>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A proposed change, before and after, with what the current admin may do about it. */
function PendingChange({ alias, change, editable }: { alias: string; change: Pending; editable: boolean }) {
  const { workspace, user } = useWorkspace();
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [note, setNote] = useState("");
  const done = (msg: string) => () => (toast.success(msg), setNote(""), void queryClient.invalidateQueries({ queryKey: trpc.policies.pathKey() }));
  const onError = (e: unknown) => toast.error(errorMessage(e));
  const decide = useMutation(
    trpc.policies.decide.mutationOptions({
      onSuccess: (r) => done(r.status === "approved" ? `The "${alias}" policy changed: version ${r.version} applies now.` : "Change rejected.")(),
      onError,
    }),
  );
  const withdraw = useMutation(trpc.policies.withdraw.mutationOptions({ onSuccess: done("Change withdrawn."), onError }));
  const mine = change.proposedBy.id === user.id;
  return (
    <div className="border-t border-amber-500/40 bg-amber-500/5 px-5 py-4 text-sm" data-testid={`pending-change-${alias}`}>
      <div className="mb-2 flex flex-wrap items-center gap-2">
        <Badge tone="warning">pending change</Badge>
        <span>
          proposed by <strong>{change.proposedBy.name}</strong> <TimeAgo date={change.proposedAt} />
          {change.reason && <>: “{change.reason}”</>}
        </span>
      </div>
      <DiffTable rows={change.diff} />
      {change.stale && (
        <p className="mb-2 text-danger">
          The policy changed since this was proposed (against version {change.baseVersion}): it can no longer be approved. Reject or withdraw it and propose it
          again.
        </p>
      )}
      {mine ? (
        <div className="flex items-center gap-3">
          <span className="text-muted" data-testid="waiting-for-admin">
            Waiting for another admin or owner to approve it. Until then the current policy applies.
          </span>
          <Button size="sm" variant="ghost" loading={withdraw.isPending} onClick={() => withdraw.mutate({ workspaceId: workspace.id, id: change.id })}>
            Withdraw
          </Button>
        </div>
      ) : editable ? (
        <div className="flex flex-wrap items-end gap-2">
          <Field label="Note (optional)" htmlFor={`note-${alias}`}>
            <Input id={`note-${alias}`} className="w-72" value={note} maxLength={2000} onChange={(e) => setNote(e.target.value)} />
          </Field>
          <Button
            size="sm"
            disabled={change.stale}
            loading={decide.isPending && decide.variables?.decision === "approve"}
            onClick={() => decide.mutate({ workspaceId: workspace.id, id: change.id, decision: "approve", note: note || undefined })}
          >
            Approve change
          </Button>
          <Button
            size="sm"
            variant="danger"
            loading={decide.isPending && decide.variables?.decision === "reject"}
            onClick={() => decide.mutate({ workspaceId: workspace.id, id: change.id, decision: "reject", note: note || undefined })}
          >
            Reject
          </Button>
        </div>
      ) : (
        <p className="text-muted">Waiting for an admin or owner other than {change.proposedBy.name} to approve it.</p>
      )}
    </div>
  );
}

/**
 * Approval policies per protected alias: proposed by one admin or owner, applied when
 * another approves (two-person rule), versioned, every step audited.
 */
export function PoliciesSettings() {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const editable = useCan("workspace:update");
  const list = useQuery(trpc.policies.list.queryOptions({ workspaceId: workspace.id }));
  const [alias, setAlias] = useState("");
  if (!ready(list)) return <QueryWait query={list} rows={6} />;
  return (
    <div className="space-y-6">
      {list.data.map((p) => (
        <Card key={`${p.alias}:${p.version}`}>
          <CardHeader
            title={p.alias}
            description={
              p.source === "default"
                ? "Default policy (not saved yet)"
                : `Version ${p.version}, proposed by ${p.savedBy ?? "—"}${p.approvedBy ? `, approved by ${p.approvedBy}` : ""}`
            }
            actions={p.active ? <Badge tone="pending">protected</Badge> : <Badge tone="stale">not protected</Badge>}
          />
          {p.pendingChange && <PendingChange alias={p.alias} change={p.pendingChange} editable={editable} />}
          <PolicyForm
            alias={p.alias}
            rules={p.rules}
            active={p.active}
            editable={editable}
            protectedNow={p.active}
            blockedBy={p.pendingChange ? "A change is waiting for approval: decide or withdraw it first." : null}
          />
          {p.history.length > 1 && (
            <details className="border-t border-border px-5 py-2 text-xs text-muted">
              <summary>History ({p.history.length} versions)</summary>
              <ul className="mt-1 space-y-0.5">
                {p.history.map((h) => (
                  <li key={h.version}>
                    v{h.version} {h.active ? "" : "(off)"} · {h.savedBy}
                    {h.approvedBy ? ` · approved by ${h.approvedBy}` : ""} · <TimeAgo date={h.savedAt} />
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
          {alias && (
            <PolicyForm
              key={alias}
              alias={alias}
              rules={{
                requiredApprovals: [{ role: "reviewer", count: 1 }],
                minDistinctApprovers: 1,
                requiredChecks: ["*"],
                allowRequesterApproval: false,
                approvalValidDays: 30,
                canaryBeforeApproval: null,
              }}
              active
              editable
              protectedNow={list.data.some((p) => p.alias === alias && p.active)}
              onSaved={() => setAlias("")}
            />
          )}
        </Card>
      )}
    </div>
  );
}

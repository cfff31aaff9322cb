"use client";

import { useMutation, useQuery } from "@tanstack/react-query";
import { ArrowUpCircle, ClipboardCheck, KeyRound, Play, RotateCcw, Square } from "lucide-react";
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { useEffect, useState } from "react";
import { toast } from "sonner";
import { useCan, useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, useTRPC } from "~/components/trpc/client";
import { Badge } from "~/components/ui/badge";
import { Button } from "~/components/ui/button";
import { Card, CardHeader } from "~/components/ui/card";
import type { RouterOutputs } from "~/components/trpc/client";
import { Field, Input, Select } from "~/components/ui/field";
import { ErrorState, PageHeader, Skeleton } from "~/components/ui/states";
import { QueryWait, ready } from "~/components/ui/query-state";
import { TimeAgo } from "~/components/ui/time";
import { featureNames } from "~/server/shared/tabular";
import { Breadcrumb } from "~/components/ui/breadcrumb";
import { ConfirmDialog as Confirm } from "~/components/ui/confirm-dialog";

type Sig = { inputs: { name: string; elemType: string; shape: (number | string | null)[] | null }[]; metadata: Record<string, string> };

/** A ready-to-send example body for the model: one record when it takes records, else zero tensors. */
function exampleBody(sig: Sig) {
  const names = featureNames(sig);
  if (names) return JSON.stringify({ instances: [Object.fromEntries(names.map((n) => [n, 0]))] }, null, 2);
  const zero = (shape: (number | string | null)[] | null): unknown => {
    const dims = (shape ?? [1]).map((d) => (typeof d === "number" && d > 0 ? d : 1));
    const build = (i: number): unknown => (i === dims.length ? 0 : Array.from({ length: dims[i]! }, () => build(i + 1)));
    return build(0);
  };
  return JSON.stringify({ inputs: Object.fromEntries(sig.inputs.map((i) => [i.name, zero(i.shape)])) }, null, 2);
}

function TryIt({ name, signature }: { name: string; signature: Sig }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const [body, setBody] = useState(() => exampleBody(signature));
  const send = useMutation(trpc.deployments.tryPredict.mutationOptions({ onError: (e) => toast.error(errorMessage(e)) }));
  const r = send.data;
  return (
    <Card>
      <CardHeader title="Try it" description={`POST /v1/deployments/${name}/predict — a real request, logged like any other.`} />
      <div className="grid gap-4 p-5 lg:grid-cols-2">
        <div className="space-y-2">
          <label htmlFor="try-body" className="text-sm font-medium">
            Request
          </label>
          <textarea
            id="try-body"
            className="h-48 w-full rounded-md border border-border bg-panel p-3 font-mono text-xs"
            value={body}
            onChange={(e) => setBody(e.target.value)}
            spellCheck={false}
          />
          <Button onClick={() => send.mutate({ workspaceId: workspace.id, name, body })} loading={send.isPending}>
            <Play className="size-4" aria-hidden /> Send
          </Button>
        </div>
        <div className="space-y-2">
          <span className="text-sm font-medium">Response {r && <Badge tone={r.status === 200 ? "passing" : "failing"}>{r.status}</Badge>}</span>
          <pre className="h-48 overflow-auto rounded-md bg-zinc-950 p-3 font-mono text-xs text-zinc-100" data-testid="try-response" aria-live="polite">
            {r ? JSON.stringify(r.body, null, 2) : "Send a request to see the answer, the version that gave it and its request id."}
          </pre>
        </div>
      </div>
    </Card>
  );
}

type Outputs = RouterOutputs["deployments"]["get"];

/** What the latest change of this deployment has become: pending, live on every replica, or failed with the reason. */
function RolloutStatus({ x }: { x: Outputs }) {
  const r = x.rollout;
  if (!r) return null;
  const tone = r.status === "live" ? "passing" : r.status === "failed" ? "failing" : r.status === "pending" ? "pending" : "stale";
  const live = x.replicas.filter((p) => p.live);
  return (
    <Card>
      <div
        className="flex flex-wrap items-start gap-3 px-5 py-3 text-sm"
        data-testid="rollout-status"
        role={r.status === "failed" ? "alert" : "status"}
        aria-live="polite"
      >
        <Badge tone={tone}>{r.status === "pending" ? "rolling out" : `rollout ${r.status}`}</Badge>
        <div className="min-w-0 flex-1">
          <div className="font-medium first-letter:uppercase">{r.message}</div>
          <div className="text-xs text-muted">
            Revision {r.revision} · {r.actor ?? "Steward"} · <TimeAgo date={r.createdAt} />
            {r.status === "pending" && ` · waiting for ${live.length || "any"} replica${live.length === 1 ? "" : "s"} to report`}
            {r.status === "failed" && r.from !== null && ` · v${x.primary} keeps serving`}
            {r.emergencyReason && ` · emergency rollback: ${r.emergencyReason}`}
          </div>
        </div>
      </div>
      {x.replicas.length > 0 && (
        <table className="w-full border-t border-border text-xs" data-testid="replicas">
          <caption className="sr-only">Inference replicas and what each serves</caption>
          <thead className="bg-subtle text-left text-muted">
            <tr>
              <th className="px-5 py-1.5 font-medium">Replica</th>
              <th className="px-3 py-1.5 font-medium">Serves</th>
              <th className="px-3 py-1.5 font-medium">Revision</th>
              <th className="px-3 py-1.5 font-medium">Last failure</th>
              <th className="px-3 py-1.5 font-medium">Seen</th>
            </tr>
          </thead>
          <tbody className="divide-y divide-border">
            {x.replicas.map((p) => (
              <tr key={p.replica}>
                <td className="px-5 py-1.5 font-mono">
                  <span className={p.live ? "text-emerald-700 dark:text-emerald-400" : "text-muted"} aria-label={p.live ? "live" : "not reporting"}>
                    ●
                  </span>{" "}
                  {p.replica}
                </td>
                <td className="px-3 py-1.5">
                  v{p.primary ?? "—"}
                  {p.canary ? ` + canary v${p.canary}` : ""}
                  {p.shadow ? ` + shadow v${p.shadow}` : ""}
                </td>
                <td className="px-3 py-1.5 tabular-nums">
                  {p.revision === x.revision ? (
                    p.revision
                  ) : (
                    <span className="text-amber-700 dark:text-amber-300">
                      {p.revision} (deployment at {x.revision})
                    </span>
                  )}
                </td>
                <td className="max-w-xs truncate px-3 py-1.5 text-muted" title={p.error ?? ""}>
                  {p.error ? `r${p.failedRevision}: ${p.error}` : "—"}
                </td>
                <td className="px-3 py-1.5 text-muted">
                  <TimeAgo date={p.lastSeenAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Card>
  );
}

const approvalText = (a: Outputs["approvals"]["canary"]) => {
  if (!a) return null;
  switch (a.state) {
    case "unprotected":
      return "alias not protected";
    case "approved":
      return a.source === "review" ? `approved in review #${a.review}` : "holds the alias";
    case "under_review":
      return `under review (#${a.review})`;
    case "expired":
      return `approval expired (review #${a.review})`;
    case "not_approved":
      return "not approved";
  }
};
const isApproved = (a: Outputs["approvals"]["canary"]) => a?.state === "approved" || a?.state === "unprotected";

/** The palette's ?rollback= requests already answered (each carries a new value). */
const askedRollbacks = new Set<string>();

function Traffic({ x, versions }: { x: Outputs; versions: number[] }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const [canary, setCanary] = useState<string>(x.canary ? String(x.canary.version) : "");
  const [percent, setPercent] = useState(x.canary?.percent ?? 10);
  const [shadow, setShadow] = useState<string>(x.shadow ? String(x.shadow) : "");
  const [error, setError] = useState<string | null>(null);
  const [dialog, setDialog] = useState<null | "promote" | "rollback">(null);
  // ?rollback=<anything> (the palette's "Roll back credit-prod…") opens the rollback confirmation; a new value opens it again.
  const askRollback = useSearchParams().get("rollback");
  useEffect(() => {
    // Asked once: the section remounts after the rollback (a new revision) and must not ask again.
    if (!askRollback || askedRollbacks.has(askRollback)) return;
    askedRollbacks.add(askRollback);
    setDialog("rollback");
    // The browser's own replaceState with no state of Next.js's, so useSearchParams follows it.
    const url = new URL(window.location.href);
    url.searchParams.delete("rollback");
    window.history.replaceState(null, "", url);
  }, [askRollback]);
  const [reason, setReason] = useState("");
  const [target, setTarget] = useState<string>(x.previous ? String(x.previous) : "");
  const done = (msg: string) => () => (toast.success(msg), setDialog(null), setError(null));
  const opts = { onError: (e: unknown) => setError(errorMessage(e)) };
  const traffic = useMutation(trpc.deployments.setTraffic.mutationOptions({ ...opts, onSuccess: done("Traffic updated: rolling out.") }));
  const promote = useMutation(trpc.deployments.promoteCanary.mutationOptions({ ...opts, onSuccess: done("Canary promoted: rolling out.") }));
  const rollback = useMutation(trpc.deployments.rollback.mutationOptions({ ...opts, onSuccess: done("Rolled back: rolling out.") }));
  const others = versions.filter((v) => v !== x.primary);
  const canaryOk = isApproved(x.approvals.canary);
  const ref = { workspaceId: workspace.id, name: x.name, expectedRevision: x.revision };
  const underReview = x.approvals.canary?.state === "under_review" ? x.approvals.canary.review : null;
  const production = x.environment === "production";
  // Promote becomes a review: the open one for this version, or a new one, prefilled.
  const reviewLink = !x.canary
    ? ""
    : underReview
      ? `/w/${workspace.slug}/reviews/${underReview}`
      : `/w/${workspace.slug}/reviews/new?model=${encodeURIComponent(x.model)}&version=${x.canary.version}&alias=${encodeURIComponent(x.alias)}`;
  return (
    <Card>
      <CardHeader
        title="Traffic"
        description={`A canary takes a share of requests; a shadow gets a copy whose answers are logged, never returned.${x.protected ? ` The ${x.alias} alias is protected: only versions approved for it reach callers (any version may shadow).` : ""}`}
      />
      <form
        className="flex flex-wrap items-end gap-3 px-5 py-4"
        onSubmit={(e) => {
          e.preventDefault();
          traffic.mutate({
            ...ref,
            canaryVersion: canary ? Number(canary) : null,
            canaryPercent: canary ? percent : undefined,
            shadowVersion: shadow ? Number(shadow) : null,
          });
        }}
      >
        <Field label="Canary" htmlFor="t-canary">
          <Select id="t-canary" value={canary} onChange={(e) => setCanary(e.target.value)}>
            <option value="">none</option>
            {others.map((v) => (
              <option key={v} value={v}>
                v{v}
              </option>
            ))}
          </Select>
        </Field>
        <Field label="Canary share (%)" htmlFor="t-percent">
          <Input
            id="t-percent"
            type="number"
            min={1}
            max={100}
            className="w-24"
            value={percent}
            disabled={!canary}
            onChange={(e) => setPercent(Number(e.target.value))}
          />
        </Field>
        <Field label="Shadow" htmlFor="t-shadow">
          <Select id="t-shadow" value={shadow} onChange={(e) => setShadow(e.target.value)}>
            <option value="">none</option>
            {versions.map((v) => (
              <option key={v} value={v}>
                v{v}
              </option>
            ))}
          </Select>
        </Field>
        <Button type="submit" variant="secondary" loading={traffic.isPending}>
          Apply
        </Button>
        <span className="flex-1" />
        {x.canary && !canaryOk ? (
          <Link
            href={reviewLink}
            className="inline-flex h-9 items-center gap-1.5 rounded-md border border-border px-3 text-sm font-medium hover:bg-subtle"
            data-testid="request-review"
            title={`v${x.canary.version} is ${approvalText(x.approvals.canary)} for ${x.alias}: it can become the primary once a review approves it.`}
          >
            <ClipboardCheck className="size-4" aria-hidden />{" "}
            {underReview ? `Review #${underReview} for v${x.canary.version}` : `Request review for v${x.canary.version}`}
          </Link>
        ) : (
          <Button type="button" variant="secondary" disabled={!x.canary} onClick={() => setDialog("promote")}>
            <ArrowUpCircle className="size-4" aria-hidden /> Promote canary
          </Button>
        )}
        <Button type="button" variant="danger" onClick={() => setDialog("rollback")}>
          <RotateCcw className="size-4" aria-hidden /> Roll back…
        </Button>
      </form>
      {x.canary && (
        <p className="px-5 pb-3 text-xs text-muted" data-testid="canary-approval">
          Canary v{x.canary.version}: {approvalText(x.approvals.canary)}
          {x.canary && !canaryOk && ` — Promote needs an approved review for ${x.alias}.`}
        </p>
      )}
      {error && (
        <p role="alert" className="border-t border-border px-5 py-3 text-sm text-danger" data-testid="traffic-error">
          {error}
        </p>
      )}
      <Confirm
        open={dialog === "promote"}
        onOpenChange={(o) => setDialog(o ? "promote" : null)}
        title={`Promote canary v${x.canary?.version ?? ""}?`}
        description={
          x.following
            ? `${x.alias} moves to v${x.canary?.version ?? ""}: this deployment and every other deployment following ${x.alias} will serve it.`
            : `v${x.canary?.version ?? ""} becomes this deployment's pinned primary (bound to ${x.alias}).`
        }
        consequence={
          x.canary
            ? `v${x.canary.version} will serve 100% of ${x.name} (now v${x.primary} ${100 - x.canary.percent}%, v${x.canary.version} ${x.canary.percent}%).`
            : undefined
        }
        typeToConfirm={production ? x.name : undefined}
        confirm="Promote"
        pending={promote.isPending}
        onConfirm={() => promote.mutate(ref)}
      />
      <Confirm
        open={dialog === "rollback"}
        onOpenChange={(o) => setDialog(o ? "rollback" : null)}
        title="Emergency rollback"
        description={`Serves another version at once, without a new review, and pins the deployment. ${x.protected ? `Only a version that held ${x.alias} recently and was not rejected since is accepted.` : ""} The reason goes on the record.`}
        consequence={
          target
            ? `v${target} will serve 100% of ${x.name} at once, replacing v${x.primary}${x.canary ? ` and the canary v${x.canary.version}` : ""}; the deployment stays pinned to v${target}.`
            : "Choose the version to serve."
        }
        typeToConfirm={production ? x.name : undefined}
        confirm="Roll back"
        danger
        pending={rollback.isPending}
        onConfirm={() => rollback.mutate({ ...ref, version: target ? Number(target) : undefined, reason })}
      >
        <Field label="Roll back to" htmlFor="rb-version">
          <Select id="rb-version" value={target} onChange={(e) => setTarget(e.target.value)} autoFocus>
            {!x.previous && <option value="">choose a version</option>}
            {others.map((v) => (
              <option key={v} value={v}>
                v{v}
                {v === x.previous ? " (previous)" : ""}
              </option>
            ))}
          </Select>
        </Field>
        <Field label="Reason" htmlFor="rb-reason" hint="Why this is an emergency: shown on the deployment, in the audit trail and in the compliance report.">
          <Input
            id="rb-reason"
            value={reason}
            onChange={(e) => setReason(e.target.value)}
            placeholder="v20 answers 500s for thin files"
            required
            minLength={3}
          />
        </Field>
        {error && dialog === "rollback" && (
          <p role="alert" className="text-sm text-danger">
            {error}
          </p>
        )}
      </Confirm>
    </Card>
  );
}

/** Follow the bound alias, or pin a version: its own action, confirmed and audited. */
function Binding({ x, versions, canManage }: { x: Outputs; versions: number[]; canManage: boolean }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const [mode, setMode] = useState<null | "pin" | "follow">(null);
  const [version, setVersion] = useState(String(x.primary));
  const [error, setError] = useState<string | null>(null);
  const follow = useMutation(
    trpc.deployments.setFollow.mutationOptions({
      onSuccess: () => (toast.success(mode === "pin" ? "Pinned: rolling out." : `Follows ${x.alias} again: rolling out.`), setMode(null), setError(null)),
      onError: (e) => setError(errorMessage(e)),
    }),
  );
  const choices = x.following ? versions : versions.filter((v) => v !== x.primary);
  return (
    <div className="flex flex-wrap items-center gap-2 text-sm" data-testid="binding">
      <span>
        Bound to <span className="font-mono">{x.alias}</span> {x.protected ? <Badge tone="warning">protected</Badge> : <Badge>unprotected</Badge>}
      </span>
      <span className="text-muted">·</span>
      <span>
        {x.following
          ? `follows it (holder v${x.holder ?? "—"})`
          : `pinned to v${x.primary}${x.holder !== null && x.holder !== x.primary ? ` (${x.alias} is v${x.holder})` : ""}`}
      </span>
      {canManage && (
        <>
          <Button size="sm" variant="ghost" onClick={() => (setVersion(String(choices[0] ?? x.primary)), setMode("pin"))} disabled={!choices.length}>
            {x.following ? "Pin a version…" : "Pin another version…"}
          </Button>
          {!x.following && (
            <Button size="sm" variant="ghost" onClick={() => setMode("follow")} disabled={x.holder === null}>
              Follow {x.alias}…
            </Button>
          )}
        </>
      )}
      <Confirm
        open={mode !== null}
        onOpenChange={(o) => !o && (setMode(null), setError(null))}
        title={mode === "pin" ? "Pin this deployment" : `Follow ${x.alias} again`}
        description={
          mode === "pin"
            ? `It serves the version you choose${x.following ? ` and stops following ${x.alias}: moving the alias no longer changes what it serves` : ""}.${x.protected ? ` ${x.alias} is protected: the version must be approved for it.` : ""}`
            : `It serves ${x.alias}'s holder${x.holder !== null ? ` (v${x.holder})` : ""} and moves whenever the alias moves.`
        }
        confirm={mode === "pin" ? "Pin" : "Follow"}
        pending={follow.isPending}
        onConfirm={() =>
          follow.mutate({
            workspaceId: workspace.id,
            name: x.name,
            expectedRevision: x.revision,
            follow: mode === "follow",
            ...(mode === "pin" ? { version: Number(version) } : {}),
          })
        }
      >
        {mode === "pin" && (
          <Field label="Pin to" htmlFor="pin-version">
            <Select id="pin-version" value={version} onChange={(e) => setVersion(e.target.value)}>
              {choices.map((v) => (
                <option key={v} value={v}>
                  v{v}
                  {v === x.primary ? " (serving now)" : ""}
                </option>
              ))}
            </Select>
          </Field>
        )}
        {error && (
          <p role="alert" className="text-sm text-danger">
            {error}
          </p>
        )}
      </Confirm>
    </div>
  );
}

function Keys({
  name,
  keys,
}: {
  name: string;
  keys: { id: string; name: string; prefix: string; createdAt: Date; lastUsedAt: Date | null; revokedAt: Date | null; createdBy: string | null }[];
}) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const [keyName, setKeyName] = useState("");
  const [shown, setShown] = useState<string | null>(null);
  const create = useMutation(
    trpc.deployments.createKey.mutationOptions({ onSuccess: (r) => (setShown(r.key), setKeyName("")), onError: (e) => toast.error(errorMessage(e)) }),
  );
  const [revoking, setRevoking] = useState<(typeof keys)[number] | null>(null);
  const revoke = useMutation(
    trpc.deployments.revokeKey.mutationOptions({
      onSuccess: () => (toast.success("Key revoked."), setRevoking(null)),
      onError: (e) => toast.error(errorMessage(e)),
    }),
  );
  return (
    <Card>
      <CardHeader title="Deployment keys" description="A key calls this deployment's predict and feedback endpoints, nothing else." />
      {shown && (
        <div role="status" className="border-b border-border bg-amber-500/10 px-5 py-3 text-sm">
          Copy this key now; it is not shown again:{" "}
          <code className="font-mono break-all" data-testid="new-key">
            {shown}
          </code>
        </div>
      )}
      <ul className="divide-y divide-border text-sm">
        {keys.map((k) => (
          <li key={k.id} className="flex items-center justify-between px-5 py-2">
            <span>
              <KeyRound className="mr-1 inline size-3.5 text-muted" aria-hidden /> {k.name} <span className="font-mono text-xs text-muted">{k.prefix}…</span>
            </span>
            <span className="flex items-center gap-3 text-xs text-muted">
              {k.lastUsedAt ? (
                <span>
                  used <TimeAgo date={k.lastUsedAt} />
                </span>
              ) : (
                "never used"
              )}
              {k.revokedAt ? (
                <Badge tone="stale">revoked</Badge>
              ) : (
                <Button size="sm" variant="ghost" onClick={() => setRevoking(k)}>
                  Revoke…
                </Button>
              )}
            </span>
          </li>
        ))}
      </ul>
      <Confirm
        open={revoking !== null}
        onOpenChange={(o) => !o && setRevoking(null)}
        title={`Revoke the key "${revoking?.name ?? ""}"?`}
        description="Revoking cannot be undone: a new key has to be created and handed to the callers."
        consequence={revoking ? `Callers of ${name} using ${revoking.prefix}… get 401 from now on.` : undefined}
        confirm="Revoke key"
        danger
        pending={revoke.isPending}
        onConfirm={() => revoking && revoke.mutate({ workspaceId: workspace.id, keyId: revoking.id })}
      />
      <form
        className="flex gap-2 border-t border-border px-5 py-3"
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate({ workspaceId: workspace.id, name, keyName });
        }}
      >
        <Input aria-label="Key name" placeholder="loan-service" value={keyName} onChange={(e) => setKeyName(e.target.value)} className="h-8" />
        <Button size="sm" variant="secondary" type="submit" disabled={!keyName.trim()} loading={create.isPending}>
          Create key
        </Button>
      </form>
    </Card>
  );
}

function Predictions({ name }: { name: string }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const p = useQuery({ ...trpc.deployments.predictions.queryOptions({ workspaceId: workspace.id, name }), refetchInterval: 2000 });
  return (
    <Card>
      <CardHeader title="Recent predictions" description="From the prediction log (written in batches, a moment after the answer)" />
      {p.isPending ? (
        <Skeleton rows={3} />
      ) : p.isError ? (
        <ErrorState message={errorMessage(p.error)} />
      ) : p.data.length === 0 ? (
        <p className="px-5 py-6 text-sm text-muted">No predictions yet.</p>
      ) : (
        <div className="overflow-x-auto">
          <table className="w-full text-xs" data-testid="prediction-log">
            <thead className="bg-subtle text-left text-muted">
              <tr>
                <th className="px-4 py-2 font-medium">When</th>
                <th className="px-4 py-2 font-medium">Request</th>
                <th className="px-4 py-2 font-medium">Version</th>
                <th className="px-4 py-2 font-medium">Role</th>
                <th className="px-4 py-2 text-right font-medium">ms</th>
                <th className="px-4 py-2 font-medium">Outputs</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-border">
              {p.data.map((r) => (
                <tr key={`${r.requestId}:${r.role}`}>
                  <td className="px-4 py-1.5 text-muted">
                    <TimeAgo date={r.at} />
                  </td>
                  <td className="px-4 py-1.5 font-mono">{r.requestId.slice(0, 8)}</td>
                  <td className="px-4 py-1.5">v{r.version}</td>
                  <td className="px-4 py-1.5">
                    {r.status === "ok" ? (
                      <Badge tone={r.role === "shadow" ? "stale" : "passing"}>{r.role}</Badge>
                    ) : (
                      <Badge tone="failing">{r.role} error</Badge>
                    )}
                  </td>
                  <td className="px-4 py-1.5 text-right tabular-nums">{r.latencyMs.toFixed(1)}</td>
                  <td className="max-w-md truncate px-4 py-1.5 font-mono" title={JSON.stringify(r.outputs ?? r.error)}>
                    {JSON.stringify(r.outputs ?? r.error)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}

type Settings = {
  maxBatchSize: number;
  maxWaitMs: number;
  intraOpThreads: number;
  inputSampleRate: number;
  sensitiveInputs: { name: string; mode: "drop" | "hash" }[];
  canaryAnalysis: { enabled: boolean; minRequests: number; maxErrorRateDelta: number; maxLatencyRatio: number; windowMinutes: number };
};

/** Serving settings: batching, threads, logging and privacy, canary analysis. Managers edit; others read. */
function SettingsCard({ name, settings, signature, editable }: { name: string; settings: Settings; signature: Sig; editable: boolean }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const [s, setS] = useState<Settings>(settings);
  const [error, setError] = useState<string | null>(null);
  const save = useMutation(
    trpc.deployments.updateSettings.mutationOptions({
      onSuccess: () => (toast.success("Settings saved; the inference servers reload within a second."), setError(null)),
      onError: (e) => setError(errorMessage(e)),
    }),
  );
  const names = [...new Set([...(featureNames(signature) ?? []), ...signature.inputs.map((i) => i.name)])];
  const dirty = JSON.stringify(s) !== JSON.stringify(settings);
  const num = (v: string) => (v.trim() === "" ? NaN : Number(v));
  const set = <K extends keyof Settings>(k: K, v: Settings[K]) => setS((x) => ({ ...x, [k]: v }));
  const setCanary = <K extends keyof Settings["canaryAnalysis"]>(k: K, v: Settings["canaryAnalysis"][K]) =>
    setS((x) => ({ ...x, canaryAnalysis: { ...x.canaryAnalysis, [k]: v } }));
  const unused = names.filter((n) => !s.sensitiveInputs.some((x) => x.name === n));
  return (
    <Card>
      <CardHeader title="Settings" description="How this deployment batches, runs and logs; applied by every inference replica within a second of saving" />
      <form
        className="space-y-5 px-5 py-4"
        data-testid="deployment-settings"
        // The server's message names the setting and the allowed range.
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          save.mutate({ workspaceId: workspace.id, name, settings: s });
        }}
      >
        <fieldset disabled={!editable} className="grid gap-4 sm:grid-cols-2 lg:grid-cols-4">
          <Field label="Max batch size (rows)" htmlFor="set-batch" hint="Concurrent requests are gathered into one run up to this many rows.">
            <Input
              id="set-batch"
              type="number"
              min={1}
              max={4096}
              value={Number.isNaN(s.maxBatchSize) ? "" : s.maxBatchSize}
              onChange={(e) => set("maxBatchSize", num(e.target.value))}
            />
          </Field>
          <Field label="Max wait (ms)" htmlFor="set-wait" hint="Longest a request waits to be batched while every thread is busy; 0 turns batching off.">
            <Input
              id="set-wait"
              type="number"
              min={0}
              max={100}
              step={0.5}
              value={Number.isNaN(s.maxWaitMs) ? "" : s.maxWaitMs}
              onChange={(e) => set("maxWaitMs", num(e.target.value))}
            />
          </Field>
          <Field label="Threads per run" htmlFor="set-threads" hint="onnxruntime intra-op threads for one run.">
            <Input
              id="set-threads"
              type="number"
              min={1}
              max={64}
              value={Number.isNaN(s.intraOpThreads) ? "" : s.intraOpThreads}
              onChange={(e) => set("intraOpThreads", num(e.target.value))}
            />
          </Field>
          <Field label="Input sample rate" htmlFor="set-sample" hint="Share of large requests (over 100 rows) whose inputs are logged; outputs always are.">
            <Input
              id="set-sample"
              type="number"
              min={0}
              max={1}
              step={0.05}
              value={Number.isNaN(s.inputSampleRate) ? "" : s.inputSampleRate}
              onChange={(e) => set("inputSampleRate", num(e.target.value))}
            />
          </Field>
        </fieldset>
        <fieldset disabled={!editable} className="space-y-2">
          <legend className="text-sm font-medium">Sensitive inputs</legend>
          <p className="text-xs text-muted">Dropped, or replaced by a keyed hash (so equal values can still be matched), before a prediction is logged.</p>
          {s.sensitiveInputs.length === 0 && <p className="text-sm text-muted">None: every input is logged as sent.</p>}
          <ul className="space-y-2">
            {s.sensitiveInputs.map((x, i) => (
              <li key={x.name} className="flex items-center gap-2 text-sm">
                <span className="w-40 truncate font-mono">{x.name}</span>
                <Select
                  aria-label={`How ${x.name} is logged`}
                  value={x.mode}
                  onChange={(e) =>
                    set(
                      "sensitiveInputs",
                      s.sensitiveInputs.map((y, j) => (j === i ? { ...y, mode: e.target.value as "drop" | "hash" } : y)),
                    )
                  }
                  className="h-8 w-40"
                >
                  <option value="hash">replaced by a hash</option>
                  <option value="drop">dropped</option>
                </Select>
                <Button
                  size="sm"
                  variant="ghost"
                  type="button"
                  onClick={() =>
                    set(
                      "sensitiveInputs",
                      s.sensitiveInputs.filter((_, j) => j !== i),
                    )
                  }
                >
                  Remove
                </Button>
              </li>
            ))}
          </ul>
          {editable && unused.length > 0 && (
            <Select
              aria-label="Mark an input as sensitive"
              value=""
              onChange={(e) => e.target.value && set("sensitiveInputs", [...s.sensitiveInputs, { name: e.target.value, mode: "hash" }])}
              className="h-8 w-64"
            >
              <option value="">Mark an input as sensitive…</option>
              {unused.map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </Select>
          )}
        </fieldset>
        <fieldset disabled={!editable} className="space-y-3">
          <legend className="text-sm font-medium">Automatic canary analysis</legend>
          <label className="flex items-center gap-2 text-sm">
            <input type="checkbox" checked={s.canaryAnalysis.enabled} onChange={(e) => setCanary("enabled", e.target.checked)} /> Roll a canary back by itself
            when it is worse than the primary
          </label>
          <div className="grid gap-4 sm:grid-cols-2 lg:grid-cols-4">
            <Field label="Max error-rate increase (points)" htmlFor="set-err" hint="Canary's error rate minus the primary's, in percentage points.">
              <Input
                id="set-err"
                type="number"
                min={0}
                max={100}
                step={0.5}
                value={Number.isNaN(s.canaryAnalysis.maxErrorRateDelta) ? "" : +(s.canaryAnalysis.maxErrorRateDelta * 100).toFixed(4)}
                onChange={(e) => setCanary("maxErrorRateDelta", num(e.target.value) / 100)}
              />
            </Field>
            <Field label="Max p95 latency ratio" htmlFor="set-lat" hint="Canary's p95 latency over the primary's.">
              <Input
                id="set-lat"
                type="number"
                min={1}
                step={0.1}
                value={Number.isNaN(s.canaryAnalysis.maxLatencyRatio) ? "" : s.canaryAnalysis.maxLatencyRatio}
                onChange={(e) => setCanary("maxLatencyRatio", num(e.target.value))}
              />
            </Field>
            <Field label="Min requests" htmlFor="set-min" hint="Each side needs this many in the window before judging.">
              <Input
                id="set-min"
                type="number"
                min={1}
                value={Number.isNaN(s.canaryAnalysis.minRequests) ? "" : s.canaryAnalysis.minRequests}
                onChange={(e) => setCanary("minRequests", num(e.target.value))}
              />
            </Field>
            <Field label="Window (minutes)" htmlFor="set-window">
              <Input
                id="set-window"
                type="number"
                min={1}
                max={1440}
                value={Number.isNaN(s.canaryAnalysis.windowMinutes) ? "" : s.canaryAnalysis.windowMinutes}
                onChange={(e) => setCanary("windowMinutes", num(e.target.value))}
              />
            </Field>
          </div>
        </fieldset>
        {error && (
          <p role="alert" className="text-sm text-danger" data-testid="settings-error">
            {error}
          </p>
        )}
        {editable && (
          <div className="flex gap-2">
            <Button type="submit" size="sm" disabled={!dirty} loading={save.isPending}>
              Save settings
            </Button>
            <Button type="button" size="sm" variant="ghost" disabled={!dirty} onClick={() => (setS(settings), setError(null))}>
              Discard changes
            </Button>
          </div>
        )}
      </form>
    </Card>
  );
}

export function DeploymentPage({ name }: { name: string }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const canManage = useCan("deployment:manage");
  const canPredict = useCan("deployment:predict");
  // While a rollout is pending the page follows it (settling also pushes a live hint).
  const d = useQuery({
    ...trpc.deployments.get.queryOptions({ workspaceId: workspace.id, name }),
    refetchInterval: (q) => (q.state.data?.rollout?.status === "pending" ? 1000 : 15_000),
  });
  const model = useQuery({ ...trpc.models.byName.queryOptions({ workspaceId: workspace.id, name: d.data?.model ?? "" }), enabled: !!d.data });
  const [stopping, setStopping] = useState(false);
  const status = useMutation(trpc.deployments.setStatus.mutationOptions({ onSuccess: () => setStopping(false), onError: (e) => toast.error(errorMessage(e)) }));
  if (!ready(d)) return <QueryWait query={d} rows={8} />;
  const x = d.data;
  return (
    <>
      <Breadcrumb href={`/w/${workspace.slug}/deployments`} label="Deployments" />
      <PageHeader
        title={x.name}
        description={`${x.model} in ${x.environment} · ${x.following ? `follows ${x.alias}` : `pinned (bound to ${x.alias})`} · revision ${x.revision}`}
        actions={
          <div className="flex items-center gap-2" data-testid="deployment-state">
            {x.status === "active" ? <Badge tone="serving">serving</Badge> : <Badge tone="stale">stopped</Badge>}
            {canManage && (
              <Button
                size="sm"
                variant="secondary"
                loading={status.isPending}
                onClick={() =>
                  x.status === "active" ? setStopping(true) : status.mutate({ workspaceId: workspace.id, name, status: "active", expectedRevision: x.revision })
                }
              >
                {x.status === "active" ? <Square className="size-3.5" aria-hidden /> : <Play className="size-3.5" aria-hidden />}{" "}
                {x.status === "active" ? "Stop" : "Start"}
              </Button>
            )}
          </div>
        }
      />
      <Confirm
        open={stopping}
        onOpenChange={setStopping}
        title={`Stop ${x.name}?`}
        description="Every predict request is refused (503) until it is started again. Callers get errors, not another model's answers."
        consequence={`${x.name} will stop serving v${x.primary}${x.canary ? ` and its canary v${x.canary.version}` : ""}: every caller of ${x.name} gets 503 until someone starts it.`}
        typeToConfirm={x.environment === "production" ? x.name : undefined}
        confirm="Stop serving"
        danger
        pending={status.isPending}
        onConfirm={() => status.mutate({ workspaceId: workspace.id, name, status: "stopped", expectedRevision: x.revision })}
      />
      <div className="space-y-6">
        <RolloutStatus x={x} />
        <Card>
          <div className="border-b border-border px-5 py-3">
            <Binding x={x} versions={model.data?.versions.map((v) => v.version) ?? [x.primary]} canManage={canManage} />
          </div>
          <div className="grid grid-cols-2 gap-4 px-5 py-4 text-sm md:grid-cols-4" data-testid="deployment-versions">
            <div>
              <div className="text-xs text-muted">Primary</div>
              <div className="text-lg font-semibold">v{x.primary}</div>
              <div className="text-xs text-muted">{x.canary ? `${100 - x.canary.percent}%` : "100%"} of traffic</div>
            </div>
            <div>
              <div className="text-xs text-muted">Canary</div>
              <div className="text-lg font-semibold">{x.canary ? `v${x.canary.version}` : "—"}</div>
              <div className="text-xs text-muted">{x.canary ? `${x.canary.percent}% · rolled back automatically if worse` : "none"}</div>
            </div>
            <div>
              <div className="text-xs text-muted">Shadow</div>
              <div className="text-lg font-semibold">{x.shadow ? `v${x.shadow}` : "—"}</div>
              <div className="text-xs text-muted">{x.shadow ? "copy of all traffic, never returned" : "none"}</div>
            </div>
            <div>
              <div className="text-xs text-muted">Batching</div>
              <div className="text-lg font-semibold">{x.settings.maxWaitMs > 0 ? `≤ ${x.settings.maxBatchSize} rows` : "off"}</div>
              <div className="text-xs text-muted">{x.settings.maxWaitMs > 0 ? `waits ≤ ${x.settings.maxWaitMs} ms` : ""}</div>
            </div>
          </div>
        </Card>
        {canManage && model.data && <Traffic key={x.revision} x={x} versions={model.data.versions.map((v) => v.version)} />}
        {canPredict && x.status === "active" && <TryIt name={x.name} signature={x.signature} />}
        <Predictions name={x.name} />
        <SettingsCard key={`settings-${x.revision}`} name={x.name} settings={x.settings} signature={x.signature} editable={canManage} />
        <div className="grid gap-6 lg:grid-cols-2">
          <Card>
            <CardHeader title="History" description="Every change, newest first" />
            <ol className="divide-y divide-border text-sm" data-testid="deployment-history">
              {x.events.map((e) => (
                <li key={e.id} className="px-5 py-2 break-words">
                  <div>{e.summary}</div>
                  <div className="text-xs text-muted">
                    {e.actor ?? "Steward"} · <TimeAgo date={e.at} />
                  </div>
                </li>
              ))}
            </ol>
          </Card>
          {canManage && <Keys name={x.name} keys={x.keys} />}
        </div>
      </div>
    </>
  );
}

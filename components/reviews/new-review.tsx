"use client";

import { useMutation, useQuery } from "@tanstack/react-query";
import { useRouter, useSearchParams } from "next/navigation";
import { useState } from "react";
import { useCan, useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, fieldErrors, useTRPC } from "~/components/trpc/client";
import { Button } from "~/components/ui/button";
import { Card } from "~/components/ui/card";
import { Field, Select } from "~/components/ui/field";
import { PageHeader, Skeleton } from "~/components/ui/states";
import { can, ROLE_LABELS } from "~/server/shared/permissions";
import { Breadcrumb } from "~/components/ui/breadcrumb";
import { NoPermission } from "~/components/ui/locked";

/** Request a review: a model version proposed for a protected alias, with a summary and reviewers. */
export function NewReview() {
  const { workspace, user } = useWorkspace();
  const canOpen = useCan("review:participate");
  const trpc = useTRPC();
  const router = useRouter();
  const search = useSearchParams();
  const models = useQuery(trpc.models.list.queryOptions({ workspaceId: workspace.id }));
  const policies = useQuery(trpc.policies.list.queryOptions({ workspaceId: workspace.id }));
  const members = useQuery(trpc.members.list.queryOptions({ workspaceId: workspace.id }));
  const [model, setModel] = useState(search.get("model") ?? "");
  const [version, setVersion] = useState(search.get("version") ?? "");
  const [alias, setAlias] = useState(search.get("alias") ?? "production");
  const [summary, setSummary] = useState("");
  const [assignees, setAssignees] = useState<string[]>([]);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const open = useMutation(
    trpc.reviews.open.mutationOptions({
      onSuccess: (r) => router.push(`/w/${workspace.slug}/reviews/${r.number}`),
      onError: (e) => (setErrors(fieldErrors(e)), setError(errorMessage(e))),
    }),
  );
  if (models.isPending || policies.isPending || members.isPending) return <Skeleton rows={6} />;
  const m = models.data?.find((x) => x.name === (model || models.data[0]?.name));
  const modelName = model || m?.name || "";
  const versions = m?.latestVersion ? Array.from({ length: m.latestVersion }, (_, i) => m.latestVersion! - i) : [];
  const protectedAliases = (policies.data ?? []).filter((p) => p.active);
  const approvers = (members.data ?? []).filter(
    (x) => x.userId !== user.id && (can(x.role, "review:approve_technical") || can(x.role, "review:approve_compliance")),
  );
  const policy = protectedAliases.find((p) => p.alias === alias);
  if (!canOpen)
    return (
      <>
        <Breadcrumb href={`/w/${workspace.slug}/reviews`} label="Reviews" />
        <PageHeader
          title="Request review"
          description="Propose a model version for a protected alias. It moves when the alias's approval policy is satisfied."
        />
        <NoPermission permission="review:participate" action="open review requests" />
      </>
    );
  return (
    <>
      <Breadcrumb href={`/w/${workspace.slug}/reviews`} label="Reviews" />
      <PageHeader title="Request review" description="Propose a model version for a protected alias. It moves when the alias's approval policy is satisfied." />
      <Card>
        <form
          className="space-y-4 px-5 py-5"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            open.mutate({ workspaceId: workspace.id, model: modelName, version: Number(version || versions[0]), alias, summary, assignees });
          }}
        >
          <div className="grid gap-4 sm:grid-cols-3">
            <Field label="Model" htmlFor="rv-model" error={errors.model}>
              <Select id="rv-model" value={modelName} onChange={(e) => (setModel(e.target.value), setVersion(""))}>
                {(models.data ?? []).map((x) => (
                  <option key={x.name} value={x.name}>
                    {x.name}
                  </option>
                ))}
              </Select>
            </Field>
            <Field label="Version" htmlFor="rv-version" error={errors.version}>
              <Select id="rv-version" value={version || String(versions[0] ?? "")} onChange={(e) => setVersion(e.target.value)}>
                {versions.map((v) => (
                  <option key={v} value={v}>
                    v{v}
                  </option>
                ))}
              </Select>
            </Field>
            <Field label="Target alias" htmlFor="rv-alias" error={errors.alias}>
              <Select id="rv-alias" value={alias} onChange={(e) => setAlias(e.target.value)}>
                {protectedAliases.map((p) => (
                  <option key={p.alias} value={p.alias}>
                    {p.alias}
                  </option>
                ))}
              </Select>
            </Field>
          </div>
          {policy && (
            <p className="rounded-md bg-subtle px-3 py-2 text-xs text-muted" data-testid="policy-summary">
              Policy for <strong>{policy.alias}</strong>
              {policy.source === "default" ? " (default)" : ` (version ${policy.version})`}:{" "}
              {policy.rules.requiredApprovals.map((r) => `${r.count} ${r.role.replace("_", " ")}`).join(" + ")}, at least {policy.rules.minDistinctApprovers}{" "}
              distinct approver
              {policy.rules.minDistinctApprovers === 1 ? "" : "s"}
              {policy.rules.requiredChecks.length
                ? `, ${policy.rules.requiredChecks.includes("*") ? "every required check passing" : `checks ${policy.rules.requiredChecks.join(", ")} passing`}`
                : ""}
              {policy.rules.allowRequesterApproval ? "" : "; you cannot approve your own request"}.
            </p>
          )}
          <Field
            label="Summary"
            htmlFor="rv-summary"
            error={errors.summary}
            hint="What changed, why it should be promoted, and what reviewers should look at. Markdown."
          >
            <textarea
              id="rv-summary"
              className="h-28 w-full rounded-md border border-border bg-panel p-3 text-sm"
              value={summary}
              onChange={(e) => setSummary(e.target.value)}
            />
          </Field>
          <fieldset>
            <legend className="text-sm font-medium">Reviewers</legend>
            <p className="mb-2 text-xs text-muted">Assigned reviewers are notified; everyone whose approval the policy needs is notified too.</p>
            {approvers.length === 0 ? (
              <p className="text-sm text-muted">Nobody in this workspace can approve yet: invite a reviewer or compliance officer.</p>
            ) : (
              <div className="flex flex-wrap gap-3">
                {approvers.map((x) => (
                  <label key={x.userId} className="flex items-center gap-2 rounded-md border border-border px-3 py-1.5 text-sm">
                    <input
                      type="checkbox"
                      checked={assignees.includes(x.userId)}
                      onChange={(e) => setAssignees((a) => (e.target.checked ? [...a, x.userId] : a.filter((y) => y !== x.userId)))}
                    />
                    {x.name} <span className="text-xs text-muted">{ROLE_LABELS[x.role]}</span>
                  </label>
                ))}
              </div>
            )}
          </fieldset>
          {error && (
            <p role="alert" className="text-sm text-danger">
              {error}
            </p>
          )}
          <div className="flex gap-2">
            <Button type="submit" loading={open.isPending} disabled={!modelName || !versions.length}>
              Open review
            </Button>
          </div>
        </form>
      </Card>
    </>
  );
}

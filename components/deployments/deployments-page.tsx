"use client";

import { useMutation, useQuery, useInfiniteQuery } from "@tanstack/react-query";
import { Plus, Rocket } from "lucide-react";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { toast } from "sonner";
import { useCan, useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, fieldErrors, useTRPC } from "~/components/trpc/client";
import { LoadMore, PAGED, pagedItems } from "~/components/ui/load-more";
import { Badge } from "~/components/ui/badge";
import { Button } from "~/components/ui/button";
import { Card } from "~/components/ui/card";
import { Dialog } from "~/components/ui/dialog";
import { Field, Input, Select } from "~/components/ui/field";
import { EmptyState, PageHeader } from "~/components/ui/states";
import { QueryWait, ready } from "~/components/ui/query-state";
import { TimeAgo } from "~/components/ui/time";
import { LockedAction } from "~/components/ui/locked";

function NewDeployment() {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const router = useRouter();
  const [open, setOpen] = useState(false);
  const [name, setName] = useState("");
  const [environment, setEnvironment] = useState("production");
  const [model, setModel] = useState("");
  const [version, setVersion] = useState<string>("follow");
  const [alias, setAlias] = useState("production");
  const models = useQuery(trpc.models.list.queryOptions({ workspaceId: workspace.id }));
  const m = useQuery({ ...trpc.models.byName.queryOptions({ workspaceId: workspace.id, name: model }), enabled: !!model });
  const create = useMutation(
    trpc.deployments.create.mutationOptions({
      onSuccess: (r) => {
        toast.success(`Deployed ${r.name}.`);
        setOpen(false);
        router.push(`/w/${workspace.slug}/deployments/${r.name}`);
      },
    }),
  );
  const errors = create.error ? fieldErrors(create.error) : {};
  return (
    <>
      <Button onClick={() => setOpen(true)}>
        <Plus className="size-4" aria-hidden /> Deploy a model
      </Button>
      <Dialog
        open={open}
        onOpenChange={setOpen}
        title="Deploy a model"
        description="A deployment is bound to an alias: its approval policy decides which versions may serve. The primary follows the alias (it rolls out when the alias moves) or is pinned to an approved version."
      >
        <form
          className="space-y-4"
          onSubmit={(e) => {
            e.preventDefault();
            create.mutate({
              workspaceId: workspace.id,
              name,
              environment,
              model,
              alias,
              ...(version === "follow" ? { follow: true } : { follow: false, version: Number(version) }),
            });
          }}
        >
          <Field label="Deployment name" htmlFor="d-name" error={errors.name} hint="Part of the predict URL: /v1/deployments/<name>/predict">
            <Input id="d-name" value={name} onChange={(e) => setName(e.target.value)} placeholder="credit-prod" invalid={!!errors.name} />
          </Field>
          <Field label="Environment" htmlFor="d-env" error={errors.environment}>
            <Input id="d-env" value={environment} onChange={(e) => setEnvironment(e.target.value)} />
          </Field>
          <Field label="Model" htmlFor="d-model" error={errors.model}>
            <Select id="d-model" value={model} onChange={(e) => setModel(e.target.value)}>
              <option value="">Choose a model…</option>
              {models.data?.map((x) => (
                <option key={x.id} value={x.name}>
                  {x.name}
                </option>
              ))}
            </Select>
          </Field>
          <Field
            label="Bound to alias"
            htmlFor="d-alias"
            error={errors.alias}
            hint="Its approval policy decides which versions may serve here (production and staging are protected by default)."
          >
            <Input
              id="d-alias"
              list="d-alias-options"
              value={alias}
              onChange={(e) => setAlias(e.target.value.trim())}
              disabled={!model}
              invalid={!!errors.alias}
            />
            <datalist id="d-alias-options">
              {[...new Set(["production", "staging", ...(m.data?.aliases.map((a) => a.alias) ?? [])])].map((a) => (
                <option key={a} value={a}>
                  {m.data?.aliases.find((x) => x.alias === a) ? `now v${m.data.aliases.find((x) => x.alias === a)!.version}` : "no holder yet"}
                </option>
              ))}
            </datalist>
          </Field>
          <Field label="Serve" htmlFor="d-version" error={errors.version}>
            <Select id="d-version" value={version} onChange={(e) => setVersion(e.target.value)} disabled={!model}>
              <option value="follow">follow {alias}</option>
              {m.data?.versions.map((v) => (
                <option key={v.version} value={String(v.version)} disabled={!v.loadable}>
                  pin v{v.version}
                  {v.loadable ? "" : " (cannot load)"}
                </option>
              ))}
            </Select>
          </Field>
          {create.error && !Object.keys(errors).length && (
            <p role="alert" className="text-sm text-danger">
              {errorMessage(create.error)}
            </p>
          )}
          <div className="flex justify-end">
            <Button type="submit" loading={create.isPending} disabled={!name || !model}>
              Deploy
            </Button>
          </div>
        </form>
      </Dialog>
    </>
  );
}

export function DeploymentsPage() {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const canManage = useCan("deployment:manage");
  const list = useInfiniteQuery(trpc.deployments.page.infiniteQueryOptions({ workspaceId: workspace.id, limit: 50 }, PAGED));
  const rows = pagedItems(list);
  return (
    <>
      <PageHeader
        title="Deployments"
        description="Models serving in an environment: primary, canary and shadow versions, traffic and history."
        actions={
          canManage ? (
            <NewDeployment />
          ) : (
            <LockedAction permission="deployment:manage" action="deploy models">
              New deployment
            </LockedAction>
          )
        }
      />
      <Card>
        {!ready(list) ? (
          <QueryWait query={list} rows={4} />
        ) : rows.length === 0 ? (
          <EmptyState title="Nothing deployed yet" icon={<Rocket className="size-8" aria-hidden />}>
            {canManage ? "Deploy a model to serve predictions over HTTP." : "Ops and admins deploy models."}
          </EmptyState>
        ) : (
          <>
            <table className="w-full text-sm" data-testid="deployments-table">
              <thead className="bg-subtle text-left text-xs text-muted">
                <tr>
                  <th className="px-4 py-2 font-medium">Deployment</th>
                  <th className="px-4 py-2 font-medium">State</th>
                  <th className="px-4 py-2 font-medium">Model</th>
                  <th className="px-4 py-2 font-medium">Traffic</th>
                  <th className="px-4 py-2 font-medium">Shadow</th>
                  <th className="px-4 py-2 font-medium">Changed</th>
                </tr>
              </thead>
              <tbody className="divide-y divide-border">
                {rows.map((d) => (
                  <tr key={d.id}>
                    <td className="px-4 py-2">
                      <Link className="font-medium hover:underline" href={`/w/${workspace.slug}/deployments/${d.name}`}>
                        {d.name}
                      </Link>
                      <span className="ml-2 text-xs text-muted">{d.environment}</span>
                    </td>
                    <td className="px-4 py-2">{d.status === "active" ? <Badge tone="serving">serving</Badge> : <Badge tone="stale">stopped</Badge>}</td>
                    <td className="px-4 py-2">
                      {d.model} <span className="text-xs text-muted">{d.following ? `follows ${d.alias}` : `pinned · ${d.alias}`}</span>
                    </td>
                    <td className="px-4 py-2 font-mono text-xs">
                      v{d.primary} {d.canary ? `${100 - d.canary.percent}% · v${d.canary.version} ${d.canary.percent}% (canary)` : "100%"}
                    </td>
                    <td className="px-4 py-2 font-mono text-xs">{d.shadow ? `v${d.shadow}` : "—"}</td>
                    <td className="px-4 py-2 text-muted">
                      <TimeAgo date={d.updatedAt} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            <LoadMore query={list} shown={rows.length} noun="deployments" />
          </>
        )}
      </Card>
    </>
  );
}

"use client";

import { useMutation, useQuery } from "@tanstack/react-query";
import { GitCompare } from "lucide-react";
import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { useState } from "react";
import { toast } from "sonner";
import { useCan, useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, useTRPC } from "~/components/trpc/client";
import { Badge } from "~/components/ui/badge";
import { Button } from "~/components/ui/button";
import { Card, CardHeader } from "~/components/ui/card";
import { Input, Select } from "~/components/ui/field";
import { ErrorState, PageHeader, Skeleton } from "~/components/ui/states";
import { QueryWait, ready } from "~/components/ui/query-state";
import { TimeAgo } from "~/components/ui/time";
import { VersionChecks } from "~/components/pipelines/version-validation";
import { DownloadButton } from "./download-button";
import { LineageGraph } from "./lineage-graph";
import { MetricsChart } from "./metrics-chart";
import { UploadModelDialog } from "./models-page";
import { formatBytes as bytes } from "~/server/shared/format";
import { Breadcrumb } from "~/components/ui/breadcrumb";
import { InventoryCard } from "~/components/governance/inventory-card";
import { LockedAction } from "~/components/ui/locked";

const shape = (s: (number | string | null)[] | null) => (s ? `[${s.map((d) => d ?? "?").join(", ")}]` : "—");

function Signature({ name, version }: { name: string; version: number }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const v = useQuery(trpc.models.version.queryOptions({ workspaceId: workspace.id, name, version }));
  if (v.isPending) return <Skeleton rows={5} />;
  if (v.isError) return <ErrorState message={errorMessage(v.error)} />;
  const s = v.data.signature;
  const io = (label: string, rows: typeof s.inputs) => (
    <div>
      <h3 className="mb-1 text-xs font-medium tracking-wide text-muted uppercase">{label}</h3>
      <table className="w-full text-sm">
        <tbody>
          {rows.map((r) => (
            <tr key={r.name}>
              <td className="py-0.5 pr-4 font-mono">{r.name}</td>
              <td className="py-0.5 pr-4">{r.elemType}</td>
              <td className="py-0.5 font-mono text-muted">{shape(r.shape)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
  return (
    <div className="grid gap-6 p-5 md:grid-cols-2" data-testid="signature">
      {io("Inputs", s.inputs)}
      {io("Outputs", s.outputs)}
      <dl className="grid grid-cols-[max-content_1fr] gap-x-6 gap-y-1 text-sm">
        <dt className="text-muted">onnxruntime</dt>
        <dd>
          {s.runtime.loadable ? (
            <Badge tone="passing">loads</Badge>
          ) : (
            <Badge tone="failing" title={s.runtime.error}>
              does not load
            </Badge>
          )}
        </dd>
        <dt className="text-muted">IR version</dt>
        <dd>{s.irVersion}</dd>
        <dt className="text-muted">Opsets</dt>
        <dd>{s.opsets.map((o) => `${o.domain} ${o.version}`).join(", ")}</dd>
        <dt className="text-muted">Producer</dt>
        <dd>{[s.producer.name, s.producer.version].filter(Boolean).join(" ") || "—"}</dd>
        <dt className="text-muted">Nodes</dt>
        <dd>{s.nodeCount}</dd>
        <dt className="text-muted">Initializers</dt>
        <dd>
          {s.initializerCount} ({bytes(s.initializerBytes)})
        </dd>
        <dt className="text-muted">File</dt>
        <dd>
          {bytes(v.data.sizeBytes)} · <span className="font-mono text-xs">{v.data.sha256.slice(0, 16)}…</span>
        </dd>
        {v.data.gitCommit && (
          <>
            <dt className="text-muted">Commit</dt>
            <dd className="font-mono text-xs">{v.data.gitCommit}</dd>
          </>
        )}
      </dl>
      <div>
        <h3 className="mb-1 text-xs font-medium tracking-wide text-muted uppercase">Operators</h3>
        <div className="flex flex-wrap gap-1">
          {Object.entries(s.opCounts)
            .sort((a, b) => b[1] - a[1])
            .map(([op, n]) => (
              <Badge key={op}>
                {op} × {n}
              </Badge>
            ))}
        </div>
        {Object.keys(s.metadata).length > 0 && (
          <>
            <h3 className="mt-3 mb-1 text-xs font-medium tracking-wide text-muted uppercase">Metadata</h3>
            <dl className="grid grid-cols-[max-content_1fr] gap-x-4 text-xs">
              {Object.entries(s.metadata).map(([k, val]) => (
                <div key={k} className="contents">
                  <dt className="font-mono text-muted">{k}</dt>
                  <dd className="break-all">{val}</dd>
                </div>
              ))}
            </dl>
          </>
        )}
      </div>
      {v.data.description && (
        <div className="md:col-span-2">
          <h3 className="mb-1 text-xs font-medium tracking-wide text-muted uppercase">Description</h3>
          <p className="text-sm whitespace-pre-wrap">{v.data.description}</p>
        </div>
      )}
    </div>
  );
}

function AliasControl({ name, versions }: { name: string; versions: number[] }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const policies = useQuery(trpc.policies.list.queryOptions({ workspaceId: workspace.id }));
  const [alias, setAlias] = useState("champion");
  const [version, setVersion] = useState(versions[0] ?? 1);
  const set = useMutation(
    trpc.models.setAlias.mutationOptions({
      onSuccess: (r) => toast.success(r.changed ? `${r.alias} now points at v${r.version}.` : `${r.alias} already points at v${r.version}.`),
      onError: (err) => toast.error(errorMessage(err)),
    }),
  );
  const isProtected = (policies.data ?? []).some((p) => p.active && p.alias === alias.trim());
  const protectedAliases = (policies.data ?? []).filter((p) => p.active).map((p) => p.alias);
  return (
    <form
      className="flex flex-wrap items-center gap-2 text-sm"
      onSubmit={(e) => {
        e.preventDefault();
        set.mutate({ workspaceId: workspace.id, name, alias: alias.trim(), version });
      }}
    >
      <span className="text-muted">Point</span>
      <Input aria-label="Alias" className="h-8 w-32" value={alias} onChange={(e) => setAlias(e.target.value)} list="alias-suggestions" />
      <datalist id="alias-suggestions">
        <option value="champion" />
        <option value="candidate" />
        {protectedAliases.map((a) => (
          <option key={a} value={a} />
        ))}
      </datalist>
      <span className="text-muted">at</span>
      <Select aria-label="Version for alias" className="h-8" value={version} onChange={(e) => setVersion(Number(e.target.value))}>
        {versions.map((v) => (
          <option key={v} value={v}>
            v{v}
          </option>
        ))}
      </Select>
      {isProtected ? (
        <Link
          className="inline-flex h-8 items-center rounded-md border border-border px-3 text-sm font-medium hover:bg-subtle"
          href={`/w/${workspace.slug}/reviews/new?model=${encodeURIComponent(name)}&version=${version}&alias=${encodeURIComponent(alias.trim())}`}
          title={`"${alias.trim()}" is protected by an approval policy: it moves when a review is approved.`}
        >
          Request review…
        </Link>
      ) : (
        <Button size="sm" variant="secondary" type="submit" loading={set.isPending}>
          Set alias
        </Button>
      )}
    </form>
  );
}

export function ModelPage({ name }: { name: string }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const router = useRouter();
  const canWrite = useCan("model:write");
  const canAlias = useCan("model:alias");
  const m = useQuery(trpc.models.byName.queryOptions({ workspaceId: workspace.id, name }));
  const search = useSearchParams();
  const [selected, setSelected] = useState<number | null>(Number(search.get("v")) || null);
  const [compare, setCompare] = useState<number[]>([]);
  if (!ready(m)) return <QueryWait query={m} rows={8} />;
  const current = selected ?? m.data.versions[0]?.version ?? null;
  const aliasesOf = (v: number) => m.data.aliases.filter((a) => a.version === v);
  return (
    <>
      <Breadcrumb href={`/w/${workspace.slug}/models`} label="Models" />
      <PageHeader
        title={m.data.name}
        description={`${m.data.versions.length} version${m.data.versions.length === 1 ? "" : "s"}${m.data.aliases.length ? " · " + m.data.aliases.map((a) => `${a.alias} → v${a.version}`).join(", ") : ""}`}
        actions={
          <div className="flex items-center gap-3">
            <Link
              className="text-sm text-accent hover:underline"
              href={`/w/${workspace.slug}/governance/audit?q=${encodeURIComponent(`"name": "${m.data.name}"`)}`}
            >
              Audit history
            </Link>
            {canWrite ? (
              <UploadModelDialog defaultName={m.data.name} />
            ) : (
              <LockedAction permission="model:write" action="register model versions">
                New version
              </LockedAction>
            )}
          </div>
        }
      />
      <div className="space-y-6">
        <InventoryCard name={name} />
        <Card>
          <CardHeader
            title="Versions"
            description="Click a version to see its signature; tick two to compare them."
            actions={
              <Button
                size="sm"
                variant="secondary"
                disabled={compare.length !== 2}
                onClick={() => {
                  const [a, b] = [...compare].sort((x, y) => x - y);
                  router.push(`/w/${workspace.slug}/models/${encodeURIComponent(name)}/compare?a=${a}&b=${b}`);
                }}
              >
                <GitCompare className="size-4" aria-hidden /> Compare
              </Button>
            }
          />
          <div className="overflow-x-auto">
            <table className="w-full text-sm" data-testid="versions-table">
              <thead className="bg-subtle text-left text-xs text-muted">
                <tr>
                  <th className="w-10 px-4 py-2" aria-label="Compare" />
                  <th className="px-4 py-2 font-medium">Version</th>
                  <th className="px-4 py-2 font-medium">Aliases</th>
                  <th className="px-4 py-2 font-medium">Metrics</th>
                  <th className="px-4 py-2 font-medium">Trained on</th>
                  <th className="px-4 py-2 font-medium">Runtime</th>
                  <th className="px-4 py-2 font-medium">Registered</th>
                </tr>
              </thead>
              <tbody className="divide-y divide-border">
                {m.data.versions.map((v) => (
                  <tr key={v.id} className={v.version === current ? "bg-accent/5" : "cursor-pointer hover:bg-subtle/60"} onClick={() => setSelected(v.version)}>
                    <td className="px-4 py-2" onClick={(e) => e.stopPropagation()}>
                      <input
                        type="checkbox"
                        aria-label={`Compare v${v.version}`}
                        checked={compare.includes(v.version)}
                        onChange={(e) => setCompare((c) => (e.target.checked ? [...c, v.version].slice(-2) : c.filter((x) => x !== v.version)))}
                      />
                    </td>
                    <td className="px-4 py-2 font-medium">
                      <button type="button" className="hover:underline" onClick={() => setSelected(v.version)}>
                        v{v.version}
                      </button>
                      {v.parent && (
                        <span className="ml-2 text-xs text-muted">
                          from {v.parent.model === name ? `v${v.parent.version}` : `${v.parent.model}@${v.parent.version}`}
                        </span>
                      )}
                    </td>
                    <td className="space-x-1 px-4 py-2">
                      {aliasesOf(v.version).map((a) => (
                        <Badge key={a.alias} tone={a.alias === "production" ? "serving" : "neutral"}>
                          {a.alias}
                        </Badge>
                      ))}
                    </td>
                    <td className="px-4 py-2 font-mono text-xs">
                      {Object.entries(v.metrics)
                        .map(([k, val]) => `${k}=${Number(val).toPrecision(3)}`)
                        .join("  ") || "—"}
                    </td>
                    <td className="px-4 py-2 text-xs">
                      {v.datasets.map((d) => `${d.role === "eval" ? "eval " : ""}${d.datasetName}@${d.datasetVersion}`).join(", ") || "—"}
                    </td>
                    <td className="px-4 py-2">{v.loadable ? <Badge tone="passing">loads</Badge> : <Badge tone="failing">fails to load</Badge>}</td>
                    <td className="px-4 py-2 text-muted">
                      <TimeAgo date={v.createdAt} /> {v.createdBy ? `by ${v.createdBy}` : ""}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {canAlias && (
            <div className="border-t border-border px-5 py-3">
              <AliasControl name={name} versions={m.data.versions.map((v) => v.version)} />
            </div>
          )}
        </Card>
        <div className="grid gap-6 lg:grid-cols-2">
          <Card>
            <CardHeader title="Metrics across versions" />
            <MetricsChart versions={m.data.versions} />
          </Card>
          <Card>
            <CardHeader title="Lineage" description="Datasets → versions → aliases" />
            <LineageGraph model={m.data.name} versions={m.data.versions} aliases={m.data.aliases} />
          </Card>
        </div>
        {current !== null && <VersionChecks name={name} version={current} />}
        {current !== null && (
          <Card>
            <CardHeader
              title={`Signature of v${current}`}
              actions={
                <div className="flex items-center gap-3">
                  <Link
                    className="text-sm text-accent hover:underline"
                    href={`/w/${workspace.slug}/models/${encodeURIComponent(name)}/versions/${current}/report`}
                  >
                    Compliance report
                  </Link>
                  <DownloadButton kind="models" name={name} version={current} />
                </div>
              }
            />
            <Signature name={name} version={current} />
          </Card>
        )}
      </div>
    </>
  );
}

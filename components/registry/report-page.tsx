"use client";

import { useQuery } from "@tanstack/react-query";
import { FileDown } from "lucide-react";
import Link from "next/link";
import { useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, useTRPC } from "~/components/trpc/client";
import { Badge } from "~/components/ui/badge";
import { Card, CardHeader } from "~/components/ui/card";
import { ErrorState, PageHeader, Skeleton } from "~/components/ui/states";
import { formatBytes as bytes } from "~/server/shared/format";

const STATUS_TONE = { complete: "passing", partial: "warning", missing: "failing" } as const;

export function ReportPage({ name, version }: { name: string; version: number }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const r = useQuery(trpc.governance.report.queryOptions({ workspaceId: workspace.id, name, version }));
  if (r.isPending) return <Skeleton rows={10} />;
  if (r.isError) return <ErrorState message={errorMessage(r.error)} onRetry={() => void r.refetch()} />;
  const d = r.data;
  const v = d.version;
  return (
    <>
      <div className="mb-2 text-sm text-muted">
        <Link href={`/w/${workspace.slug}/models`} className="hover:underline">Models</Link> /{" "}
        <Link href={`/w/${workspace.slug}/models/${encodeURIComponent(name)}`} className="hover:underline">{name}</Link> /
      </div>
      <PageHeader
        title={`Report: ${name} v${version}`}
        description={`For auditors and regulators. Generated ${d.generatedAt.toISOString().slice(0, 19).replace("T", " ")} UTC.`}
        actions={
          <a
            className="inline-flex h-9 items-center gap-2 rounded-md bg-accent px-4 text-sm font-medium text-accent-fg"
            href={`/api/v1/workspaces/${workspace.slug}/models/${encodeURIComponent(name)}/versions/${version}/report?format=pdf`}
            data-testid="report-pdf"
          >
            <FileDown className="size-4" aria-hidden /> Download PDF
          </a>
        }
      />
      <div className="space-y-6" data-testid="report">
        <Card>
          <CardHeader title="Model card" />
          <div className="space-y-2 p-5 text-sm">
            <p className="whitespace-pre-wrap">{v.description ?? "No description recorded."}</p>
            <p className="text-amber-700 dark:text-amber-300">Intended use and limitations: not recorded yet (model cards come with review rooms).</p>
            <p className="font-mono text-xs text-muted">sha256 {v.sha256} · {bytes(v.sizeBytes)}{v.gitCommit ? ` · commit ${v.gitCommit}` : ""}</p>
          </div>
        </Card>
        <Card>
          <CardHeader title="Training and evaluation data" />
          <table className="w-full text-sm">
            <thead className="bg-subtle text-left text-xs text-muted"><tr><th className="px-5 py-2 font-medium">Role</th><th className="px-5 py-2 font-medium">Dataset</th><th className="px-5 py-2 font-medium text-right">Rows</th><th className="px-5 py-2 font-medium text-right">Columns</th><th className="px-5 py-2 font-medium">sha256</th></tr></thead>
            <tbody className="divide-y divide-border">
              {d.data.length === 0 && <tr><td colSpan={5} className="px-5 py-4 text-center text-muted">No dataset versions linked.</td></tr>}
              {d.data.map((x) => (
                <tr key={`${x.role}${x.name}${x.version}`}>
                  <td className="px-5 py-2">{x.role}</td>
                  <td className="px-5 py-2"><Link className="text-accent hover:underline" href={`/w/${workspace.slug}/datasets/${encodeURIComponent(x.name)}`}>{x.name}@{x.version}</Link></td>
                  <td className="px-5 py-2 text-right tabular-nums">{x.rows.toLocaleString("en")}</td>
                  <td className="px-5 py-2 text-right tabular-nums">{x.columns}</td>
                  <td className="px-5 py-2 font-mono text-xs text-muted">{x.sha256.slice(0, 16)}…</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Card>
        <Card>
          <CardHeader title="Validation evidence" />
          <div className="p-5 text-sm">
            {Object.keys(v.metrics).length ? Object.entries(v.metrics).map(([k, x]) => <Badge key={k} className="mr-1">{k} = {x}</Badge>) : <span className="text-muted">No metrics recorded.</span>}
            <p className="mt-2 text-amber-700 dark:text-amber-300">Checks, fairness and robustness come with validation pipelines; reviews, deployments and monitoring with their areas.</p>
          </div>
        </Card>
        {d.frameworks.map((f) => (
          <Card key={f.id}>
            <CardHeader title={f.name} description="What exists and what is missing, mapped to the framework's headings." />
            <table className="w-full text-sm" data-testid={`framework-${f.id}`}>
              <tbody className="divide-y divide-border">
                {f.items.map((i) => (
                  <tr key={i.id}>
                    <td className="w-28 px-5 py-2 align-top"><Badge tone={STATUS_TONE[i.status]}>{i.status}</Badge></td>
                    <td className="px-5 py-2">
                      <div className="font-medium">{i.title}</div>
                      <div className="text-xs text-muted">{i.evidence.map((e) => `${e.present ? "✓" : "✗"} ${e.label}`).join(" · ")}</div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </Card>
        ))}
        <Card>
          <CardHeader title="Audit events of this version" description={d.checkpoint ? `Covered by signed checkpoint #${d.checkpoint.seq} (key ${d.checkpoint.keyId}).` : "No signed checkpoint covers these events yet."} />
          <table className="w-full text-sm">
            <tbody className="divide-y divide-border font-mono text-xs">
              {d.events.map((e) => (
                <tr key={e.seq}><td className="px-5 py-2">#{e.seq}</td><td className="px-5 py-2">{e.occurredAt.toISOString().slice(0, 19).replace("T", " ")}</td><td className="px-5 py-2">{e.action}</td><td className="px-5 py-2">{e.actorLabel}</td><td className="px-5 py-2 text-muted">{e.hash.slice(0, 16)}…</td></tr>
              ))}
            </tbody>
          </table>
        </Card>
        <Card>
          <CardHeader title="Manifest" description="The sha256 of this manifest is printed on every page of the PDF: it ties the report to the artifact, its data and the audit chain." />
          <p className="px-5 pt-4 font-mono text-xs" data-testid="manifest-hash">sha256 {d.manifestHash}</p>
          <pre className="overflow-x-auto p-5 font-mono text-xs text-muted">{JSON.stringify(d.manifest, null, 2)}</pre>
        </Card>
      </div>
    </>
  );
}

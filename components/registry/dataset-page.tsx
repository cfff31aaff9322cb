"use client";

import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { useWorkspace } from "~/components/shell/workspace-context";
import { useTRPC } from "~/components/trpc/client";
import { Badge } from "~/components/ui/badge";
import { Card, CardHeader } from "~/components/ui/card";
import { Select } from "~/components/ui/field";
import { PageHeader } from "~/components/ui/states";
import { QueryWait, ready } from "~/components/ui/query-state";
import { TimeAgo } from "~/components/ui/time";
import { DownloadButton } from "./download-button";
import { Sparkbars, TopValues } from "./histogram";
import { formatBytes as bytes } from "~/server/shared/format";
import { Breadcrumb } from "~/components/ui/breadcrumb";

const fmt = (v: number | string | null | undefined) =>
  v === null || v === undefined ? "—" : typeof v === "number" ? (Number.isInteger(v) ? v.toLocaleString("en") : v.toPrecision(4)) : v;

function Profile({ name, version }: { name: string; version: number }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const v = useQuery(trpc.datasets.version.queryOptions({ workspaceId: workspace.id, name, version }));
  if (!ready(v)) return <QueryWait query={v} rows={6} />;
  const p = v.data.profile;
  return (
    <>
      <div className="flex flex-wrap gap-x-8 gap-y-1 border-b border-border px-5 py-3 text-sm">
        <span>
          <span className="text-muted">Rows</span> {p.rows.toLocaleString("en")}
        </span>
        <span>
          <span className="text-muted">Columns</span> {p.columns.length}
        </span>
        <span>
          <span className="text-muted">Format</span> {v.data.format}
        </span>
        <span>
          <span className="text-muted">Size</span> {bytes(v.data.sizeBytes)}
        </span>
        <span className="font-mono text-xs text-muted" title={v.data.sha256}>
          sha256 {v.data.sha256.slice(0, 16)}…
        </span>
      </div>
      <div className="overflow-x-auto">
        <table className="w-full text-sm" data-testid="profile-table">
          <thead className="bg-subtle text-left text-xs text-muted">
            <tr>
              <th className="px-4 py-2 font-medium">Column</th>
              <th className="px-4 py-2 font-medium">Type</th>
              <th className="px-4 py-2 font-medium text-right">Nulls</th>
              <th className="px-4 py-2 font-medium text-right">Distinct</th>
              <th className="px-4 py-2 font-medium text-right">Min</th>
              <th className="px-4 py-2 font-medium text-right">Mean ± std</th>
              <th className="px-4 py-2 font-medium text-right">p25 / p50 / p75</th>
              <th className="px-4 py-2 font-medium text-right">Max</th>
              <th className="px-4 py-2 font-medium">Distribution</th>
            </tr>
          </thead>
          <tbody className="divide-y divide-border">
            {p.columns.map((c) => (
              <tr key={c.name}>
                <td className="px-4 py-2 font-medium">{c.name}</td>
                <td className="px-4 py-2">
                  <Badge>{c.type.toLowerCase()}</Badge>
                </td>
                <td className="px-4 py-2 text-right tabular-nums">
                  {c.nulls > 0 ? (
                    <span className="text-amber-700 dark:text-amber-300">
                      {c.nulls.toLocaleString("en")} ({((c.nulls / p.rows) * 100).toFixed(1)}%)
                    </span>
                  ) : (
                    "0"
                  )}
                </td>
                <td className="px-4 py-2 text-right tabular-nums">{fmt(c.distinct)}</td>
                <td className="px-4 py-2 text-right tabular-nums">{fmt(c.min)}</td>
                <td className="px-4 py-2 text-right tabular-nums">{c.mean !== undefined ? `${fmt(c.mean)} ± ${fmt(c.std)}` : "—"}</td>
                <td className="px-4 py-2 text-right tabular-nums">
                  {c.quantiles ? `${fmt(c.quantiles.p25)} / ${fmt(c.quantiles.p50)} / ${fmt(c.quantiles.p75)}` : "—"}
                </td>
                <td className="px-4 py-2 text-right tabular-nums">{fmt(c.max)}</td>
                <td className="px-4 py-2">
                  {c.histogram ? (
                    <Sparkbars counts={c.histogram.counts} label={`Histogram of ${c.name}`} />
                  ) : c.top ? (
                    <TopValues top={c.top} total={c.count} />
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

export function DatasetPage({ name }: { name: string }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const ds = useQuery(trpc.datasets.byName.queryOptions({ workspaceId: workspace.id, name }));
  const [selected, setSelected] = useState<number | null>(null);
  if (!ready(ds)) return <QueryWait query={ds} rows={8} />;
  const version = selected ?? ds.data.versions[0]?.version ?? null;
  return (
    <>
      <Breadcrumb href={`/w/${workspace.slug}/datasets`} label="Datasets" />
      <PageHeader
        title={ds.data.name}
        description={ds.data.description ?? `${ds.data.versions.length} version${ds.data.versions.length === 1 ? "" : "s"}`}
        actions={
          <Link
            className="text-sm text-accent hover:underline"
            href={`/w/${workspace.slug}/governance/audit?q=${encodeURIComponent(`"name": "${ds.data.name}"`)}`}
          >
            Audit history
          </Link>
        }
      />
      <div className="space-y-6">
        <Card>
          <CardHeader title="Versions" />
          <table className="w-full text-sm">
            <thead className="bg-subtle text-left text-xs text-muted">
              <tr>
                <th className="px-5 py-2 font-medium">Version</th>
                <th className="px-5 py-2 font-medium">File</th>
                <th className="px-5 py-2 font-medium text-right">Rows</th>
                <th className="px-5 py-2 font-medium text-right">Columns</th>
                <th className="px-5 py-2 font-medium text-right">Size</th>
                <th className="px-5 py-2 font-medium">sha256</th>
                <th className="px-5 py-2 font-medium">Uploaded</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-border">
              {ds.data.versions.map((v) => (
                <tr
                  key={v.id}
                  className={v.version === version ? "bg-accent/5" : "cursor-pointer hover:bg-subtle/60"}
                  onClick={() => setSelected(v.version)}
                  tabIndex={0}
                  onKeyDown={(e) => e.key === "Enter" && setSelected(v.version)}
                  aria-selected={v.version === version}
                >
                  <td className="px-5 py-2.5 font-medium">v{v.version}</td>
                  <td className="px-5 py-2.5">{v.filename}</td>
                  <td className="px-5 py-2.5 text-right tabular-nums">{v.rowCount.toLocaleString("en")}</td>
                  <td className="px-5 py-2.5 text-right tabular-nums">{v.columns}</td>
                  <td className="px-5 py-2.5 text-right tabular-nums">{bytes(v.sizeBytes)}</td>
                  <td className="px-5 py-2.5 font-mono text-xs text-muted">{v.sha256.slice(0, 12)}</td>
                  <td className="px-5 py-2.5 text-muted">
                    <TimeAgo date={v.createdAt} /> {v.createdBy ? `by ${v.createdBy}` : ""}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </Card>
        {version !== null && (
          <Card>
            <CardHeader
              title={`Profile of v${version}`}
              actions={
                <div className="flex items-center gap-3">
                  <Select aria-label="Version" value={version} onChange={(e) => setSelected(Number(e.target.value))}>
                    {ds.data.versions.map((v) => (
                      <option key={v.id} value={v.version}>
                        v{v.version}
                      </option>
                    ))}
                  </Select>
                  <DownloadButton kind="datasets" name={name} version={version} />
                </div>
              }
            />
            <Profile name={name} version={version} />
          </Card>
        )}
      </div>
    </>
  );
}

"use client";

import { useInfiniteQuery, useQueryClient } from "@tanstack/react-query";
import { Database } from "lucide-react";
import Link from "next/link";
import { useState } from "react";
import { toast } from "sonner";
import { useCan, useWorkspace } from "~/components/shell/workspace-context";
import { useTRPC } from "~/components/trpc/client";
import { LoadMore, PAGED, pagedItems } from "~/components/ui/load-more";
import { Button } from "~/components/ui/button";
import { Card, CardHeader } from "~/components/ui/card";
import { Field, Input } from "~/components/ui/field";
import { EmptyState, PageHeader } from "~/components/ui/states";
import { QueryWait, ready } from "~/components/ui/query-state";
import { TimeAgo } from "~/components/ui/time";
import { RegistryName } from "~/server/shared/registry.schema";
import { Dropzone } from "./dropzone";
import { ProgressBar, uploadWithProgress } from "./upload";
import { LockedAction } from "~/components/ui/locked";

function UploadDataset() {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const qc = useQueryClient();
  const [name, setName] = useState("");
  const [file, setFile] = useState<File | null>(null);
  const [progress, setProgress] = useState<number | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    const n = RegistryName.safeParse(name || file?.name.replace(/\.(csv|parquet|pq)$/i, "") || "");
    const next: Record<string, string> = {};
    if (!n.success) next.name = n.error.issues[0]!.message;
    if (!file) next.file = "Choose a CSV or Parquet file.";
    setErrors(next);
    if (!n.success || !file) return;
    setProgress(0);
    try {
      const r = await uploadWithProgress(`/api/v1/workspaces/${workspace.slug}/datasets/${encodeURIComponent(n.data)}/versions`, file, {}, setProgress);
      if (!r.ok) {
        setErrors({ [r.data.error?.field === "name" ? "name" : "file"]: r.data.error?.message ?? "The upload failed." });
        return;
      }
      toast.success(
        r.data.created
          ? `${n.data} version ${String(r.data.version)} uploaded.`
          : `Same bytes as ${n.data} version ${String(r.data.version)}; nothing new stored.`,
      );
      setFile(null);
      setName("");
      void qc.invalidateQueries({ queryKey: trpc.datasets.pathKey() });
    } catch (err) {
      setErrors({ file: err instanceof Error ? err.message : "The upload failed." });
    } finally {
      setProgress(null);
    }
  }

  return (
    <Card>
      <CardHeader
        title="Upload a dataset version"
        description="CSV or Parquet. The same bytes again give the same version. Steward infers the schema and a profile."
      />
      <form onSubmit={submit} noValidate className="grid gap-4 p-5 md:grid-cols-[1fr_2fr_auto] md:items-start">
        <Field label="Dataset name" htmlFor="ds-name" error={errors.name} hint="New name: a new dataset. Existing: its next version.">
          <Input
            id="ds-name"
            value={name}
            onChange={(e) => setName(e.target.value)}
            placeholder={file ? file.name.replace(/\.\w+$/, "") : "credit-train"}
            invalid={!!errors.name}
          />
        </Field>
        <div className="space-y-1.5">
          <Dropzone accept=".csv,.parquet" file={file} onFile={setFile} label="Choose a dataset file" />
          {errors.file && (
            <p role="alert" className="text-sm text-danger">
              {errors.file}
            </p>
          )}
          {progress !== null && <ProgressBar value={progress} />}
        </div>
        <Button type="submit" className="md:mt-6" loading={progress !== null}>
          Upload
        </Button>
      </form>
    </Card>
  );
}

export function DatasetsPage() {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const canWrite = useCan("model:write");
  const list = useInfiniteQuery(trpc.datasets.page.infiniteQueryOptions({ workspaceId: workspace.id, limit: 50 }, PAGED));
  const rows = pagedItems(list);
  return (
    <>
      <PageHeader title="Datasets" description="Every version keyed by the sha256 of its bytes, with its schema and profile." />
      <div className="space-y-6">
        {canWrite ? (
          <UploadDataset />
        ) : (
          <LockedAction permission="model:write" action="upload datasets">
            Upload dataset
          </LockedAction>
        )}
        <Card>
          {!ready(list) ? (
            <QueryWait query={list} rows={4} />
          ) : rows.length === 0 ? (
            <EmptyState title="No datasets yet" icon={<Database className="size-8" aria-hidden />}>
              Upload a CSV or Parquet file above, or from a terminal: <code>steward datasets push data.csv --name credit-train</code>.
            </EmptyState>
          ) : (
            <>
              <table className="w-full text-sm" data-testid="datasets-table">
                <thead className="bg-subtle text-left text-xs text-muted">
                  <tr>
                    <th className="px-5 py-2 font-medium">Name</th>
                    <th className="px-5 py-2 font-medium text-right">Versions</th>
                    <th className="px-5 py-2 font-medium text-right">Latest</th>
                    <th className="px-5 py-2 font-medium">Last upload</th>
                  </tr>
                </thead>
                <tbody className="divide-y divide-border">
                  {rows.map((d) => (
                    <tr key={d.id} className="hover:bg-subtle/60">
                      <td className="px-5 py-2.5 font-medium">
                        <Link className="text-accent hover:underline" href={`/w/${workspace.slug}/datasets/${encodeURIComponent(d.name)}`}>
                          {d.name}
                        </Link>
                      </td>
                      <td className="px-5 py-2.5 text-right tabular-nums">{d.versions}</td>
                      <td className="px-5 py-2.5 text-right tabular-nums">{d.latestVersion ? `v${d.latestVersion}` : "—"}</td>
                      <td className="px-5 py-2.5 text-muted">{d.lastUploadAt ? <TimeAgo date={d.lastUploadAt} /> : "—"}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <LoadMore query={list} shown={rows.length} noun="datasets" />
            </>
          )}
        </Card>
      </div>
    </>
  );
}

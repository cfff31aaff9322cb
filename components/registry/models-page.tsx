"use client";

import { useInfiniteQuery, useQueryClient } from "@tanstack/react-query";
import { Boxes, Plus } from "lucide-react";
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { useState } from "react";
import { toast } from "sonner";
import { useCan, useWorkspace } from "~/components/shell/workspace-context";
import { useTRPC } from "~/components/trpc/client";
import { LoadMore, PAGED, pagedItems } from "~/components/ui/load-more";
import { Badge } from "~/components/ui/badge";
import { Button } from "~/components/ui/button";
import { Card } from "~/components/ui/card";
import { Dialog } from "~/components/ui/dialog";
import { Field, Input } from "~/components/ui/field";
import { EmptyState, PageHeader } from "~/components/ui/states";
import { QueryWait, ready } from "~/components/ui/query-state";
import { TimeAgo } from "~/components/ui/time";
import { RegistryName } from "~/server/shared/registry.schema";
import { Dropzone } from "./dropzone";
import { ProgressBar, uploadWithProgress } from "./upload";
import { LockedAction } from "~/components/ui/locked";

/** "auc=0.91, f1=0.8" → { auc: 0.91, f1: 0.8 }; numbers where they parse, else strings. */
function pairs(text: string, numeric: boolean): Record<string, string | number> | string {
  const out: Record<string, string | number> = {};
  for (const part of text
    .split(/[,\n]/)
    .map((p) => p.trim())
    .filter(Boolean)) {
    const eq = part.indexOf("=");
    if (eq < 1) return `"${part}" is not name=value.`;
    const k = part.slice(0, eq).trim();
    const raw = part.slice(eq + 1).trim();
    const n = Number(raw);
    if (numeric && (raw === "" || !Number.isFinite(n))) return `${k}: "${raw}" is not a number.`;
    out[k] = raw !== "" && Number.isFinite(n) ? n : raw;
  }
  return out;
}

export function UploadModelDialog({ defaultName, onDone, initialOpen }: { defaultName?: string; onDone?: () => void; initialOpen?: boolean }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const qc = useQueryClient();
  const [open, setOpen] = useState(initialOpen ?? false);
  const [name, setName] = useState(defaultName ?? "");
  const [file, setFile] = useState<File | null>(null);
  const [metrics, setMetrics] = useState("");
  const [params, setParams] = useState("");
  const [datasets, setDatasets] = useState("");
  const [description, setDescription] = useState("");
  const [commit, setCommit] = useState("");
  const [progress, setProgress] = useState<number | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    const next: Record<string, string> = {};
    const n = RegistryName.safeParse(name);
    if (!n.success) next.name = n.error.issues[0]!.message;
    if (!file) next.file = "Choose an .onnx file, or a .zip/.tar bundle of model.onnx and its external data files.";
    const m = pairs(metrics, true);
    if (typeof m === "string") next.metrics = m;
    const p = pairs(params, false);
    if (typeof p === "string") next.params = p;
    setErrors(next);
    if (Object.keys(next).length || !file || !n.success || typeof m === "string" || typeof p === "string") return;
    const meta = {
      ...(description ? { description } : {}),
      ...(Object.keys(m).length ? { metrics: m } : {}),
      ...(Object.keys(p).length ? { params: p } : {}),
      ...(commit ? { gitCommit: commit } : {}),
      ...(datasets.trim()
        ? {
            datasets: datasets
              .split(/[,\n]/)
              .map((s) => s.trim())
              .filter(Boolean)
              .map((s) => (s.startsWith("eval:") ? { ref: s.slice(5), role: "eval" } : { ref: s.replace(/^train:/, ""), role: "train" })),
          }
        : {}),
    };
    setProgress(0);
    try {
      const r = await uploadWithProgress(`/api/v1/workspaces/${workspace.slug}/models/${encodeURIComponent(n.data)}/versions`, file, meta, setProgress);
      if (!r.ok) {
        const field = r.data.error?.field ?? "file";
        const key = field.startsWith("metadata.metrics")
          ? "metrics"
          : field.startsWith("metadata.params")
            ? "params"
            : field.startsWith("metadata.datasets") || field === "datasets"
              ? "datasets"
              : field.startsWith("metadata.gitCommit")
                ? "commit"
                : field === "name"
                  ? "name"
                  : "file";
        setErrors({ [key]: r.data.error?.message ?? "The upload failed." });
        return;
      }
      toast.success(
        r.data.created
          ? `${n.data} version ${String(r.data.version)} registered.`
          : `Same bytes as ${n.data} v${String(r.data.version)}; nothing new registered.`,
      );
      void qc.invalidateQueries({ queryKey: trpc.models.pathKey() });
      setOpen(false);
      setFile(null);
      onDone?.();
    } catch (err) {
      setErrors({ file: err instanceof Error ? err.message : "The upload failed." });
    } finally {
      setProgress(null);
    }
  }

  return (
    <>
      <Button onClick={() => setOpen(true)}>
        <Plus className="size-4" aria-hidden /> {defaultName ? "New version" : "Register a model"}
      </Button>
      <Dialog
        open={open}
        onOpenChange={setOpen}
        title={defaultName ? `New version of ${defaultName}` : "Register a model version"}
        description="An ONNX file and what you know about it. Steward reads its signature in a sandboxed process."
      >
        <form onSubmit={submit} noValidate className="space-y-3">
          <Field label="Model name" htmlFor="m-name" error={errors.name}>
            <Input
              id="m-name"
              value={name}
              onChange={(e) => setName(e.target.value)}
              disabled={!!defaultName}
              placeholder="credit-risk"
              invalid={!!errors.name}
            />
          </Field>
          <div className="space-y-1.5">
            <Dropzone accept=".onnx,.zip,.tar,.tgz,.gz" file={file} onFile={setFile} label="Choose an ONNX file or a bundle (.zip, .tar, .tar.gz)" />
            {errors.file && (
              <p role="alert" className="text-sm text-danger">
                {errors.file}
              </p>
            )}
          </div>
          <Field label="Metrics" htmlFor="m-metrics" error={errors.metrics} hint="auc=0.91, accuracy=0.87">
            <Input id="m-metrics" value={metrics} onChange={(e) => setMetrics(e.target.value)} invalid={!!errors.metrics} />
          </Field>
          <Field label="Parameters" htmlFor="m-params" error={errors.params} hint="lr=0.01, epochs=200">
            <Input id="m-params" value={params} onChange={(e) => setParams(e.target.value)} invalid={!!errors.params} />
          </Field>
          <Field label="Datasets" htmlFor="m-datasets" error={errors.datasets} hint="train:credit-train@1, eval:credit-eval@1">
            <Input id="m-datasets" value={datasets} onChange={(e) => setDatasets(e.target.value)} invalid={!!errors.datasets} />
          </Field>
          <Field label="Git commit" htmlFor="m-commit" error={errors.commit}>
            <Input id="m-commit" value={commit} onChange={(e) => setCommit(e.target.value)} invalid={!!errors.commit} />
          </Field>
          <Field label="Description (markdown)" htmlFor="m-desc">
            <textarea
              id="m-desc"
              value={description}
              onChange={(e) => setDescription(e.target.value)}
              rows={3}
              className="w-full rounded-md border border-border bg-panel px-3 py-2 text-sm"
            />
          </Field>
          {progress !== null && <ProgressBar value={progress} />}
          <div className="flex justify-end gap-2">
            <Button type="button" variant="secondary" onClick={() => setOpen(false)}>
              Cancel
            </Button>
            <Button type="submit" loading={progress !== null}>
              Register
            </Button>
          </div>
        </form>
      </Dialog>
    </>
  );
}

export function ModelsPage() {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const canWrite = useCan("model:write");
  // ?upload=<anything> (the palette's "New model version…") opens the upload dialog; a new value opens it again.
  const upload = useSearchParams().get("upload");
  const list = useInfiniteQuery(trpc.models.page.infiniteQueryOptions({ workspaceId: workspace.id, limit: 50 }, PAGED));
  const rows = pagedItems(list);
  return (
    <>
      <PageHeader
        title="Models"
        description="Every ONNX version with its signature, metrics, lineage and aliases."
        actions={
          canWrite ? (
            <UploadModelDialog key={upload ?? ""} initialOpen={!!upload} />
          ) : (
            <LockedAction permission="model:write" action="register models">
              Register a model
            </LockedAction>
          )
        }
      />
      <Card>
        {!ready(list) ? (
          <QueryWait query={list} rows={4} />
        ) : rows.length === 0 ? (
          <EmptyState title="No models yet" icon={<Boxes className="size-8" aria-hidden />}>
            Register an ONNX file here, or from CI: <code>steward models push model.onnx --name credit-risk --metric auc=0.91</code>.
          </EmptyState>
        ) : (
          <>
            <table className="w-full text-sm" data-testid="models-table">
              <thead className="bg-subtle text-left text-xs text-muted">
                <tr>
                  <th className="px-5 py-2 font-medium">Model</th>
                  <th className="px-5 py-2 font-medium text-right">Versions</th>
                  <th className="px-5 py-2 font-medium">Aliases</th>
                  <th className="px-5 py-2 font-medium">Updated</th>
                </tr>
              </thead>
              <tbody className="divide-y divide-border">
                {rows.map((m) => (
                  <tr key={m.id} className="hover:bg-subtle/60">
                    <td className="px-5 py-2.5 font-medium">
                      <Link className="text-accent hover:underline" href={`/w/${workspace.slug}/models/${encodeURIComponent(m.name)}`}>
                        {m.name}
                      </Link>
                    </td>
                    <td className="px-5 py-2.5 text-right tabular-nums">{m.versions}</td>
                    <td className="space-x-1 px-5 py-2.5">
                      {m.aliases.length === 0 ? (
                        <span className="text-muted">—</span>
                      ) : (
                        m.aliases.map((a) => (
                          <Badge key={a.alias} tone={a.alias === "production" ? "serving" : "neutral"}>
                            {a.alias} → v{a.version}
                          </Badge>
                        ))
                      )}
                    </td>
                    <td className="px-5 py-2.5 text-muted">{m.updatedAt ? <TimeAgo date={m.updatedAt} /> : "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <LoadMore query={list} shown={rows.length} noun="models" />
          </>
        )}
      </Card>
    </>
  );
}

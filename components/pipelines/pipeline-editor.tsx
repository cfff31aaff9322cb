"use client";

import { yaml } from "@codemirror/lang-yaml";
import { linter, lintGutter, type Diagnostic } from "@codemirror/lint";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import CodeMirror from "@uiw/react-codemirror";
import { Play, Save } from "lucide-react";
import { useResolvedTheme } from "~/components/ui/use-theme";
import { useRouter } from "next/navigation";
import { useMemo, useState } from "react";
import { toast } from "sonner";
import { useCan, useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, useTRPC } from "~/components/trpc/client";
import { Button } from "~/components/ui/button";
import { Card, CardHeader } from "~/components/ui/card";
import { Field, Input, Select } from "~/components/ui/field";
import { PageHeader } from "~/components/ui/states";
import { QueryWait, ready } from "~/components/ui/query-state";
import { TimeAgo } from "~/components/ui/time";
import { DEFAULT_VALIDATE_YAML, parsePipelineYaml, STEP_TYPE_INFO, STEP_TYPES } from "~/server/shared/pipeline-spec";
import { Breadcrumb } from "~/components/ui/breadcrumb";

const NEW_TEMPLATE = `description: What this pipeline checks.
on:
  model_version: false
  # schedule: "0 3 * * *"   # nightly, with target below
# target: { model: my-model, alias: production }
inputs:
  dataset: eval
steps:
  evaluate:
    type: evaluate
    checks:
      roc_auc: { fail_below: 0.7 }
`;

function RunNow({ pipeline }: { pipeline: string }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const router = useRouter();
  const models = useQuery(trpc.models.list.queryOptions({ workspaceId: workspace.id }));
  const [model, setModel] = useState("");
  const m = useQuery({ ...trpc.models.byName.queryOptions({ workspaceId: workspace.id, name: model }), enabled: !!model });
  const [version, setVersion] = useState<number | "">("");
  const start = useMutation(
    trpc.pipelines.start.mutationOptions({
      onSuccess: (r) => {
        toast.success(`Started run #${r.number}.`);
        router.push(`/w/${workspace.slug}/pipelines/runs/${r.id}`);
      },
      onError: (e) => toast.error(errorMessage(e)),
    }),
  );
  return (
    <form
      className="flex flex-wrap items-end gap-3 px-5 py-4"
      onSubmit={(e) => {
        e.preventDefault();
        start.mutate({ workspaceId: workspace.id, pipeline, ...(model ? { model } : {}), ...(version ? { version } : {}) });
      }}
    >
      <Field label="Model" htmlFor="run-model">
        <Select id="run-model" value={model} onChange={(e) => (setModel(e.target.value), setVersion(""))}>
          <option value="">(none: command steps only)</option>
          {models.data?.map((x) => (
            <option key={x.id} value={x.name}>
              {x.name}
            </option>
          ))}
        </Select>
      </Field>
      <Field label="Version" htmlFor="run-version">
        <Select id="run-version" value={version} disabled={!model} onChange={(e) => setVersion(e.target.value ? Number(e.target.value) : "")}>
          <option value="">production</option>
          {m.data?.versions.map((v) => (
            <option key={v.version} value={v.version}>
              v{v.version}
            </option>
          ))}
        </Select>
      </Field>
      <Button type="submit" loading={start.isPending}>
        <Play className="size-4" aria-hidden /> Run now
      </Button>
    </form>
  );
}

export function PipelineEditor({ name: initialName }: { name: string | null }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const qc = useQueryClient();
  const router = useRouter();
  const { theme: resolvedTheme } = useResolvedTheme();
  const canDefine = useCan("pipeline:define");
  const canRun = useCan("pipeline:run");
  const isNew = initialName === null;
  const [viewVersion, setViewVersion] = useState<number | undefined>(undefined);
  const p = useQuery({
    ...trpc.pipelines.get.queryOptions({ workspaceId: workspace.id, name: initialName ?? "x", ...(viewVersion ? { version: viewVersion } : {}) }),
    enabled: !isNew,
  });
  const [draft, setDraft] = useState<string | null>(null);
  const [newName, setNewName] = useState("");
  const text = draft ?? (isNew ? NEW_TEMPLATE : (p.data?.yaml ?? ""));
  const parsed = useMemo(() => parsePipelineYaml(text), [text]);
  const lint = useMemo(
    () =>
      linter(
        (view): Diagnostic[] => {
          const r = parsePipelineYaml(view.state.doc.toString());
          return r.ok
            ? []
            : r.issues.map((i) => ({
                from: Math.min(i.from, view.state.doc.length),
                to: Math.min(i.to, view.state.doc.length),
                severity: "error",
                message: i.message,
              }));
        },
        { delay: 200 },
      ),
    [],
  );
  const save = useMutation(
    trpc.pipelines.save.mutationOptions({
      onSuccess: (r) => {
        toast.success(r.changed ? `Saved ${r.name} v${r.version}.` : "No changes to save.");
        setDraft(null);
        setViewVersion(undefined);
        void qc.invalidateQueries({ queryKey: trpc.pipelines.pathKey() });
        if (isNew) router.push(`/w/${workspace.slug}/pipelines/${r.name}`);
      },
      onError: (e) => toast.error(errorMessage(e)),
    }),
  );
  if (!isNew && !ready(p)) return <QueryWait query={p} rows={10} />;
  const name = isNew ? newName : initialName;
  const viewingOld = !isNew && p.data && p.data.version !== p.data.currentVersion;
  const editable = canDefine && (isNew || (p.data?.editable ?? false)) && !viewingOld;
  return (
    <>
      <Breadcrumb href={`/w/${workspace.slug}/pipelines`} label="Pipelines" />
      <PageHeader
        title={isNew ? "New pipeline" : initialName}
        description={isNew ? "Steps, what they need, and the thresholds of their checks." : `Version ${p.data!.version} of ${p.data!.currentVersion}`}
        actions={
          editable && (
            <Button
              onClick={() => save.mutate({ workspaceId: workspace.id, name, yaml: text })}
              loading={save.isPending}
              disabled={!parsed.ok || !name || (!isNew && draft === null)}
              title={!parsed.ok ? "Fix the problems in the definition first." : undefined}
            >
              <Save className="size-4" aria-hidden /> {isNew ? "Create" : "Save new version"}
            </Button>
          )
        }
      />
      <div className="grid gap-6 xl:grid-cols-[1fr_20rem]">
        <div className="space-y-6">
          {isNew && (
            <Card className="px-5 py-4">
              <Field label="Name" htmlFor="pipeline-name" hint="Lower-case letters, digits, '-' or '_'.">
                <Input id="pipeline-name" value={newName} onChange={(e) => setNewName(e.target.value)} placeholder="nightly-eval" />
              </Field>
            </Card>
          )}
          <Card>
            <CardHeader
              title="Definition"
              description={editable ? "YAML; problems are underlined as you type." : viewingOld ? "An earlier version (read only)." : "Read only."}
              actions={
                <span className="text-xs" data-testid="yaml-status">
                  {parsed.ok ? (
                    <span className="text-emerald-700 dark:text-emerald-400">Valid · {Object.keys(parsed.spec.steps).length} steps</span>
                  ) : (
                    <span className="text-danger">{parsed.issues.length} problem(s)</span>
                  )}
                </span>
              }
            />
            <div className="text-sm" data-testid="yaml-editor">
              <CodeMirror
                value={text}
                editable={editable}
                readOnly={!editable}
                height="420px"
                theme={resolvedTheme === "dark" ? "dark" : "light"}
                extensions={[yaml(), lint, lintGutter()]}
                onChange={(v) => setDraft(v)}
                aria-label="Pipeline YAML"
              />
            </div>
            {!parsed.ok && (
              <ul className="space-y-1 border-t border-border px-5 py-3 text-sm text-danger" data-testid="yaml-issues">
                {parsed.issues.slice(0, 8).map((i, k) => (
                  <li key={k}>
                    Line {i.line}, column {i.col}: {i.message}
                  </li>
                ))}
              </ul>
            )}
          </Card>
          {!isNew && canRun && (
            <Card>
              <CardHeader title="Run now" description="On a model version (defaults to the one behind production)." />
              <RunNow pipeline={initialName} />
            </Card>
          )}
        </div>
        <div className="space-y-6">
          {!isNew && p.data && (
            <Card>
              <CardHeader title="Versions" />
              <ul className="divide-y divide-border text-sm">
                {p.data.versions.map((v) => (
                  <li key={v.version}>
                    <button
                      type="button"
                      className="flex w-full items-center justify-between px-5 py-2 text-left hover:bg-subtle/60 aria-[current=true]:bg-subtle"
                      aria-current={v.version === p.data.version}
                      onClick={() => (setDraft(null), setViewVersion(v.version === p.data.currentVersion ? undefined : v.version))}
                    >
                      <span>v{v.version}</span>
                      <span className="text-xs text-muted">
                        {v.createdBy ?? "Steward"} · <TimeAgo date={v.createdAt} />
                      </span>
                    </button>
                  </li>
                ))}
              </ul>
            </Card>
          )}
          <Card>
            <CardHeader title="Step types" />
            <dl className="space-y-2 px-5 py-4 text-xs">
              {STEP_TYPES.map((t) => (
                <div key={t}>
                  <dt className="font-mono font-medium">{t}</dt>
                  <dd className="text-muted">{STEP_TYPE_INFO[t]}</dd>
                </div>
              ))}
            </dl>
            {isNew && (
              <div className="border-t border-border px-5 py-3">
                <Button size="sm" variant="ghost" onClick={() => setDraft(DEFAULT_VALIDATE_YAML)}>
                  Start from the default validate pipeline
                </Button>
              </div>
            )}
          </Card>
        </div>
      </div>
    </>
  );
}

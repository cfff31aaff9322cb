"use client";

import { useMutation, useQuery } from "@tanstack/react-query";
import { Background, ReactFlow, type Edge, type Node } from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { RotateCcw, Square } from "lucide-react";
import { useResolvedTheme } from "~/components/ui/use-theme";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useEffect, useMemo, useRef, useState } from "react";
import { toast } from "sonner";
import { useCan, useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, useTRPC } from "~/components/trpc/client";
import { Button } from "~/components/ui/button";
import { Card, CardHeader } from "~/components/ui/card";
import { cn } from "~/components/ui/cn";
import { PageHeader } from "~/components/ui/states";
import { QueryWait, ready } from "~/components/ui/query-state";
import { TimeAgo } from "~/components/ui/time";
import { ValidationReport } from "./report";
import { duration, LABEL, StatusBadge } from "./status";

type RunStep = {
  id: string;
  key: string;
  type: string;
  needs: string[];
  status: string;
  attempt: number;
  maxAttempts: number;
  startedAt: Date | null;
  finishedAt: Date | null;
  reason: string | null;
};

const NODE_BORDER: Record<string, string> = {
  passed: "#10b981",
  warned: "#f59e0b",
  failed: "#ef4444",
  running: "#8b5cf6",
  queued: "#8b5cf6",
  pending: "var(--border)",
  skipped: "var(--border)",
  cancelled: "var(--border)",
};

/** The run's DAG, columns by depth; a click selects a step. */
function RunGraph({ steps, selected, onSelect }: { steps: RunStep[]; selected: string | null; onSelect: (key: string) => void }) {
  const { theme: resolvedTheme } = useResolvedTheme();
  const { nodes, edges } = useMemo(() => {
    const depth = new Map<string, number>();
    const d = (k: string): number => {
      if (depth.has(k)) return depth.get(k)!;
      const s = steps.find((x) => x.key === k);
      const v = s && s.needs.length ? 1 + Math.max(...s.needs.map(d)) : 0;
      depth.set(k, v);
      return v;
    };
    const rows = new Map<number, number>();
    const nodes: Node[] = steps.map((s) => {
      const col = d(s.key);
      const row = rows.get(col) ?? 0;
      rows.set(col, row + 1);
      return {
        id: s.key,
        position: { x: col * 220, y: row * 64 },
        data: { label: `${s.key} · ${LABEL[s.status] ?? s.status}` },
        sourcePosition: "right" as never,
        targetPosition: "left" as never,
        style: {
          width: 180,
          fontSize: 12,
          borderRadius: 8,
          color: "var(--fg)",
          background: selected === s.key ? "var(--subtle)" : "var(--panel)",
          border: `2px solid ${NODE_BORDER[s.status] ?? "var(--border)"}`,
          opacity: s.status === "skipped" || s.status === "cancelled" ? 0.6 : 1,
        },
      };
    });
    const edges: Edge[] = steps.flatMap((s) => s.needs.map((n) => ({ id: `${n}->${s.key}`, source: n, target: s.key, animated: s.status === "running" })));
    return { nodes, edges };
  }, [steps, selected]);
  return (
    <div className="h-64 w-full" data-testid="run-graph">
      <ReactFlow
        key={steps.length}
        nodes={nodes}
        edges={edges}
        fitView
        nodesDraggable={false}
        nodesConnectable={false}
        onNodeClick={(_, n) => onSelect(n.id)}
        colorMode={resolvedTheme === "dark" ? "dark" : "light"}
        proOptions={{ hideAttribution: true }}
      >
        <Background gap={16} />
      </ReactFlow>
    </div>
  );
}

/** A step's log, appended live: each realtime hint refetches only the lines after the last one shown. */
function StepLog({ stepRunId, status }: { stepRunId: string; status: string }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const logs = useQuery(trpc.runs.logs.queryOptions({ workspaceId: workspace.id, stepRunId, afterId: 0 }));
  const box = useRef<HTMLPreElement>(null);
  const lines = logs.data ?? [];
  useEffect(() => {
    const el = box.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [lines.length]);
  if (!ready(logs)) return <QueryWait query={logs} rows={3} />;
  return (
    <pre ref={box} className="max-h-80 overflow-auto bg-zinc-950 px-4 py-3 font-mono text-xs leading-5 text-zinc-100" data-testid="step-log" aria-live="polite">
      {lines.length === 0 && <span className="text-zinc-400">{status === "pending" || status === "queued" ? "Waiting to start…" : "No output."}</span>}
      {lines.map((l) => (
        <div key={l.id} className={l.stream === "stderr" ? "text-amber-300" : l.stream === "system" ? "text-sky-300" : undefined}>
          {l.line}
        </div>
      ))}
    </pre>
  );
}

export function RunPage({ runId }: { runId: string }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const router = useRouter();
  const canRun = useCan("pipeline:run");
  const run = useQuery(trpc.runs.get.queryOptions({ workspaceId: workspace.id, runId }));
  const [selected, setSelected] = useState<string | null>(null);
  const [tab, setTab] = useState<"steps" | "report">("steps");
  const cancel = useMutation(
    trpc.runs.cancel.mutationOptions({ onSuccess: () => toast.success("Cancelling the run."), onError: (e) => toast.error(errorMessage(e)) }),
  );
  const rerun = useMutation(
    trpc.runs.rerun.mutationOptions({
      onSuccess: (r) => {
        toast.success(`Started run #${r.number}.`);
        router.push(`/w/${workspace.slug}/pipelines/runs/${r.id}`);
      },
      onError: (e) => toast.error(errorMessage(e)),
    }),
  );
  const [now, setNow] = useState(() => Date.now());
  const live = run.data && ["queued", "running"].includes(run.data.status);
  useEffect(() => {
    if (!live) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [live]);
  if (!ready(run)) return <QueryWait query={run} rows={8} />;
  const r = run.data;
  const current =
    r.steps.find((s) => s.key === selected) ?? r.steps.find((s) => s.status === "running") ?? r.steps.find((s) => s.status === "failed") ?? r.steps[0];
  const done = r.steps.filter((s) => !["pending", "queued", "running"].includes(s.status)).length;
  const subject = r.model ? `${r.model.name}@${r.model.version}` : null;
  return (
    <>
      <div className="mb-2 text-sm text-muted">
        <Link href={`/w/${workspace.slug}/pipelines`} className="hover:underline">
          Pipelines
        </Link>{" "}
        /{" "}
        <Link href={`/w/${workspace.slug}/pipelines/${r.pipeline.name}`} className="hover:underline">
          {r.pipeline.name}
        </Link>{" "}
        /
      </div>
      <PageHeader
        title={`Run #${r.number}`}
        description={`${r.pipeline.name} v${r.pipeline.version}${subject ? ` on ${subject}` : ""} · ${r.trigger.replace("_", " ")}${r.triggerRef ? ` ${r.triggerRef}` : ""}${r.createdBy ? ` by ${r.createdBy}` : ""}`}
        actions={
          <div className="flex items-center gap-2">
            <span data-testid="run-status">
              <StatusBadge status={r.cancelRequested && live ? "cancelling" : r.status} />
            </span>
            {canRun && live && (
              <Button
                variant="secondary"
                size="sm"
                loading={cancel.isPending}
                disabled={r.cancelRequested}
                onClick={() => cancel.mutate({ workspaceId: workspace.id, runId })}
              >
                <Square className="size-3.5" aria-hidden /> Cancel
              </Button>
            )}
            {canRun && !live && (
              <Button variant="secondary" size="sm" loading={rerun.isPending} onClick={() => rerun.mutate({ workspaceId: workspace.id, runId })}>
                <RotateCcw className="size-3.5" aria-hidden /> Re-run
              </Button>
            )}
          </div>
        }
      />
      <div className="mb-4 flex flex-wrap items-center gap-x-6 gap-y-1 text-sm text-muted">
        <span>
          Queued <TimeAgo date={r.createdAt} />
        </span>
        <span>Duration {duration(r.startedAt, r.finishedAt, now)}</span>
        <span data-testid="run-progress">
          {done} of {r.steps.length} steps done
        </span>
        {subject && (
          <Link className="text-accent hover:underline" href={`/w/${workspace.slug}/models/${encodeURIComponent(r.model!.name)}?v=${r.model!.version}`}>
            Open {subject}
          </Link>
        )}
      </div>
      <div
        className="mb-4 h-1.5 w-full overflow-hidden rounded bg-subtle"
        role="progressbar"
        aria-valuemin={0}
        aria-valuemax={r.steps.length}
        aria-valuenow={done}
        aria-label="Steps done"
      >
        <div className="h-full bg-accent transition-all" style={{ width: `${(100 * done) / Math.max(1, r.steps.length)}%` }} />
      </div>
      <div className="mb-4 flex gap-1 border-b border-border" role="tablist">
        {(["steps", "report"] as const).map((t) => (
          <button
            key={t}
            role="tab"
            aria-selected={tab === t}
            onClick={() => setTab(t)}
            className={cn("-mb-px border-b-2 px-3 py-2 text-sm", tab === t ? "border-accent font-medium" : "border-transparent text-muted hover:text-fg")}
          >
            {t === "steps" ? "Steps and logs" : "Report"}
          </button>
        ))}
      </div>
      {tab === "report" ? (
        <ValidationReport steps={r.steps} checks={r.checks} />
      ) : (
        <div className="space-y-6">
          <Card>
            <RunGraph steps={r.steps} selected={current?.key ?? null} onSelect={setSelected} />
          </Card>
          <div className="grid gap-6 lg:grid-cols-[18rem_1fr]">
            <Card>
              <ul className="divide-y divide-border" aria-label="Steps">
                {r.steps.map((s) => (
                  <li key={s.id}>
                    <button
                      type="button"
                      onClick={() => setSelected(s.key)}
                      aria-current={current?.key === s.key ? "true" : undefined}
                      className={cn(
                        "flex w-full items-center justify-between gap-2 px-4 py-2 text-left text-sm hover:bg-subtle/60",
                        current?.key === s.key && "bg-subtle",
                      )}
                      data-step={s.key}
                    >
                      <span>
                        <span className="font-medium">{s.key}</span>
                        <span className="block text-xs text-muted">
                          {s.type} · {duration(s.startedAt, s.finishedAt, now)}
                          {s.attempt > 1 ? ` · attempt ${s.attempt}` : ""}
                        </span>
                      </span>
                      <StatusBadge status={s.status} />
                    </button>
                  </li>
                ))}
              </ul>
            </Card>
            {current && (
              <Card>
                <CardHeader
                  title={`${current.key} (${current.type})`}
                  description={current.reason ?? (current.needs.length ? `Needs ${current.needs.join(", ")}` : "Needs nothing: starts with the run")}
                  actions={<StatusBadge status={current.status} />}
                />
                <StepLog key={current.id} stepRunId={current.id} status={current.status} />
                {r.checks.filter((c) => c.name.startsWith(`${current.key}.`)).length > 0 && (
                  <ul className="space-y-1 border-t border-border px-5 py-3 text-sm">
                    {r.checks
                      .filter((c) => c.name.startsWith(`${current.key}.`))
                      .map((c) => (
                        <li key={c.name} className="flex items-center gap-2">
                          <StatusBadge status={c.status} /> <span>{c.message}</span>{" "}
                          {c.threshold && <span className="text-xs text-muted">({c.threshold})</span>}
                        </li>
                      ))}
                  </ul>
                )}
              </Card>
            )}
          </div>
          {r.artifacts.length > 0 && (
            <Card>
              <CardHeader title="Artifacts" description="Files the run's command steps wrote to their output folder" />
              <ul className="divide-y divide-border text-sm">
                {r.artifacts.map((a) => (
                  <li key={a.path} className="flex items-center justify-between px-5 py-2">
                    <span className="font-mono text-xs">{a.path}</span>
                    <span className="text-xs text-muted">
                      {a.model ? (
                        <Link className="text-accent hover:underline" href={`/w/${workspace.slug}/models/${encodeURIComponent(a.model)}`}>
                          registered as {a.model}@{a.version}
                        </Link>
                      ) : (
                        `${a.sha256.slice(0, 12)}…`
                      )}
                    </span>
                  </li>
                ))}
              </ul>
            </Card>
          )}
        </div>
      )}
    </>
  );
}

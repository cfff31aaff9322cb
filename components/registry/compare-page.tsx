"use client";

import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, useTRPC } from "~/components/trpc/client";
import { Badge } from "~/components/ui/badge";
import { Card, CardHeader } from "~/components/ui/card";
import { ErrorState, PageHeader, Skeleton } from "~/components/ui/states";
import { formatBytes as bytes } from "~/server/shared/format";
import { DeltaText } from "./metric-delta";

export function ComparePage({ name, a, b }: { name: string; a: number; b: number }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const c = useQuery(trpc.models.compare.queryOptions({ workspaceId: workspace.id, name, a, b }));
  const back = (
    <div className="mb-2 text-sm text-muted">
      <Link href={`/w/${workspace.slug}/models`} className="hover:underline">
        Models
      </Link>{" "}
      /{" "}
      <Link href={`/w/${workspace.slug}/models/${encodeURIComponent(name)}`} className="hover:underline">
        {name}
      </Link>{" "}
      /
    </div>
  );
  if (c.isPending)
    return (
      <>
        {back}
        <Skeleton rows={8} />
      </>
    );
  if (c.isError)
    return (
      <>
        {back}
        <ErrorState message={errorMessage(c.error)} />
      </>
    );
  const d = c.data;
  const th = "px-5 py-2 font-medium";
  return (
    <>
      {back}
      <PageHeader title={`Compare v${a} and v${b}`} description={name} />
      <div className="grid gap-6 lg:grid-cols-2" data-testid="compare">
        <Card>
          <CardHeader title="Metrics" description={`Δ is v${b} − v${a}`} />
          <table className="w-full text-sm">
            <thead className="bg-subtle text-left text-xs text-muted">
              <tr>
                <th className={th}>Metric</th>
                <th className={`${th} text-right`}>v{a}</th>
                <th className={`${th} text-right`}>v{b}</th>
                <th className={`${th} text-right`}>Δ</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-border">
              {d.metrics.length === 0 && (
                <tr>
                  <td colSpan={4} className="px-5 py-4 text-center text-muted">
                    No metrics on either version.
                  </td>
                </tr>
              )}
              {d.metrics.map((m) => (
                <tr key={m.name}>
                  <td className="px-5 py-2 font-mono">{m.name}</td>
                  <td className="px-5 py-2 text-right tabular-nums">{m.a ?? "—"}</td>
                  <td className="px-5 py-2 text-right tabular-nums">{m.b ?? "—"}</td>
                  <td className="px-5 py-2 text-right">
                    <DeltaText value={m.delta} metric={m.name} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </Card>
        <Card>
          <CardHeader title="Metadata" />
          <table className="w-full text-sm">
            <thead className="bg-subtle text-left text-xs text-muted">
              <tr>
                <th className={th} />
                <th className={th}>v{a}</th>
                <th className={th}>v{b}</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-border">
              {(
                [
                  ["Size", bytes(d.a.sizeBytes), bytes(d.b.sizeBytes)],
                  ["Weights", bytes(d.size.initializerBytes.a), bytes(d.size.initializerBytes.b)],
                  ["Commit", d.a.gitCommit ?? "—", d.b.gitCommit ?? "—"],
                  ["Aliases", d.a.aliases.join(", ") || "—", d.b.aliases.join(", ") || "—"],
                  ["Tags", d.a.tags.join(", ") || "—", d.b.tags.join(", ") || "—"],
                  ["Opsets", d.a.opsets.map((o) => `${o.domain} ${o.version}`).join(", "), d.b.opsets.map((o) => `${o.domain} ${o.version}`).join(", ")],
                  ["Loads", d.a.loadable ? "yes" : "no", d.b.loadable ? "yes" : "no"],
                  ...d.params.map((p) => [`param ${p.name}`, String(p.a ?? "—"), String(p.b ?? "—")]),
                ] as [string, string, string][]
              ).map(([k, x, y]) => (
                <tr key={k} className={x !== y ? "bg-amber-500/5" : undefined}>
                  <td className="px-5 py-2 text-muted">{k}</td>
                  <td className="px-5 py-2">{x}</td>
                  <td className="px-5 py-2">{y}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Card>
        <Card>
          <CardHeader title="Signature" />
          <table className="w-full text-sm">
            <thead className="bg-subtle text-left text-xs text-muted">
              <tr>
                <th className={th}>Tensor</th>
                <th className={th}>v{a}</th>
                <th className={th}>v{b}</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-border">
              {[...d.inputs.map((i) => ({ ...i, kind: "in" })), ...d.outputs.map((o) => ({ ...o, kind: "out" }))].map((t) => (
                <tr key={`${t.kind}:${t.name}`} className={t.changed ? "bg-amber-500/10" : undefined}>
                  <td className="px-5 py-2 font-mono">
                    {t.kind === "in" ? "→ " : "← "}
                    {t.name}
                  </td>
                  <td className="px-5 py-2 font-mono text-xs">{t.a ?? <Badge tone="failing">absent</Badge>}</td>
                  <td className="px-5 py-2 font-mono text-xs">{t.b ?? <Badge tone="failing">absent</Badge>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Card>
        <Card>
          <CardHeader title="Operators" />
          <table className="w-full text-sm">
            <thead className="bg-subtle text-left text-xs text-muted">
              <tr>
                <th className={th}>Op</th>
                <th className={`${th} text-right`}>v{a}</th>
                <th className={`${th} text-right`}>v{b}</th>
                <th className={`${th} text-right`}>Δ</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-border">
              {d.ops.map((o) => (
                <tr key={o.op} className={o.a !== o.b ? "bg-amber-500/5" : undefined}>
                  <td className="px-5 py-2 font-mono">{o.op}</td>
                  <td className="px-5 py-2 text-right tabular-nums">{o.a}</td>
                  <td className="px-5 py-2 text-right tabular-nums">{o.b}</td>
                  <td className="px-5 py-2 text-right">
                    <DeltaText value={o.b - o.a} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </Card>
      </div>
    </>
  );
}

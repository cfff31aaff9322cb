"use client";

import { useQuery } from "@tanstack/react-query";
import { Badge } from "~/components/ui/badge";
import { Card, CardHeader } from "~/components/ui/card";
import { ErrorState, Skeleton } from "~/components/ui/states";

type Doc = {
  info: { description: string };
  paths: Record<
    string,
    Record<string, { summary: string; tags: string[]; "x-steward-permission"?: string; requestBody?: { content: Record<string, unknown> } }>
  >;
};

const METHOD_TONE = { get: "serving", post: "passing", put: "warning", delete: "failing" } as const;

/** A readable reference of the REST API, rendered from /api/v1/openapi.json. */
export function ApiSettings() {
  const doc = useQuery({ queryKey: ["openapi"], queryFn: () => fetch("/api/v1/openapi.json").then((r) => r.json() as Promise<Doc>) });
  if (doc.isPending) return <Skeleton rows={6} />;
  if (doc.isError) return <ErrorState message="The API description could not be loaded." onRetry={() => void doc.refetch()} />;
  const rows = Object.entries(doc.data.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, ...op })));
  return (
    <Card>
      <CardHeader
        title="REST API"
        description={doc.data.info.description}
        actions={
          <a className="text-sm text-accent hover:underline" href="/api/v1/openapi.json">
            openapi.json
          </a>
        }
      />
      <table className="w-full text-sm" data-testid="api-reference">
        <thead className="bg-subtle text-left text-xs text-muted">
          <tr>
            <th className="px-5 py-2 font-medium">Method</th>
            <th className="px-5 py-2 font-medium">Path (under /api/v1)</th>
            <th className="px-5 py-2 font-medium">What it does</th>
            <th className="px-5 py-2 font-medium">Needs</th>
          </tr>
        </thead>
        <tbody className="divide-y divide-border">
          {rows.map((r) => (
            <tr key={`${r.method} ${r.path}`}>
              <td className="px-5 py-2.5">
                <Badge tone={METHOD_TONE[r.method as keyof typeof METHOD_TONE] ?? "neutral"}>{r.method.toUpperCase()}</Badge>
              </td>
              <td className="px-5 py-2.5 font-mono text-xs">{r.path}</td>
              <td className="px-5 py-2.5">{r.summary}</td>
              <td className="px-5 py-2.5 font-mono text-xs text-muted">{r["x-steward-permission"] ?? "—"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Card>
  );
}

"use client";

import { Background, Controls, ReactFlow, type Edge, type Node } from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { useResolvedTheme } from "~/components/ui/use-theme";
import { useMemo } from "react";

type Version = {
  id: string;
  version: number;
  parent: { model: string; version: number } | null;
  datasets: { role: "train" | "eval"; datasetName: string; datasetVersion: number }[];
};

/** dataset versions → model versions (with parent edges) → aliases, laid out in three columns. */
export function LineageGraph({ model, versions, aliases }: { model: string; versions: Version[]; aliases: { alias: string; version: number }[] }) {
  const { theme: resolvedTheme } = useResolvedTheme();
  const { nodes, edges } = useMemo(() => {
    const nodes: Node[] = [];
    const edges: Edge[] = [];
    const sorted = [...versions].sort((a, b) => a.version - b.version);
    const dsKeys = [...new Set(sorted.flatMap((v) => v.datasets.map((d) => `${d.datasetName}@${d.datasetVersion}`)))];
    const externalParents = [...new Set(sorted.filter((v) => v.parent && v.parent.model !== model).map((v) => `${v.parent!.model}@${v.parent!.version}`))];
    const box = (bg: string) => ({ background: bg, border: "1px solid var(--border)", borderRadius: 8, fontSize: 12, color: "var(--fg)", width: 170 });
    dsKeys.forEach((k, i) =>
      nodes.push({
        id: `ds:${k}`,
        position: { x: 0, y: i * 70 },
        data: { label: `dataset ${k}` },
        style: box("var(--subtle)"),
        sourcePosition: "right" as never,
        targetPosition: "left" as never,
      }),
    );
    externalParents.forEach((k, i) =>
      nodes.push({
        id: `ext:${k}`,
        position: { x: 0, y: (dsKeys.length + i) * 70 },
        data: { label: `model ${k}` },
        style: box("var(--panel)"),
        sourcePosition: "right" as never,
      }),
    );
    sorted.forEach((v, i) => {
      nodes.push({
        id: `mv:${v.version}`,
        position: { x: 280, y: i * 80 },
        data: { label: `${model} v${v.version}` },
        style: { ...box("var(--panel)"), fontWeight: 600, borderColor: "var(--accent)" },
        sourcePosition: "right" as never,
        targetPosition: "left" as never,
      });
      for (const d of v.datasets) {
        edges.push({
          id: `e:${d.datasetName}@${d.datasetVersion}->${v.version}:${d.role}`,
          source: `ds:${d.datasetName}@${d.datasetVersion}`,
          target: `mv:${v.version}`,
          label: d.role,
          animated: d.role === "train",
        });
      }
      if (v.parent) {
        const src = v.parent.model === model ? `mv:${v.parent.version}` : `ext:${v.parent.model}@${v.parent.version}`;
        edges.push({ id: `p:${src}->${v.version}`, source: src, target: `mv:${v.version}`, label: "parent", style: { strokeDasharray: "4 3" } });
      }
    });
    aliases.forEach((a, i) => {
      nodes.push({
        id: `al:${a.alias}`,
        position: { x: 560, y: i * 70 },
        data: { label: a.alias },
        style: box(a.alias === "production" ? "rgba(14,165,233,0.15)" : "var(--subtle)"),
        targetPosition: "left" as never,
      });
      edges.push({ id: `a:${a.alias}`, source: `mv:${a.version}`, target: `al:${a.alias}` });
    });
    return { nodes, edges };
  }, [model, versions, aliases]);

  if (versions.length === 0) return null;
  return (
    <div className="h-80 w-full" data-testid="lineage-graph">
      {/* Remount when the graph changes shape, so a new version or alias is fitted into view. */}
      <ReactFlow
        key={`${nodes.length}:${edges.length}`}
        nodes={nodes}
        edges={edges}
        fitView
        nodesDraggable={false}
        nodesConnectable={false}
        colorMode={resolvedTheme === "dark" ? "dark" : "light"}
        proOptions={{ hideAttribution: true }}
      >
        <Background gap={16} />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}

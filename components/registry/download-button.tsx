"use client";

import { useQuery } from "@tanstack/react-query";
import { Download } from "lucide-react";
import { useCan, useWorkspace } from "~/components/shell/workspace-context";
import { useTRPC } from "~/components/trpc/client";

/**
 * A version's file, from GET …/versions/{n}/file (a plain link: the browser streams it to
 * disk and the session cookie authenticates it). Hidden where the role may not download:
 * viewers only when the workspace allows it. The server decides regardless, and records it.
 */
export function DownloadButton({ kind, name, version, filename }: { kind: "models" | "datasets"; name: string; version: number; filename?: string }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const canRead = useCan("registry:read");
  const viewer = workspace.role === "viewer";
  const settings = useQuery({ ...trpc.workspaces.settings.queryOptions({ workspaceId: workspace.id }), enabled: viewer });
  if (!canRead || (viewer && !settings.data?.viewerDownloads)) return null;
  return (
    <a
      className="inline-flex h-8 items-center gap-1.5 rounded-md border border-border bg-panel px-3 text-sm hover:bg-subtle"
      href={`/api/v1/workspaces/${encodeURIComponent(workspace.slug)}/${kind}/${encodeURIComponent(name)}/versions/${version}/file`}
      download={filename ?? ""}
      title={`Download v${version}${filename ? ` (${filename})` : ""}: the sha256 is sent with it`}
    >
      <Download className="size-4" aria-hidden />
      Download
    </a>
  );
}

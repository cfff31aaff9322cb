"use client";

import { SearchX } from "lucide-react";
import Link from "next/link";
import { usePathname } from "next/navigation";
import { useWorkspace } from "./workspace-context";

const AREAS: Record<string, string> = {
  models: "Models",
  datasets: "Datasets",
  deployments: "Deployments",
  monitoring: "Monitoring",
  pipelines: "Pipelines",
  reviews: "Reviews",
  governance: "Governance",
  settings: "Settings",
};

/** Inside a workspace: what was not found, and the way back to the list it would be in. */
export function NotFoundState() {
  const { workspace } = useWorkspace();
  const path = usePathname();
  const area = path.split("/")[3] ?? "";
  const label = AREAS[area];
  return (
    <div className="flex flex-col items-center justify-center gap-3 px-6 py-20 text-center" data-testid="not-found">
      <SearchX className="size-8 text-muted" aria-hidden />
      <p className="text-sm font-medium text-muted">404</p>
      <h1 className="text-xl font-semibold">
        Nothing here: {decodeURIComponent(path.split("/").slice(4).join("/")) || "this page"} does not exist in {workspace.name}.
      </h1>
      <p className="text-sm text-muted">It may have been renamed or deleted, or the link is mistyped.</p>
      <div className="flex gap-4 text-sm font-medium">
        {label && (
          <Link href={`/w/${workspace.slug}/${area}`} className="text-accent hover:underline">
            Back to {label}
          </Link>
        )}
        <Link href={`/w/${workspace.slug}`} className="text-accent hover:underline">
          Workspace home
        </Link>
      </div>
    </div>
  );
}

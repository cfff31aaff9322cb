"use client";

import * as D from "@radix-ui/react-dialog";
import { useQuery } from "@tanstack/react-query";
import { Command } from "cmdk";
import { Boxes, Database, Search } from "lucide-react";
import { useRouter } from "next/navigation";
import { useEffect, useState } from "react";
import { useTRPC } from "~/components/trpc/client";
import { NAV } from "./nav";
import { useWorkspace } from "./workspace-context";

const SETTINGS = [
  { href: "/settings/members", label: "Settings › Members" },
  { href: "/settings/tokens", label: "Settings › API tokens" },
  { href: "/settings/api", label: "Settings › API reference" },
  { href: "/settings/system", label: "Settings › System" },
  { href: "/governance/checkpoints", label: "Governance › Signed checkpoints" },
  { href: "/governance/access", label: "Governance › Access review" },
];

/** ⌘K / Ctrl+K: jump to any area, model, model version or dataset of the workspace. */
export function CommandPalette() {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const router = useRouter();
  const [open, setOpen] = useState(false);
  // Loaded with the shell (and kept fresh by live invalidation), so the palette is ready the moment it opens.
  const models = useQuery(trpc.models.list.queryOptions({ workspaceId: workspace.id }));
  const datasets = useQuery(trpc.datasets.list.queryOptions({ workspaceId: workspace.id }));

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.metaKey || e.ctrlKey) && e.key.toLowerCase() === "k") {
        e.preventDefault();
        setOpen((o) => !o);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  const go = (href: string) => {
    setOpen(false);
    router.push(`/w/${workspace.slug}${href}`);
  };
  const item = "flex cursor-pointer items-center gap-2 rounded-md px-3 py-2 text-sm aria-selected:bg-subtle";

  return (
    <>
      <button
        type="button"
        onClick={() => setOpen(true)}
        className="flex h-8 items-center gap-2 rounded-md border border-border bg-panel px-3 text-sm text-muted hover:bg-subtle"
        aria-label="Open the command palette"
      >
        <Search className="size-4" aria-hidden /> Jump to…
        <kbd className="rounded border border-border px-1 font-mono text-[10px]">⌘K</kbd>
      </button>
      <D.Root open={open} onOpenChange={setOpen}>
        <D.Portal>
          <D.Overlay className="fixed inset-0 z-40 bg-black/40" />
          <D.Content className="fixed top-24 left-1/2 z-50 w-[calc(100vw-2rem)] max-w-lg -translate-x-1/2 overflow-hidden rounded-lg border border-border bg-panel shadow-xl">
            <D.Title className="sr-only">Jump to</D.Title>
            <D.Description className="sr-only">Type to find an area, a model, a version or a dataset.</D.Description>
            <Command label="Command palette" loop>
              <Command.Input autoFocus placeholder="Find a model, version, dataset or page…" className="h-11 w-full border-b border-border bg-transparent px-4 text-sm outline-none" />
              <Command.List className="max-h-80 overflow-y-auto p-2">
                <Command.Empty className="px-3 py-6 text-center text-sm text-muted">
                  {models.isPending || datasets.isPending ? "Loading…" : models.isError || datasets.isError ? "Models and datasets could not be loaded." : "Nothing matches."}
                </Command.Empty>
                <Command.Group heading="Models" className="text-xs text-muted">
                  {(models.data ?? []).flatMap((m) => [
                    <Command.Item key={m.id} value={`model ${m.name}`} onSelect={() => go(`/models/${encodeURIComponent(m.name)}`)} className={item}>
                      <Boxes className="size-4" aria-hidden /> {m.name}
                    </Command.Item>,
                    ...Array.from({ length: m.latestVersion ?? 0 }, (_, i) => i + 1).map((v) => (
                      <Command.Item key={`${m.id}@${v}`} value={`${m.name}@${v} report`} onSelect={() => go(`/models/${encodeURIComponent(m.name)}/versions/${v}/report`)} className={item}>
                        <Boxes className="size-4 opacity-50" aria-hidden /> {m.name}@{v} — report
                      </Command.Item>
                    )),
                  ])}
                </Command.Group>
                <Command.Group heading="Datasets" className="text-xs text-muted">
                  {(datasets.data ?? []).map((d) => (
                    <Command.Item key={d.id} value={`dataset ${d.name}`} onSelect={() => go(`/datasets/${encodeURIComponent(d.name)}`)} className={item}>
                      <Database className="size-4" aria-hidden /> {d.name}
                    </Command.Item>
                  ))}
                </Command.Group>
                <Command.Group heading="Pages" className="text-xs text-muted">
                  {NAV.map((n) => (
                    <Command.Item key={n.label} value={`page ${n.label}`} onSelect={() => go(n.href)} className={item}>
                      <n.icon className="size-4" aria-hidden /> {n.label}
                    </Command.Item>
                  ))}
                  {SETTINGS.map((s) => (
                    <Command.Item key={s.href} value={`page ${s.label}`} onSelect={() => go(s.href)} className={item}>
                      {s.label}
                    </Command.Item>
                  ))}
                </Command.Group>
              </Command.List>
            </Command>
          </D.Content>
        </D.Portal>
      </D.Root>
    </>
  );
}

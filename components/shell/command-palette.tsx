"use client";

import * as D from "@radix-ui/react-dialog";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { Command } from "cmdk";
import {
  Boxes,
  Clock,
  Database,
  FileText,
  GitPullRequest,
  LogOut,
  Moon,
  Plus,
  Rocket,
  RotateCcw,
  ScrollText,
  Search,
  Settings,
  Tag,
  User,
  UserPlus,
  Workflow,
  type LucideIcon,
} from "lucide-react";
import { usePathname, useRouter } from "next/navigation";
import { signOut } from "next-auth/react";
import { useTheme } from "next-themes";
import { useEffect, useState } from "react";
import { useTRPC } from "~/components/trpc/client";
import { can, type Permission } from "~/server/shared/permissions";
import type { SearchHit, SearchKind } from "~/server/shared/search.schema";
import { NAV } from "./nav";
import { useWorkspace } from "./workspace-context";

/** Pages beyond the sidebar's, with the words people look for them by. */
const PAGES: { href: string; label: string; keywords: string; instanceAdmin?: boolean; permission?: Permission }[] = [
  ...NAV.map((n) => ({ href: n.href, label: n.label, keywords: n.blurb })),
  { href: "/governance/audit", label: "Governance › Audit trail", keywords: "audit log events history who did what" },
  { href: "/governance/inventory", label: "Governance › Model inventory", keywords: "inventory risk revalidation" },
  { href: "/governance/checkpoints", label: "Governance › Signed checkpoints", keywords: "audit checkpoint signature" },
  { href: "/governance/access", label: "Governance › Access review", keywords: "access review members roles" },
  { href: "/monitoring", label: "Monitoring › Drift, traffic and alerts", keywords: "drift psi alerts incidents traffic latency errors" },
  { href: "/inbox", label: "Inbox", keywords: "notifications mentions" },
  { href: "/reviews/new", label: "Reviews › Request a review", keywords: "open review new request approval", permission: "review:participate" },
];

const SETTINGS: { href: string; label: string; instanceAdmin?: boolean }[] = [
  { href: "/settings/general", label: "Settings › General" },
  { href: "/settings/members", label: "Settings › Members" },
  { href: "/settings/policies", label: "Settings › Approval policies" },
  { href: "/settings/webhooks", label: "Settings › Webhooks" },
  { href: "/settings/tokens", label: "Settings › API tokens" },
  { href: "/settings/api", label: "Settings › API reference" },
  { href: "/settings/accounts", label: "Settings › Accounts" },
  { href: "/settings/system", label: "Settings › System", instanceAdmin: true },
  { href: "/settings/instance", label: "Settings › Instance", instanceAdmin: true },
];

const KIND: Record<SearchKind, { heading: string; icon: LucideIcon }> = {
  model: { heading: "Models", icon: Boxes },
  version: { heading: "Model versions", icon: Boxes },
  alias: { heading: "Aliases", icon: Tag },
  deployment: { heading: "Deployments", icon: Rocket },
  review: { heading: "Reviews", icon: GitPullRequest },
  run: { heading: "Pipeline runs", icon: Workflow },
  pipeline: { heading: "Pipelines", icon: Workflow },
  dataset: { heading: "Datasets", icon: Database },
  person: { heading: "People", icon: User },
};

/** A query that starts by naming the action: "roll back credit-prod", "rollback credit". */
const ROLLBACK = /^(?:roll\s*back|rollback)\s+(.+)$/i;

type Recent = { title: string; href: string; kind: SearchKind | "page" };
const RECENT_MAX = 6;
const recentKey = (workspaceId: string) => `steward:palette-recent:${workspaceId}`;
function readRecent(workspaceId: string): Recent[] {
  try {
    const v = JSON.parse(localStorage.getItem(recentKey(workspaceId)) ?? "[]") as unknown;
    return Array.isArray(v) ? (v as Recent[]).slice(0, RECENT_MAX) : [];
  } catch {
    return [];
  }
}

/** Every word of the query appears in the text (the palette's own entries; the server searches the rest). */
const matches = (query: string, text: string) => {
  const t = text.toLowerCase();
  return query
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .every((w) => t.includes(w));
};

/** The query typed, settled for `ms` (one search per pause, not per key). */
function useDebounced(value: string, ms: number) {
  const [v, setV] = useState(value);
  useEffect(() => {
    const id = setTimeout(() => setV(value), ms);
    return () => clearTimeout(id);
  }, [value, ms]);
  return v;
}

/**
 * ⌘K / Ctrl+K: find anything of the workspace (models, versions as "credit-risk@3",
 * aliases, deployments, reviews as "#2", pipelines, datasets, people — searched on the
 * server, within what the person may see), jump to a page, or act (upload a version, open a
 * review, invite a member, roll back a deployment found — "roll back credit" —, search the
 * audit trail for what is typed, toggle the theme, sign out). Recent picks show before anything is typed.
 */
export function CommandPalette() {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const router = useRouter();
  const pathname = usePathname();
  const { resolvedTheme, setTheme } = useTheme();
  const [open, setOpen] = useState(false);
  const [query, setQuery] = useState("");
  const [recent, setRecent] = useState<Recent[]>([]);
  // "roll back credit" searches for "credit" and offers to roll back each deployment found.
  const verb = ROLLBACK.exec(query.trim());
  const q = useDebounced(verb ? verb[1]!.trim() : query.trim(), 150);
  const allowed = (p: Permission) => can(workspace.role, p);
  const instanceAdmin = useQuery(trpc.auth.me.queryOptions()).data?.instanceAdmin ?? false;
  const hits = useQuery({
    ...trpc.search.query.queryOptions({ workspaceId: workspace.id, q }),
    enabled: open && q.length > 0,
    placeholderData: keepPreviousData,
  });

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

  const onOpenChange = (next: boolean) => {
    setOpen(next);
    if (next) setRecent(readRecent(workspace.id));
    else setQuery("");
  };
  useEffect(() => {
    if (open) setRecent(readRecent(workspace.id));
  }, [open, workspace.id]);

  const remember = (r: Recent) => {
    const next = [r, ...readRecent(workspace.id).filter((x) => x.href !== r.href)].slice(0, RECENT_MAX);
    try {
      localStorage.setItem(recentKey(workspace.id), JSON.stringify(next));
    } catch {
      // Private mode or full storage: recent items are a convenience.
    }
  };
  const go = (href: string, r?: Omit<Recent, "href">) => {
    if (r) remember({ ...r, href });
    onOpenChange(false);
    router.push(`/w/${workspace.slug}${href}`);
  };
  const act = (f: () => void) => () => {
    onOpenChange(false);
    f();
  };
  const item = "flex cursor-pointer items-center gap-2 rounded-md px-3 py-2 text-sm text-fg aria-selected:bg-subtle";
  const group = "text-xs text-muted [&_[cmdk-group-heading]]:px-3 [&_[cmdk-group-heading]]:py-1.5";

  const typed = query.trim();
  const pages = ([...PAGES, ...SETTINGS.map((s) => ({ ...s, keywords: "settings" }))] as typeof PAGES).filter(
    (p) => (instanceAdmin || !p.instanceAdmin) && (!p.permission || allowed(p.permission)) && matches(typed, `${p.label} ${p.keywords}`),
  );
  const actions = [
    {
      id: "upload",
      label: "New model version… (upload)",
      keywords: "upload model version onnx new register",
      icon: Plus,
      permission: "model:write" as const,
      run: () => go(`/models?upload=${Date.now()}`),
    },
    {
      id: "review",
      label: "Open a review…",
      keywords: "open request review approval new",
      icon: GitPullRequest,
      permission: "review:participate" as const,
      run: () => go("/reviews/new"),
    },
    {
      id: "theme",
      label: `Switch to ${resolvedTheme === "dark" ? "light" : "dark"} theme`,
      keywords: "toggle theme dark light mode appearance",
      icon: Moon,
      run: act(() => setTheme(resolvedTheme === "dark" ? "light" : "dark")),
    },
    {
      id: "invite",
      label: "Invite a member…",
      keywords: "invite member people add colleague team user",
      icon: UserPlus,
      permission: "member:manage" as const,
      run: () => go(`/settings/members?invite=${Date.now()}`),
    },
    { id: "settings", label: "Go to settings", keywords: "settings preferences workspace", icon: Settings, run: () => go("/settings") },
    { id: "signout", label: "Sign out", keywords: "sign out log out logout", icon: LogOut, run: act(() => void signOut({ callbackUrl: "/signin" })) },
  ].filter((a) => (!("permission" in a) || !a.permission || allowed(a.permission)) && matches(typed, `${a.label} ${a.keywords}`));
  // Acting on what was found: roll back a deployment (its page opens with the confirmation, which asks the version and the reason).
  // Not an earlier query's results (kept on screen while the next loads): an action must name what was asked for.
  const deploymentHits = (typed && hits.data && !hits.isPlaceholderData ? hits.data : []).filter((h) => h.kind === "deployment");
  const hitActions = allowed("deployment:manage")
    ? deploymentHits
        .filter((_, i) => verb || i < 3)
        .map((h) => ({
          id: `rollback ${h.id}`,
          label: `Roll back ${h.title}…`,
          icon: RotateCcw,
          run: () => go(`${h.href}?rollback=${Date.now()}`),
        }))
    : [];
  // The audit trail's own search, for whatever was typed (who did what to this, when).
  const auditSearch =
    typed && !verb && allowed("audit:read")
      ? [{ id: "audit", label: `Search the audit trail for “${typed}”`, icon: ScrollText, run: () => go(`/governance/audit?q=${encodeURIComponent(typed)}`) }]
      : [];
  const allActions = [...hitActions, ...(verb ? [] : actions), ...auditSearch];
  const byKind = new Map<SearchKind, SearchHit[]>();
  // Results of an earlier query stay visible while the next loads, but only while they still fit what is typed.
  if (typed && !verb && hits.data) for (const h of hits.data) byKind.set(h.kind, [...(byKind.get(h.kind) ?? []), h]);
  // What the server is asked for: the deployment's name after "roll back".
  const searchedFor = verb ? verb[1]!.trim() : typed;
  const searching = searchedFor.length > 0 && (q !== searchedFor || hits.isFetching);
  // The highlighted entry: the first one whenever the list changes under it (results arrive after typing).
  const values = [
    ...(!typed ? recent.map((r) => `recent ${r.href}`) : []),
    ...[...byKind].flatMap(([kind, list]) => list.map((h) => `${kind} ${h.id}`)),
    ...allActions.map((a) => `action ${a.id}`),
    ...(verb ? [] : pages).map((p) => `page ${p.href} ${p.label}`),
  ];
  const [selected, setSelected] = useState("");
  const current = values.includes(selected) ? selected : (values[0] ?? "");
  const shownPages = verb ? [] : pages;
  const nothing = byKind.size === 0 && shownPages.length === 0 && allActions.length === 0 && (!recent.length || typed);

  return (
    <>
      <button
        type="button"
        onClick={() => onOpenChange(true)}
        className="flex h-8 shrink-0 items-center gap-2 rounded-md border border-border bg-panel px-3 text-sm text-muted hover:bg-subtle"
        aria-label="Open the command palette"
        aria-keyshortcuts="Meta+K Control+K"
      >
        <Search className="size-4" aria-hidden /> <span className="hidden sm:inline">Jump to…</span>
        <kbd className="hidden rounded border border-border px-1 font-mono text-[10px] sm:inline">⌘K</kbd>
      </button>
      <D.Root open={open} onOpenChange={onOpenChange}>
        <D.Portal>
          <D.Overlay className="fixed inset-0 z-40 bg-black/40" />
          <D.Content className="fixed top-16 left-1/2 z-50 w-[calc(100vw-2rem)] max-w-xl -translate-x-1/2 overflow-hidden rounded-lg border border-border bg-panel shadow-xl sm:top-24">
            <D.Title className="sr-only">Command palette</D.Title>
            <D.Description className="sr-only">
              Type to find a model, version, alias, deployment, review, pipeline, dataset, person or page, or to run an action.
            </D.Description>
            <Command label="Command palette" loop shouldFilter={false} value={current} onValueChange={setSelected}>
              <Command.Input
                autoFocus
                value={query}
                onValueChange={setQuery}
                placeholder="Find anything: credit-risk@3, #2, prod, validate, audit…"
                className="h-11 w-full border-b border-border bg-transparent px-4 text-sm outline-none"
                data-testid="palette-input"
              />
              <Command.List className="max-h-[60vh] overflow-y-auto p-2 sm:max-h-96" data-testid="palette-list">
                {nothing && !searching && (
                  <div className="px-3 py-6 text-center text-sm text-muted">
                    {hits.isError ? "Search failed; pages and actions still work." : `Nothing matches “${typed}”.`}
                  </div>
                )}
                {!typed && recent.length > 0 && (
                  <Command.Group heading="Recent" className={group}>
                    {recent.map((r) => (
                      <Command.Item key={`recent ${r.href}`} value={`recent ${r.href}`} onSelect={() => go(r.href, r)} className={item}>
                        <Clock className="size-4 shrink-0 text-muted" aria-hidden /> <span className="truncate">{r.title}</span>
                      </Command.Item>
                    ))}
                  </Command.Group>
                )}
                {[...byKind].map(([kind, list]) => {
                  const K = KIND[kind];
                  return (
                    <Command.Group key={kind} heading={K.heading} className={group}>
                      {list.map((h) => (
                        <Command.Item key={`${kind} ${h.id}`} value={`${kind} ${h.id}`} onSelect={() => go(h.href, { title: h.title, kind })} className={item}>
                          <K.icon className="size-4 shrink-0 text-muted" aria-hidden />
                          <span className="truncate">{h.title}</span>
                          {h.detail && <span className="ml-auto shrink-0 truncate pl-2 text-xs text-muted">{h.detail}</span>}
                        </Command.Item>
                      ))}
                    </Command.Group>
                  );
                })}
                {allActions.length > 0 && (
                  <Command.Group heading="Actions" className={group}>
                    {allActions.map((a) => (
                      <Command.Item key={a.id} value={`action ${a.id}`} onSelect={a.run} className={item}>
                        <a.icon className="size-4 text-muted" aria-hidden /> {a.label}
                      </Command.Item>
                    ))}
                  </Command.Group>
                )}
                {shownPages.length > 0 && (
                  <Command.Group heading="Pages" className={group}>
                    {shownPages.map((p) => (
                      <Command.Item
                        key={p.href + p.label}
                        value={`page ${p.href} ${p.label}`}
                        onSelect={() => go(p.href, { title: p.label, kind: "page" })}
                        className={item}
                        data-current={pathname === `/w/${workspace.slug}${p.href}` || undefined}
                      >
                        <FileText className="size-4 text-muted" aria-hidden /> {p.label}
                      </Command.Item>
                    ))}
                  </Command.Group>
                )}
                {searching && <div className="px-3 py-2 text-xs text-muted">Searching…</div>}
              </Command.List>
            </Command>
          </D.Content>
        </D.Portal>
      </D.Root>
    </>
  );
}

"use client";

import { useQuery } from "@tanstack/react-query";
import * as D from "@radix-ui/react-dialog";
import { Bell, ChevronsUpDown, LogOut, Menu, Moon, Sun, X } from "lucide-react";
import { useState } from "react";
import Link from "next/link";
import { usePathname, useRouter } from "next/navigation";
import { signOut } from "next-auth/react";
import { useTheme } from "next-themes";
import { useRealtimeStatus } from "~/components/realtime/realtime-provider";
import { useTRPC } from "~/components/trpc/client";
import { useFocusableScrollers } from "./scroll-focus";
import { cn } from "~/components/ui/cn";
import { ROLE_LABELS } from "~/server/shared/permissions";
import { CommandPalette } from "./command-palette";
import { NAV } from "./nav";
import { KeyboardShortcuts } from "./shortcuts";
import { useWorkspace } from "./workspace-context";

function LiveDot() {
  const status = useRealtimeStatus();
  const label = status === "live" ? "Live" : status === "connecting" ? "Connecting…" : "Offline — reconnecting";
  return (
    <span className="flex items-center gap-1.5 text-xs text-muted" data-testid="realtime-status" data-status={status}>
      <span className={cn("size-2 rounded-full", status === "live" ? "bg-emerald-500" : status === "connecting" ? "bg-amber-400" : "bg-red-500")} aria-hidden />
      {label}
    </span>
  );
}

/** The inbox with its live unread count (mentions, assignments, approvals needed, decisions). */
function InboxBell() {
  const trpc = useTRPC();
  const { workspace } = useWorkspace();
  const n = useQuery(trpc.notifications.unreadCount.queryOptions()).data ?? 0;
  return (
    <Link
      href={`/w/${workspace.slug}/inbox`}
      className="relative rounded-md p-2 text-muted hover:bg-subtle"
      aria-label={n ? `Inbox, ${n} unread` : "Inbox"}
      data-testid="inbox-bell"
    >
      <Bell className="size-4" aria-hidden />
      {n > 0 && (
        <span
          className="absolute -top-0.5 -right-0.5 min-w-4 rounded-full bg-accent px-1 text-center text-[10px] leading-4 font-semibold text-accent-fg"
          data-testid="unread-count"
        >
          {n > 99 ? "99+" : n}
        </span>
      )}
    </Link>
  );
}

function WorkspaceSwitcher() {
  const trpc = useTRPC();
  const router = useRouter();
  const { workspace } = useWorkspace();
  const list = useQuery(trpc.workspaces.list.queryOptions());
  return (
    <label className="relative flex min-w-0 shrink items-center">
      <span className="sr-only">Workspace</span>
      <select
        aria-label="Switch workspace"
        className="h-8 w-full min-w-0 appearance-none truncate rounded-md border border-border bg-panel pr-8 pl-3 text-sm font-medium"
        value={workspace.slug}
        onChange={(e) => {
          if (e.target.value === "__new") router.push("/workspaces");
          else router.push(`/w/${e.target.value}`);
        }}
      >
        {(list.data ?? [workspace]).map((w) => (
          <option key={w.id} value={w.slug}>
            {w.name}
          </option>
        ))}
        <option value="__new">All workspaces / new…</option>
      </select>
      <ChevronsUpDown className="pointer-events-none absolute right-2 size-4 text-muted" aria-hidden />
    </label>
  );
}

/** The logo, the workspace's sections and the live status: the sidebar on a wide screen, the drawer on a phone. */
function SidebarContent({ onNavigate }: { onNavigate?: () => void }) {
  const { workspace } = useWorkspace();
  const pathname = usePathname();
  const base = `/w/${workspace.slug}`;
  return (
    <>
      <Link href={base} onClick={onNavigate} className="flex h-14 items-center gap-2 border-b border-border px-4 font-semibold tracking-tight">
        <span className="grid size-7 place-items-center rounded-md bg-accent text-accent-fg">S</span>
        Steward
      </Link>
      <nav aria-label="Workspace" className="flex-1 space-y-0.5 overflow-y-auto p-2">
        {NAV.map((item) => {
          const href = base + item.href;
          const active = item.href === "" ? pathname === base : pathname.startsWith(base + item.href.split("/").slice(0, 2).join("/"));
          return (
            <Link
              key={item.label}
              href={href}
              onClick={onNavigate}
              aria-current={active ? "page" : undefined}
              className={cn(
                "flex items-center gap-2.5 rounded-md px-3 py-2 text-sm",
                active ? "bg-subtle font-medium text-fg" : "text-muted hover:bg-subtle hover:text-fg",
              )}
            >
              <item.icon className="size-4" aria-hidden />
              <span className="flex-1">{item.label}</span>
              {!item.built && <span className="text-[10px] tracking-wide text-muted uppercase">soon</span>}
            </Link>
          );
        })}
      </nav>
      <div className="border-t border-border p-3">
        <LiveDot />
      </div>
    </>
  );
}

/**
 * Below the md breakpoint the sidebar is a drawer behind a menu button: a modal dialog
 * (focus kept inside, Esc or the backdrop closes it, focus returns to the button), closed
 * again by following a link.
 */
function MobileNav() {
  const [open, setOpen] = useState(false);
  return (
    <D.Root open={open} onOpenChange={setOpen}>
      <D.Trigger className="rounded-md p-2 text-muted hover:bg-subtle md:hidden" aria-label="Open menu" data-testid="menu-button">
        <Menu className="size-5" aria-hidden />
      </D.Trigger>
      <D.Portal>
        <D.Overlay className="fixed inset-0 z-40 bg-black/40 md:hidden" />
        <D.Content
          className="fixed inset-y-0 left-0 z-50 flex w-64 max-w-[80vw] flex-col border-r border-border bg-panel shadow-xl md:hidden"
          data-testid="menu-drawer"
        >
          <D.Title className="sr-only">Menu</D.Title>
          <D.Description className="sr-only">The workspace&apos;s sections</D.Description>
          <D.Close className="absolute top-3.5 right-3 rounded p-1 text-muted hover:bg-subtle" aria-label="Close menu">
            <X className="size-4" aria-hidden />
          </D.Close>
          <SidebarContent onNavigate={() => setOpen(false)} />
        </D.Content>
      </D.Portal>
    </D.Root>
  );
}

export function AppShell({ children }: { children: React.ReactNode }) {
  const { workspace, user } = useWorkspace();
  const { setTheme } = useTheme();
  useFocusableScrollers();
  return (
    <div className="flex min-h-screen">
      <aside className="sticky top-0 hidden h-screen w-56 shrink-0 flex-col border-r border-border bg-panel md:flex">
        <SidebarContent />
      </aside>
      <div className="flex min-w-0 flex-1 flex-col">
        <header className="sticky top-0 z-10 flex h-14 items-center justify-between gap-2 border-b border-border bg-panel/90 px-2 backdrop-blur sm:gap-4 sm:px-6">
          <div className="flex min-w-0 items-center gap-1 sm:gap-3">
            <MobileNav />
            <WorkspaceSwitcher />
            <CommandPalette />
          </div>
          <div className="flex shrink-0 items-center gap-1 sm:gap-3">
            <InboxBell />
            <button
              type="button"
              className="rounded-md p-2 text-muted hover:bg-subtle"
              aria-label="Toggle dark mode"
              onClick={() => setTheme(document.documentElement.classList.contains("dark") ? "light" : "dark")}
            >
              {/* Both icons, shown by the `dark` class: the server does not know the theme, so nothing here may depend on it. */}
              <Sun className="hidden size-4 dark:block" aria-hidden />
              <Moon className="size-4 dark:hidden" aria-hidden />
            </button>
            <div className="hidden text-right text-sm leading-tight sm:block">
              <div className="font-medium" data-testid="current-user">
                {user.name}
              </div>
              <div className="text-xs text-muted">{ROLE_LABELS[workspace.role]}</div>
            </div>
            <button
              type="button"
              className="flex items-center gap-1.5 rounded-md px-2 py-1.5 text-sm text-muted hover:bg-subtle"
              onClick={() => void signOut({ callbackUrl: "/signin" })}
              title={`Signed in as ${user.name}`}
            >
              <LogOut className="size-4" aria-hidden /> <span className="sr-only sm:not-sr-only">Sign out</span>
            </button>
          </div>
        </header>
        <KeyboardShortcuts />
        <main className="mx-auto w-full max-w-6xl min-w-0 flex-1 px-4 py-6 sm:px-6 sm:py-8">{children}</main>
      </div>
    </div>
  );
}

"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";
import { cn } from "~/components/ui/cn";
import { useWorkspace } from "./workspace-context";

const TABS = [
  { href: "/settings/members", label: "Members" },
  { href: "/settings/general", label: "General" },
  { href: "/settings/tokens", label: "API tokens" },
  { href: "/settings/api", label: "API reference" },
  { href: "/settings/system", label: "System" },
];

export function SettingsTabs() {
  const { workspace } = useWorkspace();
  const pathname = usePathname();
  return (
    <nav aria-label="Settings" className="mb-6 flex gap-1 border-b border-border">
      {TABS.map((t) => {
        const href = `/w/${workspace.slug}${t.href}`;
        const active = pathname === href;
        return (
          <Link
            key={t.href}
            href={href}
            aria-current={active ? "page" : undefined}
            className={cn(
              "-mb-px border-b-2 px-3 py-2 text-sm",
              active ? "border-accent font-medium" : "border-transparent text-muted hover:text-fg",
            )}
          >
            {t.label}
          </Link>
        );
      })}
    </nav>
  );
}

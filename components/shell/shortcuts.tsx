"use client";

import { useRouter } from "next/navigation";
import { useEffect, useRef, useState } from "react";
import { Dialog } from "~/components/ui/dialog";
import { useWorkspace } from "./workspace-context";

/** "g" then a letter: go to an area of the workspace. */
export const GO_TO: { key: string; href: string; label: string }[] = [
  { key: "h", href: "", label: "Home" },
  { key: "m", href: "/models", label: "Models" },
  { key: "t", href: "/datasets", label: "Datasets" },
  { key: "p", href: "/pipelines", label: "Pipelines" },
  { key: "r", href: "/reviews", label: "Reviews" },
  { key: "d", href: "/deployments", label: "Deployments" },
  { key: "o", href: "/monitoring", label: "Monitoring" },
  { key: "a", href: "/governance/audit", label: "Audit trail" },
  { key: "i", href: "/inbox", label: "Inbox" },
  { key: "s", href: "/settings", label: "Settings" },
];

/** Typing in a field, or a key with a modifier, is never a shortcut. */
function isTyping(e: KeyboardEvent) {
  const t = e.target as HTMLElement | null;
  return !!t && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName) || !!t.closest("[role=dialog]"));
}

/** Keyboard navigation beyond ⌘K: "g m" for models and the like, "?" for the list of every shortcut. */
export function KeyboardShortcuts() {
  const { workspace } = useWorkspace();
  const router = useRouter();
  const [help, setHelp] = useState(false);
  const pendingG = useRef<number | null>(null);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.metaKey || e.ctrlKey || e.altKey || e.defaultPrevented || isTyping(e)) return;
      if (e.key === "?") {
        e.preventDefault();
        setHelp(true);
        return;
      }
      if (pendingG.current !== null && Date.now() - pendingG.current < 1500) {
        pendingG.current = null;
        const target = GO_TO.find((g) => g.key === e.key.toLowerCase());
        if (target) {
          e.preventDefault();
          router.push(`/w/${workspace.slug}${target.href}`);
        }
        return;
      }
      pendingG.current = e.key.toLowerCase() === "g" && !e.shiftKey ? Date.now() : null;
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [router, workspace.slug]);
  const kbd = "rounded border border-border bg-subtle px-1.5 font-mono text-xs";
  return (
    <Dialog open={help} onOpenChange={setHelp} title="Keyboard shortcuts" description="Anywhere in the workspace, outside a text field.">
      <dl className="grid grid-cols-[auto_1fr] gap-x-4 gap-y-1.5 text-sm" data-testid="shortcuts-help">
        <dt>
          <kbd className={kbd}>⌘K</kbd> / <kbd className={kbd}>Ctrl K</kbd>
        </dt>
        <dd className="text-muted">Command palette: find anything, run an action</dd>
        <dt>
          <kbd className={kbd}>?</kbd>
        </dt>
        <dd className="text-muted">This list</dd>
        {GO_TO.map((g) => (
          <div key={g.key} className="contents">
            <dt>
              <kbd className={kbd}>g</kbd> then <kbd className={kbd}>{g.key}</kbd>
            </dt>
            <dd className="text-muted">Go to {g.label}</dd>
          </div>
        ))}
      </dl>
    </Dialog>
  );
}

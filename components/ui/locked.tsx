"use client";

import { Lock } from "lucide-react";
import { useId } from "react";
import { useWorkspace } from "~/components/shell/workspace-context";
import { permissionReason, type Permission } from "~/server/shared/permissions";

/**
 * A control the signed-in role cannot use, shown rather than hidden: greyed out with a lock,
 * focusable, the reason and who can do it in its tooltip and for screen readers.
 */
export function LockedAction({ permission, action, children }: { permission: Permission; action: string; children: React.ReactNode }) {
  const { workspace } = useWorkspace();
  const id = useId();
  const reason = permissionReason(workspace.role, permission, action);
  return (
    <span className="inline-flex" title={reason}>
      <button
        type="button"
        aria-disabled="true"
        aria-describedby={id}
        data-testid="locked-action"
        onClick={(e) => e.preventDefault()}
        className="inline-flex h-9 cursor-not-allowed items-center gap-1.5 rounded-md border border-dashed border-border px-3 text-sm font-medium text-muted"
      >
        <Lock className="size-3.5" aria-hidden /> {children}
      </button>
      <span id={id} className="sr-only">
        {reason}
      </span>
    </span>
  );
}

/** In place of a form the role cannot submit: what it would do, why not, and who can. */
export function NoPermission({ permission, action }: { permission: Permission; action: string }) {
  const { workspace } = useWorkspace();
  return (
    <div role="note" className="flex items-start gap-3 rounded-lg border border-border bg-subtle px-4 py-3 text-sm" data-testid="no-permission">
      <Lock className="mt-0.5 size-4 shrink-0 text-muted" aria-hidden />
      <p>{permissionReason(workspace.role, permission, action)}</p>
    </div>
  );
}

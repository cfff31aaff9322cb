"use client";

import { createContext, useContext } from "react";
import type { Role } from "~/server/shared/permissions";
import { can, type Permission } from "~/server/shared/permissions";

export type CurrentWorkspace = { id: string; slug: string; name: string; role: Role };
export type CurrentUser = { id: string; email: string; name: string };

const Ctx = createContext<{ workspace: CurrentWorkspace; user: CurrentUser } | null>(null);

export function WorkspaceProvider({ workspace, user, children }: { workspace: CurrentWorkspace; user: CurrentUser; children: React.ReactNode }) {
  return <Ctx.Provider value={{ workspace, user }}>{children}</Ctx.Provider>;
}

export function useWorkspace() {
  const v = useContext(Ctx);
  if (!v) throw new Error("useWorkspace() outside a workspace page");
  return v;
}

/** Hides what the role cannot do. The server decides regardless. */
export function useCan(permission: Permission) {
  return can(useWorkspace().workspace.role, permission);
}

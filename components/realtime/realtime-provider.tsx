"use client";

import { useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { createContext, useContext, useEffect, useState } from "react";
import { io, type Socket } from "socket.io-client";
import { toast } from "sonner";
import { useTRPC } from "~/components/trpc/client";

type Status = "connecting" | "live" | "offline";
const RealtimeContext = createContext<Status>("connecting");
export const useRealtimeStatus = () => useContext(RealtimeContext);

/**
 * One socket per tab, authenticated by the session cookie. Events are invalidation
 * hints: on each, the affected tRPC queries refetch, so authorization stays on the server.
 */
export function RealtimeProvider({ workspaceId, children }: { workspaceId: string; children: React.ReactNode }) {
  const queryClient = useQueryClient();
  const trpc = useTRPC();
  const router = useRouter();
  const [status, setStatus] = useState<Status>("connecting");

  useEffect(() => {
    const socket: Socket = io({ path: "/socket.io", transports: ["websocket", "polling"], withCredentials: true });
    socket.on("ready", () => setStatus("live"));
    socket.on("disconnect", () => setStatus("offline"));
    socket.on("connect_error", () => setStatus("offline"));
    socket.io.on("reconnect", () => {
      // Events may have been missed while offline: refetch what is on screen.
      void queryClient.invalidateQueries();
    });
    socket.on("audit.appended", (p: { workspaceId: string }) => {
      if (p.workspaceId !== workspaceId) return;
      // Every change in the workspace is audited, so this one hint covers them all.
      for (const key of [trpc.audit.pathKey(), trpc.datasets.pathKey(), trpc.models.pathKey(), trpc.tokens.pathKey(), trpc.pipelines.pathKey(), trpc.runs.pathKey(), trpc.deployments.pathKey()]) {
        void queryClient.invalidateQueries({ queryKey: key });
      }
    });
    socket.on("pipeline.progress", (p: { workspaceId: string }) => {
      if (p.workspaceId !== workspaceId) return;
      // A step started, logged or finished: the run, its logs and the lists that show it.
      void queryClient.invalidateQueries({ queryKey: trpc.runs.pathKey() });
    });
    socket.on("deployment.changed", (p: { workspaceId: string }) => {
      if (p.workspaceId !== workspaceId) return;
      void queryClient.invalidateQueries({ queryKey: trpc.deployments.pathKey() });
    });
    socket.on("members.changed", (p: { workspaceId: string }) => {
      if (p.workspaceId !== workspaceId) return;
      void queryClient.invalidateQueries({ queryKey: trpc.members.pathKey() });
    });
    socket.on("workspace.access_granted", () => {
      void queryClient.invalidateQueries({ queryKey: trpc.workspaces.pathKey() });
    });
    socket.on("workspace.access_revoked", (p: { workspaceId: string }) => {
      void queryClient.invalidateQueries({ queryKey: trpc.workspaces.pathKey() });
      if (p.workspaceId === workspaceId) {
        toast.error("You no longer have access to this workspace.");
        router.replace("/workspaces");
      }
    });
    return () => {
      socket.disconnect();
    };
  }, [workspaceId, queryClient, trpc, router]);

  return <RealtimeContext.Provider value={status}>{children}</RealtimeContext.Provider>;
}

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
const SocketContext = createContext<Socket | null>(null);
/** The tab's socket, for features that talk back (review-room presence, typing). */
export const useSocket = () => useContext(SocketContext);

/**
 * One socket per tab, authenticated by the session cookie. Events are invalidation
 * hints: on each, the affected tRPC queries refetch, so authorization stays on the server.
 */
export function RealtimeProvider({ workspaceId, children }: { workspaceId: string; children: React.ReactNode }) {
  const queryClient = useQueryClient();
  const trpc = useTRPC();
  const router = useRouter();
  const [status, setStatus] = useState<Status>("connecting");
  const [socketState, setSocketState] = useState<Socket | null>(null);

  useEffect(() => {
    const socket: Socket = io({ path: "/socket.io", transports: ["websocket", "polling"], withCredentials: true });
    setSocketState(socket);
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
      for (const key of [
        trpc.audit.pathKey(),
        trpc.datasets.pathKey(),
        trpc.models.pathKey(),
        trpc.tokens.pathKey(),
        trpc.pipelines.pathKey(),
        trpc.runs.pathKey(),
        trpc.deployments.pathKey(),
        trpc.reviews.pathKey(),
        trpc.policies.pathKey(),
        trpc.inventory.pathKey(),
        trpc.home.pathKey(),
      ]) {
        void queryClient.invalidateQueries({ queryKey: key });
      }
    });
    socket.on("pipeline.progress", (p: { workspaceId: string }) => {
      if (p.workspaceId !== workspaceId) return;
      // A step started, logged or finished: the run, its logs and the lists that show it.
      void queryClient.invalidateQueries({ queryKey: trpc.runs.pathKey() });
      // New check results change a review's evidence and checklist.
      void queryClient.invalidateQueries({ queryKey: trpc.reviews.pathKey() });
      // A run that finished (or failed) changes what needs the person.
      void queryClient.invalidateQueries({ queryKey: trpc.home.pathKey() });
    });
    socket.on("review.changed", (p: { workspaceId: string }) => {
      if (p.workspaceId !== workspaceId) return;
      void queryClient.invalidateQueries({ queryKey: trpc.reviews.pathKey() });
      void queryClient.invalidateQueries({ queryKey: trpc.home.pathKey() });
    });
    socket.on("monitoring.updated", (p: { workspaceId: string }) => {
      if (p.workspaceId !== workspaceId) return;
      void queryClient.invalidateQueries({ queryKey: trpc.monitoring.pathKey() });
      void queryClient.invalidateQueries({ queryKey: trpc.home.pathKey() });
    });
    socket.on("notification.created", () => {
      void queryClient.invalidateQueries({ queryKey: trpc.notifications.pathKey() });
      void queryClient.invalidateQueries({ queryKey: trpc.home.pathKey() });
    });
    socket.on("session.ended", () => {
      // Deactivated, or signed out everywhere: this tab's session is over.
      window.location.assign("/signin");
    });
    socket.on("deployment.changed", (p: { workspaceId: string }) => {
      if (p.workspaceId !== workspaceId) return;
      void queryClient.invalidateQueries({ queryKey: trpc.deployments.pathKey() });
      void queryClient.invalidateQueries({ queryKey: trpc.home.pathKey() });
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

  return (
    <RealtimeContext.Provider value={status}>
      <SocketContext.Provider value={socketState}>{children}</SocketContext.Provider>
    </RealtimeContext.Provider>
  );
}

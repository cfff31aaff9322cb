import "server-only";
import { eq } from "drizzle-orm";
import { getDb } from "~/db/client";
import { reviewRequests } from "~/db/schema";
import { liveRoom, reviewRoom, sessionRoom, userRoom, workspaceRoom, type RealtimeEvent, type RealtimeEvents } from "~/server/shared/rooms";

/**
 * What both socket.io's Server (with the Postgres adapter) and the Postgres emitter
 * offer; either reaches every browser on every web replica.
 */
export interface RealtimeSink {
  to(room: string): { emit(event: string, payload: unknown): unknown };
  in(room: string): {
    socketsJoin(room: string | string[]): unknown;
    socketsLeave(room: string | string[]): unknown;
    disconnectSockets(close?: boolean): unknown;
  };
}

// On globalThis: the custom server, Next's server bundle and the worker each load their
// own copy of this module, but the sink belongs to the process.
const g = globalThis as unknown as { __stewardRealtime?: RealtimeSink };

export function setRealtimeSink(sink: RealtimeSink | undefined) {
  g.__stewardRealtime = sink;
}

function sink() {
  return g.__stewardRealtime;
}

/** Call only after the transaction committed: a hint about uncommitted data is a lie. */
export const publish = {
  toWorkspace<E extends RealtimeEvent>(workspaceId: string, event: E, payload: RealtimeEvents[E]) {
    sink()?.to(workspaceRoom(workspaceId)).emit(event, payload);
  },
  toUser<E extends RealtimeEvent>(userId: string, event: E, payload: RealtimeEvents[E]) {
    sink()?.to(userRoom(userId)).emit(event, payload);
  },
  /** Membership changed: move the user's open sockets into or out of the workspace room at once. */
  grantWorkspace(userId: string, workspaceId: string) {
    sink()?.in(userRoom(userId)).socketsJoin(workspaceRoom(workspaceId));
    this.toUser(userId, "workspace.access_granted", { workspaceId });
  },
  /** The account was deactivated or its sessions ended: close its sockets on every replica. */
  disconnectUser(userId: string) {
    this.toUser(userId, "session.ended", { userId });
    sink()?.in(userRoom(userId)).disconnectSockets(true);
  },
  /** One signed-out session: close the sockets it opened, on every replica. */
  disconnectSession(sid: string) {
    sink()?.in(sessionRoom(sid)).disconnectSockets(true);
  },
  /**
   * Membership ended: the user's sockets leave every room of the workspace on every replica
   * — the workspace room, its live dashboard room and the room of each of its reviews
   * (all of the workspace's: a socket may sit in any of them). Room names are not scoped by
   * workspace, so the review ids are read first; the notice to the browser follows the move.
   * io.ts also checks membership when a socket joins a review room or sends to one.
   */
  revokeWorkspace(userId: string, workspaceId: string) {
    const s = sink();
    if (!s) return;
    void getDb()
      .select({ id: reviewRequests.id })
      .from(reviewRequests)
      .where(eq(reviewRequests.workspaceId, workspaceId))
      .catch((err: unknown) => {
        // Still leave the other rooms; the membership checks in io.ts keep review rooms shut.
        console.error("[realtime] could not list the workspace's review rooms:", err);
        return [];
      })
      .then((reviews) => {
        s.in(userRoom(userId)).socketsLeave([workspaceRoom(workspaceId), liveRoom(workspaceId), ...reviews.map((r) => reviewRoom(r.id))]);
        this.toUser(userId, "workspace.access_revoked", { workspaceId });
      })
      .catch((err: unknown) => console.error("[realtime] could not revoke workspace rooms:", err));
  },
};

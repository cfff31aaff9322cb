import "server-only";
import { liveRoom, userRoom, workspaceRoom, type RealtimeEvent, type RealtimeEvents } from "./rooms";

/**
 * What both socket.io's Server (with the Postgres adapter) and the Postgres emitter
 * offer; either reaches every browser on every web replica.
 */
export interface RealtimeSink {
  to(room: string): { emit(event: string, payload: unknown): unknown };
  in(room: string): { socketsJoin(room: string): unknown; socketsLeave(room: string): unknown; disconnectSockets(close?: boolean): unknown };
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
  revokeWorkspace(userId: string, workspaceId: string) {
    sink()?.in(userRoom(userId)).socketsLeave(workspaceRoom(workspaceId));
    sink()?.in(userRoom(userId)).socketsLeave(liveRoom(workspaceId));
    this.toUser(userId, "workspace.access_revoked", { workspaceId });
  },
};

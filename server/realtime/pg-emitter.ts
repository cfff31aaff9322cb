import "server-only";
import { sql } from "drizzle-orm";
import { getDb } from "~/db/client";
import { isDatabaseUnavailable } from "~/server/errors";
import { CHANNELS } from "~/server/platform/channels";
import type { RealtimeSink } from "./publish";

/**
 * Publishes to every web replica from a process that has no socket.io server (the
 * worker, scripts), by speaking @socket.io/postgres-adapter's protocol on its NOTIFY
 * channel. The published @socket.io/postgres-emitter (0.1.x) still speaks the format of
 * adapter 0.3 and is silently ignored by adapter 0.5, hence these few lines.
 * Payloads are invalidation hints, far below NOTIFY's 8000-byte limit.
 */
const EMITTER_UID = "emitter"; // the adapter's reserved uid for emitters: not counted as a node
const MessageType = { BROADCAST: 3, SOCKETS_JOIN: 4, SOCKETS_LEAVE: 5, DISCONNECT_SOCKETS: 6 } as const;
const PACKET_EVENT = 2;

// Hints lost while the database is away are logged once per outage (clients refetch on reconnect).
let lost = 0;
function notify(message: { type: number; data: unknown }) {
  const payload = JSON.stringify({ uid: EMITTER_UID, nsp: "/", ...message });
  getDb()
    .execute(sql`select pg_notify(${CHANNELS.realtime}, ${payload})`)
    .then(
      () => {
        if (lost) console.error(`[realtime] publishing again (${lost} hint(s) not delivered meanwhile)`);
        lost = 0;
      },
      (err: unknown) => {
        if (!lost++) console.error("[realtime] could not publish:", isDatabaseUnavailable(err) ? (err as Error).message : err);
      },
    );
}

const opts = (room: string) => ({ rooms: [room], except: [], flags: {} });

export const postgresEmitter: RealtimeSink = {
  to(room) {
    return {
      emit(event, payload) {
        notify({
          type: MessageType.BROADCAST,
          data: { packet: { type: PACKET_EVENT, data: [event, payload], nsp: "/" }, opts: opts(room) },
        });
      },
    };
  },
  in(room) {
    return {
      socketsJoin(target) {
        notify({ type: MessageType.SOCKETS_JOIN, data: { opts: opts(room), rooms: ([] as string[]).concat(target) } });
      },
      socketsLeave(target) {
        notify({ type: MessageType.SOCKETS_LEAVE, data: { opts: opts(room), rooms: ([] as string[]).concat(target) } });
      },
      disconnectSockets(close = false) {
        notify({ type: MessageType.DISCONNECT_SOCKETS, data: { opts: opts(room), close } });
      },
    };
  },
};

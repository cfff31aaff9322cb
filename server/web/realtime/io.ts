import "server-only";
import type { IncomingMessage, Server as HttpServer } from "node:http";
import { createAdapter } from "@socket.io/postgres-adapter";
import { and, eq, inArray } from "drizzle-orm";
import pg from "pg";
import { Server } from "socket.io";
import { getDb } from "~/db/client";
import { memberships, reviewRequests } from "~/db/schema";
import { env } from "~/env";
import { liveSessionUser, sessionClaimsFromCookieHeader, UUID, type LiveSessionUser } from "~/server/auth/sessions";
import { allowedOrigins, originAllowed } from "./origin";
import { setRealtimeSink } from "~/server/realtime/publish";
import { liveRoom, reviewRoom, sessionRoom, userRoom, workspaceRoom } from "~/server/shared/rooms";
import { REALTIME_CHANNEL_PREFIX } from "~/server/platform/channels";

// Hints are validated by the client's refetch, not by the socket: keep the event maps open.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Events = Record<string, (...args: any[]) => void>;

/**
 * Reads and verifies the next-auth session cookie from a socket handshake: the same check
 * as every request (a recorded, unexpired, not signed-out session of an active account at
 * the current session version).
 */
export async function userFromHandshake(req: IncomingMessage): Promise<LiveSessionUser | null> {
  return liveSessionUser(await sessionClaimsFromCookieHeader(req.headers.cookie));
}

/** Whether the user is (still) a member of the workspace a review request belongs to. */
async function memberOfReview(userId: string, requestId: string): Promise<boolean> {
  const [ok] = await getDb()
    .select({ id: reviewRequests.id })
    .from(reviewRequests)
    .innerJoin(memberships, and(eq(memberships.workspaceId, reviewRequests.workspaceId), eq(memberships.userId, userId)))
    .where(eq(reviewRequests.id, requestId));
  return Boolean(ok);
}

/** An optional acknowledgement: browsers fire and forget, tests learn what the server decided. */
const ackOf = (a: unknown) => (typeof a === "function" ? (a as (ok: boolean) => void) : () => undefined);

const requestIdOf = (p: unknown) => {
  const id = typeof p === "object" && p ? (p as { requestId?: unknown }).requestId : undefined;
  return typeof id === "string" && UUID.test(id) ? id : null;
};

/**
 * Attaches socket.io to the web server. Sockets are authenticated at the handshake
 * with the same session cookie as pages, join `user:<id>` and the rooms of the
 * workspaces they belong to; membership changes move them in and out (publish.ts).
 * The Postgres adapter carries broadcasts between web replicas and from workers.
 */
export function attachRealtime(httpServer: HttpServer) {
  const pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: 4, application_name: "steward-realtime", connectionTimeoutMillis: 5000 });
  // The adapter keeps one client checked out for LISTEN and listens only for its 'end'
  // (then reconnects); its 'error' — a database restart ending the connection (57P01) —
  // and an idle client's error on the pool would otherwise kill the web process unheard.
  pool.on("error", (err) => console.error("[realtime] idle connection lost:", err.message));
  pool.on("connect", (client) => client.on("error", (err) => console.error("[realtime] connection lost:", err.message)));
  const origins = allowedOrigins(env.NEXTAUTH_URL, env.ALLOWED_ORIGINS);
  const io = new Server<Events, Events, Events, { user: LiveSessionUser }>(httpServer, {
    serveClient: false,
    adapter: createAdapter(pool, { channelPrefix: REALTIME_CHANNEL_PREFIX, tableName: "socket_io_attachments", heartbeatInterval: 2000 }),
    cors: { origin: false },
    // Before any cookie is read: a page on another origin gets no socket (see origin.ts).
    allowRequest: (req, callback) => {
      const ok = originAllowed(req.headers.origin, origins, req.headers.host);
      callback(ok ? null : "origin not allowed", ok);
    },
  });

  io.use((socket, next) => {
    userFromHandshake(socket.request)
      .then((user) => {
        if (!user) return next(new Error("unauthorized"));
        socket.data.user = user;
        next();
      })
      .catch((err: unknown) => next(err instanceof Error ? err : new Error("handshake failed")));
  });

  io.on("connection", (socket) => {
    const user = socket.data.user;
    // A round trip on this connection: lets clients (and tests) measure latency and know
    // that everything sent to them before it has arrived.
    socket.on("steward:ping", (ack: unknown) => {
      if (typeof ack === "function") (ack as (t: number) => void)(Date.now());
    });
    // Review rooms: presence (who is here, on every web replica) and typing indicators.
    // Presence is recomputed from the room on every replica; a socket whose user is no
    // longer a member of the review's workspace is put out of the room instead of listed
    // (removal already moves it out; this covers a missed move).
    const presence = async (requestId: string) => {
      const room = reviewRoom(requestId);
      const sockets = await io.in(room).fetchSockets();
      const ids = [...new Set(sockets.map((x) => x.data.user.id))];
      const members = ids.length
        ? await getDb()
            .select({ userId: memberships.userId })
            .from(reviewRequests)
            .innerJoin(memberships, eq(memberships.workspaceId, reviewRequests.workspaceId))
            .where(and(eq(reviewRequests.id, requestId), inArray(memberships.userId, ids)))
        : [];
      const allowed = new Set(members.map((m) => m.userId));
      const people = new Map<string, { id: string; name: string }>();
      for (const x of sockets) {
        if (allowed.has(x.data.user.id)) people.set(x.data.user.id, { id: x.data.user.id, name: x.data.user.name });
        else x.leave(room);
      }
      io.to(room).emit("review.presence", { requestId, users: [...people.values()] });
    };
    socket.on("review:join", (p: unknown, a?: unknown) => {
      const ack = ackOf(a);
      const requestId = requestIdOf(p);
      if (!requestId) return ack(false);
      void (async () => {
        if (!(await memberOfReview(user.id, requestId))) return ack(false);
        await socket.join(reviewRoom(requestId));
        await presence(requestId);
        ack(true);
      })().catch((err: unknown) => {
        console.error("[realtime] review join failed:", err);
        ack(false);
      });
    });
    socket.on("review:leave", (p: unknown) => {
      const requestId = requestIdOf(p);
      if (!requestId || !socket.rooms.has(reviewRoom(requestId))) return;
      void socket.leave(reviewRoom(requestId));
      void presence(requestId).catch(() => undefined);
    });
    // Typing is relayed only for a member in the room, checked against the database each
    // time (clients send at most one a second): room membership alone could be stale.
    socket.on("review:typing", (p: unknown, a?: unknown) => {
      const ack = ackOf(a);
      const requestId = requestIdOf(p);
      if (!requestId || !socket.rooms.has(reviewRoom(requestId))) return ack(false);
      const threadId = (p as { threadId?: unknown }).threadId;
      void (async () => {
        if (!(await memberOfReview(user.id, requestId))) {
          await socket.leave(reviewRoom(requestId));
          return ack(false);
        }
        socket
          .to(reviewRoom(requestId))
          .emit("review.typing", { requestId, threadId: typeof threadId === "string" ? threadId : null, user: { id: user.id, name: user.name } });
        ack(true);
      })().catch((err: unknown) => {
        console.error("[realtime] typing failed:", err);
        ack(false);
      });
    });
    // Live dashboards: only sockets that show one get the per-second ticks, and only while
    // their user is a member — checked in the database, like review rooms: a removal that
    // landed while this socket was joining its rooms must not leave it watching.
    socket.on("monitoring:watch", (p: unknown, a?: unknown) => {
      const ack = ackOf(a);
      const workspaceId = (p as { workspaceId?: unknown } | null)?.workspaceId;
      if (typeof workspaceId !== "string" || !socket.rooms.has(workspaceRoom(workspaceId))) return ack(false);
      void (async () => {
        const [m] = await getDb()
          .select({ id: memberships.userId })
          .from(memberships)
          .where(and(eq(memberships.workspaceId, workspaceId), eq(memberships.userId, user.id)));
        if (!m) {
          await socket.leave(workspaceRoom(workspaceId));
          return ack(false);
        }
        await socket.join(liveRoom(workspaceId));
        ack(true);
      })().catch((err: unknown) => {
        console.error("[realtime] watch failed:", err);
        ack(false);
      });
    });
    socket.on("monitoring:unwatch", (p: unknown) => {
      const workspaceId = (p as { workspaceId?: unknown } | null)?.workspaceId;
      if (typeof workspaceId === "string") void socket.leave(liveRoom(workspaceId));
    });
    socket.on("disconnecting", () => {
      const rooms = [...socket.rooms].filter((r) => r.startsWith("review:")).map((r) => r.slice("review:".length));
      setImmediate(() => rooms.forEach((id) => void presence(id).catch(() => undefined)));
    });
    // The session's own rooms first, before any await: a sign-out while the memberships are
    // read must still find (and close) this socket.
    void socket.join([userRoom(user.id), sessionRoom(user.sid)]);
    void (async () => {
      const rows = await getDb().select({ workspaceId: memberships.workspaceId }).from(memberships).where(eq(memberships.userId, user.id));
      await socket.join(rows.map((r) => workspaceRoom(r.workspaceId)));
      socket.emit("ready", { rooms: rows.length });
    })().catch((err: unknown) => {
      console.error("[realtime] could not join rooms:", err);
      socket.disconnect(true);
    });
  });

  setRealtimeSink(io);
  return {
    io,
    async close() {
      setRealtimeSink(undefined);
      await new Promise<void>((resolve) => void io.close(() => resolve()));
      await pool.end().catch(() => undefined);
    },
  };
}

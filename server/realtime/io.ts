import "server-only";
import type { IncomingMessage, Server as HttpServer } from "node:http";
import { createAdapter } from "@socket.io/postgres-adapter";
import { parse as parseCookie } from "cookie";
import { and, eq } from "drizzle-orm";
import { decode } from "next-auth/jwt";
import pg from "pg";
import { Server } from "socket.io";
import { getDb } from "~/db/client";
import { memberships, reviewRequests, users } from "~/db/schema";
import { env } from "~/env";
import { setRealtimeSink } from "./publish";
import { liveRoom, reviewRoom, userRoom, workspaceRoom } from "./rooms";

// Hints are validated by the client's refetch, not by the socket: keep the event maps open.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Events = Record<string, (...args: any[]) => void>;

const SESSION_COOKIES = ["__Secure-next-auth.session-token", "next-auth.session-token"];

/** Reads and verifies the next-auth session cookie from a socket handshake. */
export async function userFromHandshake(req: IncomingMessage): Promise<{ id: string; email: string; name: string } | null> {
  const cookies = parseCookie(req.headers.cookie ?? "");
  const name = SESSION_COOKIES.find((n) => cookies[n]);
  if (!name) return null;
  const token = await decode({ token: cookies[name], secret: env.AUTH_SECRET }).catch(() => null);
  if (!token?.sub) return null;
  const [user] = await getDb().select({ id: users.id, email: users.email, name: users.name, deactivatedAt: users.deactivatedAt, sessionVersion: users.sessionVersion }).from(users).where(eq(users.id, token.sub));
  // A deactivated account, or a session ended by "sign out everywhere", gets no socket.
  if (!user || user.deactivatedAt || (token.sv ?? 0) !== user.sessionVersion) return null;
  return { id: user.id, email: user.email, name: user.name };
}

/**
 * Attaches socket.io to the web server. Sockets are authenticated at the handshake
 * with the same session cookie as pages, join `user:<id>` and the rooms of the
 * workspaces they belong to; membership changes move them in and out (publish.ts).
 * The Postgres adapter carries broadcasts between web replicas and from workers.
 */
export function attachRealtime(httpServer: HttpServer) {
  const pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: 4 });
  const io = new Server<Events, Events, Events, { user: { id: string; email: string; name: string } }>(httpServer, {
    serveClient: false,
    adapter: createAdapter(pool, { tableName: "socket_io_attachments", heartbeatInterval: 2000 }),
    cors: { origin: false },
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
    const presence = async (requestId: string) => {
      const sockets = await io.in(reviewRoom(requestId)).fetchSockets();
      const people = new Map(sockets.map((x) => [x.data.user.id, { id: x.data.user.id, name: x.data.user.name }]));
      io.to(reviewRoom(requestId)).emit("review.presence", { requestId, users: [...people.values()] });
    };
    socket.on("review:join", (p: unknown) => {
      const requestId = typeof p === "object" && p && typeof (p as { requestId?: unknown }).requestId === "string" ? (p as { requestId: string }).requestId : null;
      if (!requestId || !/^[0-9a-f-]{36}$/.test(requestId)) return;
      void (async () => {
        const [ok] = await getDb()
          .select({ id: reviewRequests.id })
          .from(reviewRequests)
          .innerJoin(memberships, and(eq(memberships.workspaceId, reviewRequests.workspaceId), eq(memberships.userId, user.id)))
          .where(eq(reviewRequests.id, requestId));
        if (!ok) return;
        await socket.join(reviewRoom(requestId));
        await presence(requestId);
      })().catch((err: unknown) => console.error("[realtime] review join failed:", err));
    });
    socket.on("review:leave", (p: unknown) => {
      const requestId = (p as { requestId?: string } | null)?.requestId;
      if (!requestId || !socket.rooms.has(reviewRoom(requestId))) return;
      void socket.leave(reviewRoom(requestId));
      void presence(requestId).catch(() => undefined);
    });
    socket.on("review:typing", (p: unknown) => {
      const { requestId, threadId } = (p ?? {}) as { requestId?: string; threadId?: string | null };
      if (!requestId || !socket.rooms.has(reviewRoom(requestId))) return;
      socket.to(reviewRoom(requestId)).emit("review.typing", { requestId, threadId: typeof threadId === "string" ? threadId : null, user: { id: user.id, name: user.name } });
    });
    // Live dashboards: only sockets that show one get the per-second ticks, and only for a
    // workspace the socket is already in (its user is a member).
    socket.on("monitoring:watch", (p: unknown) => {
      const workspaceId = (p as { workspaceId?: unknown } | null)?.workspaceId;
      if (typeof workspaceId !== "string" || !socket.rooms.has(workspaceRoom(workspaceId))) return;
      void socket.join(liveRoom(workspaceId));
    });
    socket.on("monitoring:unwatch", (p: unknown) => {
      const workspaceId = (p as { workspaceId?: unknown } | null)?.workspaceId;
      if (typeof workspaceId === "string") void socket.leave(liveRoom(workspaceId));
    });
    socket.on("disconnecting", () => {
      const rooms = [...socket.rooms].filter((r) => r.startsWith("review:")).map((r) => r.slice("review:".length));
      setImmediate(() => rooms.forEach((id) => void presence(id).catch(() => undefined)));
    });
    void (async () => {
      const rows = await getDb()
        .select({ workspaceId: memberships.workspaceId })
        .from(memberships)
        .where(eq(memberships.userId, user.id));
      await socket.join([userRoom(user.id), ...rows.map((r) => workspaceRoom(r.workspaceId))]);
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

import "server-only";
import { io as connect, type Socket } from "socket.io-client";
import { startSession } from "~/server/auth/sessions";
import { encodeSession } from "~/server/platform/keys";

/** A signed-in session as next-auth would issue it (a recorded session id in the token), as a Cookie header. */
export async function sessionCookie(user: { id: string; email: string }, sv = 0): Promise<string> {
  const sid = await startSession(user.id);
  return `next-auth.session-token=${await encodeSession({ token: { sub: user.id, email: user.email, sv, sid } })}`;
}

export type TestSocket = Socket & { events: [string, unknown][] };

/** A socket.io client over WebSocket with the given headers, recording every event it receives. */
export function testSocket(port: number, headers: Record<string, string>): TestSocket {
  const socket = connect(`http://127.0.0.1:${port}`, { transports: ["websocket"], extraHeaders: headers, reconnection: false }) as TestSocket;
  socket.events = [];
  socket.onAny((event: string, payload: unknown) => socket.events.push([event, payload]));
  return socket;
}

/** Resolves with the first `event` whose payload satisfies the predicate. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function nextEvent(socket: Socket, event: string, predicate: (p: any) => boolean = () => true) {
  return new Promise<unknown>((resolve) => {
    const handler = (p: unknown) => {
      if (predicate(p)) {
        socket.off(event, handler);
        resolve(p);
      }
    };
    socket.on(event, handler);
  });
}

/** "connected" once the handshake is accepted, or the refusal's message. */
export function handshakeOutcome(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    socket.once("connect", () => resolve("connected"));
    socket.once("connect_error", (err: Error) => resolve(err.message));
  });
}

import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { io as connect, type Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWorkspace, type CreatedUser } from "~/db/seed/factories";
import { mutate } from "~/server/audit/mutate";
import { removeMember } from "~/server/identity/members.service";
import { attachRealtime } from "./io";
import { postgresEmitter } from "~/server/realtime/pg-emitter";
import { liveRoom, workspaceRoom } from "~/server/shared/rooms";
import { sessionCookie } from "./test-clients";

/**
 * Two socket.io servers on two ports, as two web replicas would run, joined only through
 * Postgres (adapter), plus an emitter as the worker uses. A browser on either replica
 * must see what happens on the other.
 */
type Node = { http: HttpServer; close: () => Promise<void>; port: number };

async function startNode(): Promise<Node> {
  const http = createServer();
  const rt = attachRealtime(http);
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  return { http, close: rt.close, port: (http.address() as AddressInfo).port };
}

async function client(port: number, user: CreatedUser | null): Promise<Socket & { events: [string, unknown][] }> {
  const cookie = user ? await sessionCookie(user) : "";
  const socket = connect(`http://127.0.0.1:${port}`, {
    transports: ["websocket"],
    extraHeaders: cookie ? { cookie } : {},
    reconnection: false,
  }) as Socket & { events: [string, unknown][] };
  socket.events = [];
  socket.onAny((event: string, payload: unknown) => socket.events.push([event, payload]));
  return socket;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function next(socket: Socket, event: string, predicate: (p: any) => boolean = () => true) {
  // "ready" comes once per connection, possibly before the test starts listening (each
  // client records a session in the database before it connects, so they connect apart).
  const past = event === "ready" ? (socket as Socket & { events: [string, unknown][] }).events.find(([e]) => e === "ready") : undefined;
  if (past) return Promise.resolve(past[1]);
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

describe("realtime across replicas", () => {
  let a: Node;
  let b: Node;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    a = await startNode();
    b = await startNode(); // the process-wide publish sink is now b's io
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await a.close();
    await b.close();
  });

  it("refuses a handshake without a valid session", async () => {
    const s = await client(a.port, null);
    sockets.push(s);
    const err = await new Promise<Error>((resolve) => s.on("connect_error", resolve));
    expect(err.message).toBe("unauthorized");
  });

  it("delivers a mutation published on one replica to a browser on the other, and from a worker's emitter", async () => {
    const { workspace, owner } = await createWorkspace();
    const s = await client(a.port, owner);
    sockets.push(s);
    await next(s, "ready");

    const arrived = next(s, "audit.appended", (p: { workspaceId: string }) => p.workspaceId === workspace.id);
    await mutate(owner.wsActor, async (_tx, audit) => audit({ action: "workspace.renamed", target: { type: "workspace", id: workspace.id } }));
    expect(await arrived).toMatchObject({ workspaceId: workspace.id, seq: 3 });

    const fromWorker = next(s, "members.changed");
    postgresEmitter.to(workspaceRoom(workspace.id)).emit("members.changed", { workspaceId: workspace.id });
    expect(await fromWorker).toEqual({ workspaceId: workspace.id });
  });

  it("stops sending a workspace's events to a member the moment they are removed", async () => {
    const { workspace, owner, members } = await createWorkspace({ members: [{ role: "viewer" }] });
    const member = members[0]!;
    // Both browsers on replica a; the changes are published from replica b.
    const ownerSocket = await client(a.port, owner);
    const memberSocket = await client(a.port, member);
    sockets.push(ownerSocket, memberSocket);
    await Promise.all([next(ownerSocket, "ready"), next(memberSocket, "ready")]);

    const before = next(memberSocket, "audit.appended", (p: { workspaceId: string }) => p.workspaceId === workspace.id);
    await mutate(owner.wsActor, async (_tx, audit) => audit({ action: "workspace.renamed", target: { type: "workspace" } }));
    await before;

    const revoked = next(memberSocket, "workspace.access_revoked");
    await removeMember(owner.wsActor, member.id);
    expect(await revoked).toEqual({ workspaceId: workspace.id });

    memberSocket.events.length = 0;
    const ownerSaw = next(ownerSocket, "audit.appended", (p: { seq: number; workspaceId: string }) => p.workspaceId === workspace.id);
    await mutate(owner.wsActor, async (_tx, audit) => audit({ action: "workspace.renamed", target: { type: "workspace" } }));
    await ownerSaw;
    // Replica a has broadcast the event (the owner got it). A round trip on the member's
    // own connection now returns after anything a sent it before.
    await memberSocket.emitWithAck("steward:ping");
    expect(memberSocket.events.filter(([e]) => e === "audit.appended")).toEqual([]);
  });

  it("sends live ticks only to sockets that watch, and only for a workspace of their own, until they stop or are removed", async () => {
    const { workspace, owner, members } = await createWorkspace({ members: [{ role: "viewer" }] });
    const outsider = (await createWorkspace()).owner;
    const watcher = await client(a.port, owner);
    const idle = await client(b.port, owner);
    const member = await client(b.port, members[0]!);
    const intruder = await client(a.port, outsider);
    sockets.push(watcher, idle, member, intruder);
    await Promise.all([watcher, idle, member, intruder].map((s) => next(s, "ready")));
    // The watch is acknowledged once the membership check is done and the socket is in the live room.
    expect(await Promise.all([watcher, member, intruder].map((s) => s.emitWithAck("monitoring:watch", { workspaceId: workspace.id })))).toEqual([
      true,
      true,
      false,
    ]);

    const tick = (t: number) => ({
      workspaceId: workspace.id,
      t,
      replica: { id: "r1", cpuPct: 1, rssBytes: 1, heapBytes: 1, inFlight: 0, inFlightRuns: 0, loopLagMs: 0 },
      deployments: [],
    });
    const got = Promise.all([next(watcher, "monitoring.live"), next(member, "monitoring.live")]);
    postgresEmitter.to(liveRoom(workspace.id)).emit("monitoring.live", tick(1000));
    expect(await got).toEqual([tick(1000), tick(1000)]);

    // Stop watching; the member is removed; the next tick reaches the remaining watcher only.
    watcher.emit("monitoring:unwatch", { workspaceId: workspace.id });
    await watcher.emitWithAck("steward:ping");
    const revoked = next(member, "workspace.access_revoked");
    await removeMember(owner.wsActor, members[0]!.id);
    await revoked;
    // Fresh watchers on both replicas: once each has the next tick, its replica has sent it to everyone.
    const again = [await client(a.port, owner), await client(b.port, owner)];
    sockets.push(...again);
    await Promise.all(again.map((s) => next(s, "ready")));
    expect(await Promise.all(again.map((s) => s.emitWithAck("monitoring:watch", { workspaceId: workspace.id })))).toEqual([true, true]);
    const last = Promise.all(again.map((s) => next(s, "monitoring.live")));
    postgresEmitter.to(liveRoom(workspace.id)).emit("monitoring.live", tick(2000));
    await last;
    await Promise.all([watcher, idle, member, intruder].map((s) => s.emitWithAck("steward:ping")));
    const ticks = (s: typeof watcher) => s.events.filter(([e]) => e === "monitoring.live").map(([, p]) => (p as { t: number }).t);
    expect(ticks(watcher)).toEqual([1000]);
    expect(ticks(member)).toEqual([1000]);
    expect(ticks(idle)).toEqual([]);
    expect(ticks(intruder)).toEqual([]);
  });

  it("adds a socket to a workspace room when its user accepts an invitation", async () => {
    const { workspace, owner } = await createWorkspace();
    const other = await createWorkspace();
    const s = await client(a.port, other.owner);
    sockets.push(s);
    await next(s, "ready");
    const { inviteMember, acceptInvitation } = await import("~/server/identity/members.service");
    const inv = await inviteMember(owner.wsActor, { workspaceId: workspace.id, email: other.owner.email, role: "viewer" });
    const granted = next(s, "workspace.access_granted");
    await acceptInvitation(other.owner.actor, inv.token);
    expect(await granted).toEqual({ workspaceId: workspace.id });
    const live = next(s, "audit.appended", (p: { workspaceId: string }) => p.workspaceId === workspace.id);
    await mutate(owner.wsActor, async (_tx, audit) => audit({ action: "workspace.renamed", target: { type: "workspace" } }));
    await live;
  });
});

import { randomBytes } from "node:crypto";
import { createServer, request, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getDb } from "~/db/client";
import { memberships, models, modelVersions, reviewRequests } from "~/db/schema";
import { createWorkspace, type CreatedUser } from "~/db/seed/factories";
import { removeMember } from "~/server/identity/members.service";
import { attachRealtime } from "./io";
import { postgresEmitter } from "~/server/realtime/pg-emitter";
import { liveRoom, reviewRoom, userRoom, workspaceRoom } from "~/server/shared/rooms";
import { handshakeOutcome, nextEvent, sessionCookie, testSocket, type TestSocket } from "./test-clients";

/**
 * Who is in which room, on two replicas joined only through Postgres: every room kind
 * (user, workspace, live, review) × a member, a removed member (with a socket on each
 * replica) and a member of another workspace; plus the handshake's Origin check.
 */
type Node = { http: HttpServer; close: () => Promise<void>; port: number };
async function startNode(): Promise<Node> {
  const http = createServer();
  const rt = attachRealtime(http);
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  return { http, close: rt.close, port: (http.address() as AddressInfo).port };
}

/** A review request row to have a review room (the review flow itself is tested in server/reviews). */
async function reviewIn(workspaceId: string, requestedBy: string) {
  const db = getDb();
  const [m] = await db
    .insert(models)
    .values({ workspaceId, name: `m-${randomBytes(4).toString("hex")}` })
    .returning();
  const [v] = await db
    .insert(modelVersions)
    .values({
      workspaceId,
      modelId: m!.id,
      version: 1,
      sha256: randomBytes(32).toString("hex"),
      sizeBytes: 1,
      filename: "m.onnx",
      signature: { inputs: [], outputs: [] } as never,
    })
    .returning();
  const [r] = await db
    .insert(reviewRequests)
    .values({ workspaceId, number: 1, modelId: m!.id, modelVersionId: v!.id, alias: "production", summary: "Room test.", requestedBy })
    .returning();
  return r!;
}

/** The event, whether it has already arrived or is still to come. */
const seen = (s: TestSocket, event: string) => (s.events.some(([e]) => e === event) ? Promise.resolve() : nextEvent(s, event));
/** A presence notice listing `n` people, whether it has already arrived or is still to come. */
const presenceOf = (s: TestSocket, n: number) => {
  const full = (p: unknown) => (p as { users: unknown[] }).users.length === n;
  return s.events.some(([e, p]) => e === "review.presence" && full(p)) ? Promise.resolve() : nextEvent(s, "review.presence", full);
};
const ping = (sockets: TestSocket[]) => Promise.all(sockets.map((s) => s.emitWithAck("steward:ping")));
const received = (s: TestSocket) =>
  s.events
    .map(([e]) => e)
    .filter((e) => e !== "steward:ping")
    .sort();

describe("socket.io room matrix", () => {
  let a: Node;
  let b: Node;
  const sockets: TestSocket[] = [];
  beforeAll(async () => {
    a = await startNode();
    b = await startNode();
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await a.close();
    await b.close();
  });
  async function connect(node: Node, user: CreatedUser, headers: Record<string, string> = {}) {
    const s = testSocket(node.port, { cookie: await sessionCookie(user), ...headers });
    sockets.push(s);
    const ready = nextEvent(s, "ready");
    expect(await handshakeOutcome(s)).toBe("connected");
    await ready;
    return s;
  }

  it("gives each room's events to members only, and takes a removed member out of every room of the workspace on every replica", async () => {
    const { workspace, owner, members } = await createWorkspace({ members: [{ role: "reviewer" }, { role: "reviewer" }] });
    const [member, removed] = [members[0]!, members[1]!];
    const other = await createWorkspace();
    const review = await reviewIn(workspace.id, owner.id);
    const ws = workspace.id;

    const s = {
      owner: await connect(a, owner),
      member: await connect(b, member),
      removedA: await connect(a, removed),
      removedB: await connect(b, removed),
      outsider: await connect(b, other.owner),
    };
    const all = Object.values(s);
    const each = async <T>(f: (x: TestSocket) => Promise<T>) =>
      Object.fromEntries(await Promise.all(Object.entries(s).map(async ([k, x]) => [k, await f(x)] as const)));

    // Everyone asks into the review room and the live room; only members get in.
    expect(await each((x) => x.emitWithAck("review:join", { requestId: review.id }))).toEqual({
      owner: true,
      member: true,
      removedA: true,
      removedB: true,
      outsider: false,
    });
    // The last join's presence (three people) has reached every socket in the room.
    await Promise.all([s.owner, s.member, s.removedA, s.removedB].map((x) => presenceOf(x, 3)));
    expect(await each((x) => x.emitWithAck("monitoring:watch", { workspaceId: ws }))).toEqual({
      owner: true,
      member: true,
      removedA: true,
      removedB: true,
      outsider: false,
    });
    // Before removal, the soon-removed member hears typing in the review room.
    const heard = [nextEvent(s.removedA, "review.typing"), nextEvent(s.removedB, "review.typing")];
    expect(await s.member.emitWithAck("review:typing", { requestId: review.id, threadId: null })).toBe(true);
    await Promise.all(heard);

    const revoked = [nextEvent(s.removedA, "workspace.access_revoked"), nextEvent(s.removedB, "workspace.access_revoked")];
    await removeMember(owner.wsActor, removed.id);
    await Promise.all(revoked);
    // The removal's own hints (published before the move) have reached both replicas.
    await Promise.all([s.owner, s.member].flatMap((x) => [seen(x, "audit.appended"), seen(x, "members.changed")]));
    await ping(all);
    for (const x of all) x.events.length = 0;

    // One event to each room kind, from the worker's emitter (another process in production).
    postgresEmitter.to(workspaceRoom(ws)).emit("members.changed", { workspaceId: ws });
    postgresEmitter.to(liveRoom(ws)).emit("monitoring.live", {
      workspaceId: ws,
      t: 1,
      replica: { id: "r", cpuPct: 0, rssBytes: 0, heapBytes: 0, inFlight: 0, inFlightRuns: 0, loopLagMs: 0 },
      deployments: [],
    });
    postgresEmitter.to(reviewRoom(review.id)).emit("review.changed", { workspaceId: ws, requestId: review.id, number: 1 });
    postgresEmitter.to(userRoom(member.id)).emit("notification.created", { userId: member.id });
    // Typing from everyone who tries: relayed for the member only.
    expect(await each((x) => x.emitWithAck("review:typing", { requestId: review.id, threadId: null }))).toEqual({
      owner: true,
      member: true,
      removedA: false,
      removedB: false,
      outsider: false,
    });
    // The removed member cannot come back in, and presence (recomputed on a re-join) lists members only.
    expect(await s.removedA.emitWithAck("review:join", { requestId: review.id })).toBe(false);
    expect(await s.removedA.emitWithAck("monitoring:watch", { workspaceId: ws })).toBe(false);
    const presence = nextEvent(s.owner, "review.presence");
    expect(await s.member.emitWithAck("review:join", { requestId: review.id })).toBe(true);
    expect(((await presence) as { users: { id: string }[] }).users.map((u) => u.id).sort()).toEqual([owner.id, member.id].sort());

    // Once a socket on each replica has every broadcast, both replicas have delivered them;
    // a round trip on each connection then returns after anything sent to it before. (The
    // adapter publishes a broadcast before delivering it locally, so the re-join's own
    // presence can reach the member after its acknowledgement: it is waited for too.)
    await Promise.all(
      [
        [s.owner, ["members.changed", "monitoring.live", "review.changed", "review.typing", "review.presence"]],
        [s.member, ["members.changed", "monitoring.live", "review.changed", "review.typing", "notification.created", "review.presence"]],
      ].flatMap(([x, events]) => (events as string[]).map((e) => seen(x as TestSocket, e))),
    );
    await ping(all);
    expect(Object.fromEntries(Object.entries(s).map(([k, x]) => [k, received(x)]))).toEqual({
      owner: ["members.changed", "monitoring.live", "review.changed", "review.presence", "review.typing"],
      member: ["members.changed", "monitoring.live", "notification.created", "review.changed", "review.presence", "review.typing"],
      removedA: [],
      removedB: [],
      outsider: [],
    });
  });

  it("checks membership itself when a socket that missed its removal sends typing, and puts it out of the room", async () => {
    const { workspace, owner, members } = await createWorkspace({ members: [{ role: "reviewer" }] });
    const review = await reviewIn(workspace.id, owner.id);
    const watcher = await connect(a, owner);
    const stale = await connect(a, members[0]!);
    for (const x of [watcher, stale]) expect(await x.emitWithAck("review:join", { requestId: review.id })).toBe(true);
    // The second join's presence (both people) is in on both sockets; the adapter delivers a
    // broadcast after publishing it, so it can come after the join's acknowledgement.
    await Promise.all([watcher, stale].map((x) => presenceOf(x, 2)));
    await ping([watcher, stale]);
    // The membership row goes without any socket being moved (as if the move were lost).
    await getDb()
      .delete(memberships)
      .where(and(eq(memberships.workspaceId, workspace.id), eq(memberships.userId, members[0]!.id)));
    watcher.events.length = 0;
    expect(await stale.emitWithAck("review:typing", { requestId: review.id, threadId: null })).toBe(false);
    stale.events.length = 0;
    postgresEmitter.to(reviewRoom(review.id)).emit("review.changed", { workspaceId: workspace.id, requestId: review.id, number: 1 });
    await nextEvent(watcher, "review.changed");
    await ping([watcher, stale]);
    expect(received(watcher)).toEqual(["review.changed"]);
    expect(received(stale)).toEqual([]);
    // Nor can it start watching the live dashboard: the watch checks the database too, and puts it out of the workspace room.
    expect(await stale.emitWithAck("monitoring:watch", { workspaceId: workspace.id })).toBe(false);
    expect(await watcher.emitWithAck("monitoring:watch", { workspaceId: workspace.id })).toBe(true);
    postgresEmitter.to(workspaceRoom(workspace.id)).emit("members.changed", { workspaceId: workspace.id });
    await nextEvent(watcher, "members.changed");
    await ping([watcher, stale]);
    expect(received(stale)).toEqual([]);
  });
});

describe("socket.io handshake Origin", () => {
  let node: Node;
  const sockets: TestSocket[] = [];
  beforeAll(async () => {
    node = await startNode();
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await node.close();
  });

  it("refuses a handshake from another origin before looking at the cookie, and accepts the app's own", async () => {
    const { owner } = await createWorkspace();
    const cookie = await sessionCookie(owner);
    const app = new URL(process.env.NEXTAUTH_URL!).origin;
    const outcome = async (origin?: string) => {
      const s = testSocket(node.port, { cookie, ...(origin ? { origin } : {}) });
      sockets.push(s);
      return handshakeOutcome(s);
    };
    expect(await outcome("https://evil.example")).not.toBe("connected");
    expect(await outcome("null")).not.toBe("connected");
    expect(await outcome(app)).toBe("connected");
    expect(await outcome(undefined)).toBe("connected");

    // The same refusal seen over plain HTTP (the polling transport): 403 with the reason.
    const polling = (origin: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request({ host: "127.0.0.1", port: node.port, path: "/socket.io/?EIO=4&transport=polling", headers: { origin, cookie } }, (res) => {
          let body = "";
          res.on("data", (c: Buffer) => (body += c.toString()));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on("error", reject);
        req.end();
      });
    const refused = await polling("https://evil.example");
    expect(refused.status).toBe(403);
    expect(refused.body).toContain("origin not allowed");
    expect((await polling(app)).status).toBe(200);
  });
});

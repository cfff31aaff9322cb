import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { eq } from "drizzle-orm";
import { createRequire } from "node:module";
import path from "node:path";
import type { Session } from "next-auth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getDb } from "~/db/client";
import { authSessions, users } from "~/db/schema";
import { createUser, createWorkspace } from "~/db/seed/factories";
import { attachRealtime } from "~/server/web/realtime/io";
import { handshakeOutcome, nextEvent, testSocket, type TestSocket } from "~/server/web/realtime/test-clients";
import { callerFor, expectTrpcError } from "~/test/helpers";
import { createCaller } from "~/server/web/trpc/root";
import { contextFor } from "~/server/web/trpc/context";
import { authOptions } from "~/server/web/auth/options";
import { setInitialPassword, upsertOidcUser } from "~/server/identity/users.service";
import { liveUserOfSession } from "~/server/web/auth/session";
import { liveSessionUser, startSession } from "./sessions";

/**
 * Sessions are revocable: each request goes through next-auth's own handler (the code
 * behind /api/auth/*) with the cookies a browser would hold, and the captured session
 * cookie is replayed after sign-out against a tRPC query (the session the route would
 * build its context from) and a socket.io handshake.
 */
const BASE = process.env.NEXTAUTH_URL ?? "http://localhost:3000";
// next-auth's request handler (what /api/auth/[...nextauth] runs once Next has read the
// cookies); the package does not export its path, so it is loaded by file.
type AuthResponse = { status?: number; body?: unknown; redirect?: string; cookies?: { name: string; value: string; options?: { maxAge?: number } }[] };
const { AuthHandler } = createRequire(import.meta.url)(path.resolve("node_modules/next-auth/core/index.js")) as {
  AuthHandler: (p: { req: Request; options: unknown }) => Promise<AuthResponse>;
};
type Jar = Map<string, string>;
const cookieHeader = (jar: Jar) => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");

async function auth(jar: Jar, method: "GET" | "POST", path: string, body?: Record<string, string>) {
  const res = await AuthHandler({
    req: new Request(`${BASE}/api/auth/${path}`, {
      method,
      headers: { cookie: cookieHeader(jar), host: new URL(BASE).host, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    }),
    options: authOptions,
  });
  for (const c of res.cookies ?? []) {
    if (c.options?.maxAge === 0 || c.value === "") jar.delete(c.name);
    else jar.set(c.name, c.value);
  }
  return res;
}

async function signIn(email: string, password: string): Promise<Jar> {
  const jar: Jar = new Map();
  const { body } = await auth(jar, "GET", "csrf");
  const res = await auth(jar, "POST", "callback/credentials", { csrfToken: (body as { csrfToken: string }).csrfToken, email, password, json: "true" });
  expect(res.redirect, "sign-in did not succeed").not.toMatch(/error=/);
  expect(jar.has("next-auth.session-token")).toBe(true);
  return jar;
}

async function signOut(jar: Jar) {
  const { body } = await auth(jar, "GET", "csrf");
  await auth(jar, "POST", "signout", { csrfToken: (body as { csrfToken: string }).csrfToken, json: "true" });
}

/** What the tRPC route does with a request's cookies: next-auth's session, then the live check. */
async function trpcWith(cookie: string) {
  const jar: Jar = new Map(cookie.split("; ").map((kv) => kv.split("=", 2) as [string, string]));
  const { body } = await auth(jar, "GET", "session");
  return createCaller(contextFor(await liveUserOfSession(body as Session)));
}

const sessionCookieOf = (jar: Jar) => `next-auth.session-token=${jar.get("next-auth.session-token")}`;

describe("sign-out revokes the session server-side", () => {
  let http: HttpServer;
  let close: () => Promise<void>;
  let port: number;
  const sockets: TestSocket[] = [];
  beforeAll(async () => {
    http = createServer();
    close = attachRealtime(http).close;
    await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
    port = (http.address() as AddressInfo).port;
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await close();
  });
  const socketWith = (cookie: string) => {
    const s = testSocket(port, { cookie });
    sockets.push(s);
    return s;
  };

  it("refuses the captured cookie after sign-out, for tRPC and the socket handshake, and closes the open socket", async () => {
    const { owner } = await createWorkspace();
    const jar = await signIn(owner.email, owner.password);
    const stolen = sessionCookieOf(jar);

    // Before: the cookie works for tRPC and for a socket.
    await expect((await trpcWith(stolen)).workspaces.list()).resolves.toHaveLength(1);
    const open = socketWith(stolen);
    expect(await handshakeOutcome(open)).toBe("connected");
    await nextEvent(open, "ready");
    const closed = new Promise<string>((r) => open.once("disconnect", r));

    await signOut(jar);
    expect(jar.has("next-auth.session-token")).toBe(false);

    // After: the same cookie, replayed, is refused everywhere, and the socket it opened is closed.
    await expectTrpcError((await trpcWith(stolen)).workspaces.list(), "UNAUTHORIZED");
    expect(await handshakeOutcome(socketWith(stolen))).toBe("unauthorized");
    expect(await closed).toBe("io server disconnect");
  });

  it("ends only the session that signed out: the same account's other browser stays signed in", async () => {
    const user = await createUser();
    const laptop = await signIn(user.email, user.password);
    const laptopCookie = sessionCookieOf(laptop);
    const phone = await signIn(user.email, user.password);
    await signOut(laptop);
    await expectTrpcError((await trpcWith(laptopCookie)).auth.me(), "UNAUTHORIZED");
    await expect((await trpcWith(sessionCookieOf(phone))).auth.me()).resolves.toMatchObject({ hasPassword: true });
    expect(await handshakeOutcome(socketWith(sessionCookieOf(phone)))).toBe("connected");
  });

  it("refuses a validly signed token that carries no recorded session", async () => {
    const user = await createUser();
    const jar = await signIn(user.email, user.password);
    const cookie = sessionCookieOf(jar);
    await getDb().delete(authSessions).where(eq(authSessions.userId, user.id));
    await expectTrpcError((await trpcWith(cookie)).auth.me(), "UNAUTHORIZED");
    expect(await handshakeOutcome(socketWith(cookie))).toBe("unauthorized");
  });

  it("'sign out everywhere' ends every session of the account, and deactivation does too", async () => {
    const admin = await createUser();
    await getDb().update(users).set({ instanceAdmin: true }).where(eq(users.id, admin.id));
    const user = await createUser();
    const a = sessionCookieOf(await signIn(user.email, user.password));
    const b = sessionCookieOf(await signIn(user.email, user.password));
    await (await trpcWith(a)).auth.endAllSessions();
    await expectTrpcError((await trpcWith(a)).auth.me(), "UNAUTHORIZED");
    await expectTrpcError((await trpcWith(b)).auth.me(), "UNAUTHORIZED");

    const c = sessionCookieOf(await signIn(user.email, user.password));
    await expect((await trpcWith(c)).auth.me()).resolves.toBeTruthy();
    await callerFor(admin).accounts.setActive({ userId: user.id, active: false });
    await expectTrpcError((await trpcWith(c)).auth.me(), "UNAUTHORIZED");
    expect(await getDb().select().from(authSessions).where(eq(authSessions.userId, user.id))).toEqual([]);
  });

  it("a password change ends the account's other sessions, and keeps the one that made it", async () => {
    const sso = await upsertOidcUser(`sso-${Date.now()}-${Math.random().toString(36).slice(2)}@test.steward.local`, "Sso Person");
    const [here, elsewhere] = [await startSession(sso.id), await startSession(sso.id)];
    await setInitialPassword({ type: "user", userId: sso.id, email: sso.email }, { password: "Correct-Horse-Battery-9" }, {}, here);
    expect(await liveSessionUser({ sub: sso.id, sv: 0, sid: here })).toMatchObject({ id: sso.id });
    expect(await liveSessionUser({ sub: sso.id, sv: 0, sid: elsewhere })).toBeNull();
  });
});

describe("callbackUrl through next-auth's handler", () => {
  // The review's request, and its CR/LF and non-ASCII variants, as next-auth receives them.
  it.each([
    ["%2F%09%2Fevil.example", "/"],
    ["%2F%0D%0A%2Fevil.example", "/"],
    ["%2F%0D%0ASet-Cookie%3A%20x%3D1", "/"],
    ["https%3A%2F%2Fevil.example%2F", "/"],
    ["%2F%2Fevil.example", "/"],
    ["%2Fw%2Fd%C3%A9mo", "/w/d%C3%A9mo"],
    ["%2Fw%2Facme%3Ftab%3Dmodels", "/w/acme?tab=models"],
  ])("GET /api/auth/signin?callbackUrl=%s sends the browser to our sign-in page with %s", async (raw, path) => {
    const jar: Jar = new Map();
    const res = await auth(jar, "GET", `signin?callbackUrl=${raw}`);
    const location = new URL(res.redirect!, BASE);
    expect(location.origin).toBe(new URL(BASE).origin);
    expect(location.pathname).toBe("/signin");
    const callback = new URL(location.searchParams.get("callbackUrl")!);
    expect(callback.origin).toBe(new URL(BASE).origin);
    expect(`${callback.pathname}${callback.search}`).toBe(path);
    // The cookie next-auth keeps the callback in is the sanitised one too.
    expect(jar.get("next-auth.callback-url")).toBe(`${new URL(BASE).origin}${path}`);
  });

  it("a sign-out from an invitation page returns to our sign-in page, and a hostile one goes home", async () => {
    const user = await createUser();
    const jar = await signIn(user.email, user.password);
    const { body } = await auth(jar, "GET", "csrf");
    const out = await auth(jar, "POST", "signout", {
      csrfToken: (body as { csrfToken: string }).csrfToken,
      callbackUrl: "/signin?callbackUrl=/invite/tok",
      json: "true",
    });
    expect(out.redirect).toBe(`${new URL(BASE).origin}/signin?callbackUrl=/invite/tok`);
    const jar2 = await signIn(user.email, user.password);
    const csrf2 = (await auth(jar2, "GET", "csrf")).body as { csrfToken: string };
    const hostile = await auth(jar2, "POST", "signout", { csrfToken: csrf2.csrfToken, callbackUrl: "/\t/evil.example", json: "true" });
    expect(hostile.redirect).toBe(`${new URL(BASE).origin}/`);
  });
});

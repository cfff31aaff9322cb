import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { sql } from "drizzle-orm";
import superjson from "superjson";
import { z } from "zod";
import { afterAll, describe, expect, it, vi } from "vitest";
import { freePort } from "~/bin/lib/embedded-pg";
import { createDb } from "~/db/client";
import { handleRest, route } from "~/server/web/rest/rest";
import { DATABASE_UNAVAILABLE } from "~/server/shared/unavailable";
import { responseHeaders } from "./init";
import { publicProcedure, router } from "./procedures";

/*
 * A database that is not there (a closed port: the driver's own ECONNREFUSED, through
 * Drizzle), reached through both transports: 503 with Retry-After and a reason the browser
 * shows as "reconnecting", never 500 "Something went wrong".
 */
const gone = createDb(`postgres://postgres@127.0.0.1:${await freePort()}/nothing`, 1);
afterAll(() => gone.sql.end({ timeout: 1 }));
const query = () => gone.db.execute(sql`select 1`);

const probe = router({
  write: publicProcedure.input(z.object({ name: z.string() })).mutation(async () => {
    await query();
    return "written";
  }),
  read: publicProcedure.input(z.void()).query(async () => (await query(), "read")),
});

const trpc = (path: string, init: RequestInit, createContext: () => Promise<object>) =>
  fetchRequestHandler({
    endpoint: "/api/trpc",
    req: new Request(`http://localhost/api/trpc/${path}`, init),
    router: probe,
    createContext: createContext as never,
    responseMeta: ({ errors }) => ({ headers: responseHeaders("req-1", errors) }),
  });

describe("the database unavailable", () => {
  it("tRPC: a mutation and a query answer 503 with Retry-After, SERVICE_UNAVAILABLE and the database-unavailable reason", async () => {
    const log = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const ctx = async () => ({ session: null, requestId: "req-1" });
    const write = await trpc(
      "write",
      { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(superjson.serialize({ name: "x" })) },
      ctx,
    );
    expect(write.status).toBe(503);
    expect(write.headers.get("retry-after")).toBe("5");
    const body = (await write.json()) as { error: { json: { message: string; data: Record<string, unknown> } } };
    expect(body.error.json.message).toMatch(/database is unavailable.*retry in 5 s/);
    expect(body.error.json.data).toMatchObject({ code: "SERVICE_UNAVAILABLE", httpStatus: 503, reason: DATABASE_UNAVAILABLE, retryAfter: 5 });
    const read = await trpc("read", { method: "GET" }, ctx);
    expect(read.status).toBe(503);
    expect(read.headers.get("retry-after")).toBe("5");
    log.mockRestore();
  });

  it("tRPC: the session lookup failing while the context is built is a 503 too, not a 500", async () => {
    const read = await trpc("read", { method: "GET" }, async () => {
      await query();
      return { session: null, requestId: "req-1" };
    });
    expect(read.status).toBe(503);
    expect(((await read.json()) as { error: { json: { data: { reason: string } } } }).error.json.data.reason).toBe(DATABASE_UNAVAILABLE);
  });

  it("REST: 503 with Retry-After and the DATABASE_UNAVAILABLE code", async () => {
    const log = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const routes = [route({ method: "POST", path: "/things", summary: "probe", tag: "probe", permission: null, handler: async () => query() })];
    const res = await handleRest(new Request("http://localhost/api/v1/things", { method: "POST" }), routes, "/api/v1/things", async () => null);
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    expect(await res.json()).toMatchObject({
      error: { code: DATABASE_UNAVAILABLE, message: expect.stringMatching(/database is unavailable.*retry in 5 s/) as unknown },
    });
    expect(log.mock.calls.flat().join(" ")).toContain("database unavailable");
    log.mockRestore();
  });
});

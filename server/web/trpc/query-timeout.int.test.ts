import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { sql } from "drizzle-orm";
import { afterAll, describe, expect, it, inject, vi } from "vitest";
import { createDb } from "~/db/client";
import { handleRest, route } from "~/server/web/rest/rest";
import { responseHeaders } from "./init";
import { publicProcedure, router } from "./procedures";

/*
 * A statement past the web's statement timeout (DB_STATEMENT_TIMEOUT_SECONDS; here a pool
 * with 200 ms and a query that would take 10 s): the server stops it and frees the
 * connection, and both transports say what happened — 503 QUERY_TIMEOUT, nothing changed —
 * instead of 500 "Something went wrong".
 */
const slow = createDb(inject("databaseUrl"), 1, { statementTimeoutMs: 200 });
afterAll(() => slow.sql.end({ timeout: 1 }));
const query = () => slow.db.execute(sql`select pg_sleep(10)`);

const probe = router({ read: publicProcedure.query(async () => (await query(), "read")) });

describe("a statement past the statement timeout", () => {
  it("tRPC: 503 SERVICE_UNAVAILABLE saying it took too long and nothing was changed", async () => {
    const log = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const res = await fetchRequestHandler({
      endpoint: "/api/trpc",
      req: new Request("http://localhost/api/trpc/read", { method: "GET" }),
      router: probe,
      createContext: async () => ({ session: null, requestId: "req-1" }),
      responseMeta: ({ errors }) => ({ headers: responseHeaders("req-1", errors) }),
    });
    expect(res.status).toBe(503);
    const body = (await res.json()) as { error: { json: { message: string; data: Record<string, unknown> } } };
    expect(body.error.json.message).toMatch(/took too long and was stopped; nothing was changed/);
    expect(body.error.json.data).toMatchObject({ code: "SERVICE_UNAVAILABLE", httpStatus: 503 });
    expect(log.mock.calls.flat().join(" ")).toMatch(/read failed \(request req-1\)/); // logged in full: a query that slow is worth a look
    log.mockRestore();
    // The connection is free again: the next statement runs.
    await expect(slow.db.execute(sql`select 1 as ok`)).resolves.toEqual([{ ok: 1 }]);
  });

  it("REST: 503 with the QUERY_TIMEOUT code", async () => {
    const log = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const routes = [route({ method: "GET", path: "/slow", summary: "probe", tag: "probe", permission: null, handler: async () => query() })];
    const res = await handleRest(new Request("http://localhost/api/v1/slow"), routes, "/api/v1/slow", async () => null);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: { code: "QUERY_TIMEOUT", message: expect.stringMatching(/took too long/) as unknown } });
    log.mockRestore();
  });
});

import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { describe, expect, it, vi } from "vitest";
import { AppError } from "~/server/errors";
import { handleRest, route } from "~/server/web/rest/rest";
import { contextFor } from "./context";
import { createCallerFactory, publicProcedure, router } from "./procedures";

const probe = router({
  boom: publicProcedure.input(z.void()).query(() => {
    throw new Error('relation "secret_table" does not exist at /srv/steward/server/x.ts:12');
  }),
  conflict: publicProcedure.input(z.void()).query(() => {
    throw Object.assign(new Error("duplicate key"), { code: "23505" });
  }),
  echo: publicProcedure.input(z.object({ note: z.object({ text: z.string() }) })).mutation(({ input }) => input.note.text),
  app: publicProcedure.input(z.void()).query(() => {
    throw new AppError("PRECONDITION_FAILED", "This invitation has expired. Ask for a new one.", { field: "token" });
  }),
  // A service validating with zod itself (the procedure's own input passed).
  service: publicProcedure.input(z.void()).mutation(() => serviceRule()),
});
const RuleShape = z.object({
  rule: z.object({
    threshold: z.number({ error: "threshold must be a number." }),
    windowMinutes: z.number().int().min(1, "windowMinutes must be at least 1."),
  }),
});
const serviceRule = () => RuleShape.parse({ rule: { threshold: "high", windowMinutes: 0 } });
const formatted = (err: TRPCError) =>
  probe._def._config.errorFormatter({
    error: err,
    type: "mutation",
    path: "x",
    input: undefined,
    ctx: undefined,
    shape: { message: err.message, code: -32600, data: { code: err.code, httpStatus: 400, path: "x" } },
  });
const rest = async (handler: () => Promise<unknown>) => {
  const routes = [route({ method: "POST", path: "/probe", summary: "probe", tag: "probe", permission: null, handler })];
  const res = await handleRest(new Request("http://localhost/api/v1/probe", { method: "POST" }), routes, "/api/v1/probe", async () => null);
  return { status: res.status, body: (await res.json()) as { error: Record<string, unknown> } };
};
const caller = createCallerFactory(probe)(contextFor(null, { requestId: "req-123" }));

describe("inputs Postgres cannot store", () => {
  it("refuses a NUL character or a lone surrogate anywhere in the input with a 400 naming where, before the procedure runs", async () => {
    await expect(caller.echo({ note: { text: "fine" } })).resolves.toBe("fine");
    await expect(caller.echo({ note: { text: "a\u0000b" } })).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: "note.text: holds a NUL character (\\u0000), which cannot be stored; remove it.",
    });
    await expect(caller.echo({ note: { text: "\ud800" } })).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringContaining("note.text: holds an unpaired UTF-16 surrogate") as unknown,
    });
  });
});

describe("error mapping", () => {
  it("never shows an unknown error's message, and logs it with the request id", async () => {
    const log = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const err = await caller.boom().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TRPCError);
    expect((err as TRPCError).code).toBe("INTERNAL_SERVER_ERROR");
    const shape = probe._def._config.errorFormatter({
      error: err as TRPCError,
      type: "query",
      path: "boom",
      input: undefined,
      ctx: undefined,
      shape: { message: (err as TRPCError).message, code: -32603, data: { code: "INTERNAL_SERVER_ERROR", httpStatus: 500, path: "boom" } },
    });
    expect(shape.message).toBe("Something went wrong. Please try again.");
    expect(JSON.stringify(shape)).not.toMatch(/secret_table|\/srv\//);
    expect(log.mock.calls.flat().join(" ")).toContain("req-123");
    log.mockRestore();
  });

  it("maps a Postgres unique violation to CONFLICT and an AppError to its code and field", async () => {
    expect(await caller.conflict().catch((e: TRPCError) => e.code)).toBe("CONFLICT");
    const err = (await caller.app().catch((e: unknown) => e)) as TRPCError;
    expect(err.code).toBe("PRECONDITION_FAILED");
    expect(err.message).toBe("This invitation has expired. Ask for a new one.");
    expect(err.cause).toMatchObject({ field: "token" });
  });
});

describe("one error mapping for tRPC and REST (server/web/errors.ts)", () => {
  it("a zod failure thrown by a service names the field of its first issue and lists every issue, on both transports", async () => {
    const err = (await caller.service().catch((e: unknown) => e)) as TRPCError;
    expect(err.code).toBe("BAD_REQUEST");
    expect(err.message).toBe("rule.threshold: threshold must be a number.");
    const issues = [
      { path: "rule.threshold", message: "threshold must be a number." },
      { path: "rule.windowMinutes", message: "windowMinutes must be at least 1." },
    ];
    expect(formatted(err).data).toMatchObject({ field: "rule.threshold", issues, zodError: { fieldErrors: { rule: expect.any(Array) } } });
    const r = await rest(async () => serviceRule());
    expect(r.status).toBe(400);
    expect(r.body.error).toEqual({ code: "INVALID", message: err.message, field: "rule.threshold", issues });
  });

  it("an AppError keeps its code, message and field on both transports; no issues", async () => {
    const err = (await caller.app().catch((e: unknown) => e)) as TRPCError;
    expect(formatted(err).data).toMatchObject({ field: "token", issues: null, zodError: null });
    const r = await rest(async () => {
      throw new AppError("PRECONDITION_FAILED", "This invitation has expired. Ask for a new one.", { field: "token" });
    });
    expect(r.status).toBe(412);
    expect(r.body.error).toEqual({ code: "PRECONDITION_FAILED", message: err.message, field: "token" });
  });

  it("storage errors: 507 and 503 on REST, SERVICE_UNAVAILABLE on tRPC; a unique violation is a 409 CONFLICT", async () => {
    expect((await rest(async () => Promise.reject(new AppError("STORAGE_FULL", "The artifact store is full.")))).status).toBe(507);
    expect((await rest(async () => Promise.reject(new AppError("STORAGE_UNAVAILABLE", "The artifact store cannot be written.")))).status).toBe(503);
    const dup = await rest(async () => Promise.reject(Object.assign(new Error("duplicate key"), { code: "23505" })));
    expect(dup).toEqual({ status: 409, body: expect.objectContaining({ error: { code: "CONFLICT", message: "This already exists." } }) });
  });
});

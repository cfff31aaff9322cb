import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { describe, expect, it, vi } from "vitest";
import { AppError } from "~/server/errors";
import { contextFor } from "./context";
import { createCallerFactory, publicProcedure, router } from "./procedures";

const probe = router({
  boom: publicProcedure.input(z.void()).query(() => {
    throw new Error('relation "secret_table" does not exist at /srv/steward/server/x.ts:12');
  }),
  conflict: publicProcedure.input(z.void()).query(() => {
    throw Object.assign(new Error("duplicate key"), { code: "23505" });
  }),
  app: publicProcedure.input(z.void()).query(() => {
    throw new AppError("PRECONDITION_FAILED", "This invitation has expired. Ask for a new one.", { field: "token" });
  }),
});
const caller = createCallerFactory(probe)(contextFor(null, { requestId: "req-123" }));

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

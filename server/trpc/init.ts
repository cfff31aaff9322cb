import "server-only";
import { initTRPC, TRPCError } from "@trpc/server";
import superjson from "superjson";
import { z, ZodError } from "zod";
import type { Permission } from "~/server/authz/permissions";
import { AppError, isUniqueViolation } from "~/server/errors";
import type { Context } from "./context";

/* ---------------------------------------------------------------------------
 * Procedure metadata: every procedure declares who may call it. The authorization
 * matrix test reads this from the router and fails on a procedure without it.
 * ------------------------------------------------------------------------- */
export type ProcedureMeta =
  | { auth: "public" }
  | { auth: "user" }
  | { auth: "workspace"; permission: Permission };

const INTERNAL_MESSAGE = "Something went wrong. Please try again.";

function zodMessage(err: ZodError) {
  const first = err.issues[0];
  if (!first) return "The input is not valid.";
  const field = first.path.join(".");
  // Always name the field, so an API client knows which one without parsing zodError.
  return field ? `${field}: ${first.message}` : first.message;
}

export const t = initTRPC
  .context<Context>()
  .meta<ProcedureMeta>()
  .create({
    transformer: superjson,
    errorFormatter({ shape, error }) {
      const cause = error.cause;
      const zodError = cause instanceof ZodError ? z.flattenError(cause) : null;
      const field = cause instanceof AppError ? cause.field : zodError ? cause && (cause as ZodError).issues[0]?.path.join(".") : undefined;
      const isInternal = error.code === "INTERNAL_SERVER_ERROR";
      return {
        ...shape,
        message: isInternal ? INTERNAL_MESSAGE : shape.message,
        data: {
          code: shape.data.code,
          httpStatus: shape.data.httpStatus,
          path: shape.data.path,
          zodError,
          field: field || null,
          // Never a stack: not in production, not in tests.
          stack: undefined,
        },
      };
    },
  });

const CODE_MAP = {
  NOT_FOUND: "NOT_FOUND",
  FORBIDDEN: "FORBIDDEN",
  CONFLICT: "CONFLICT",
  INVALID: "BAD_REQUEST",
  PRECONDITION_FAILED: "PRECONDITION_FAILED",
  RATE_LIMITED: "TOO_MANY_REQUESTS",
  UNAUTHORIZED: "UNAUTHORIZED",
} as const;

/** Maps what services throw to tRPC codes in one place; unknown errors are logged, never shown. */
export const errorMapper = t.middleware(async ({ ctx, next, path }) => {
  const result = await next();
  if (result.ok) return result;
  const err = result.error;
  const cause = err.cause;
  if (cause instanceof AppError) {
    throw new TRPCError({ code: CODE_MAP[cause.code], message: cause.message, cause });
  }
  if (cause instanceof ZodError) {
    throw new TRPCError({ code: "BAD_REQUEST", message: zodMessage(cause), cause });
  }
  if (isUniqueViolation(cause)) {
    throw new TRPCError({ code: "CONFLICT", message: "This already exists.", cause });
  }
  if (err.code === "INTERNAL_SERVER_ERROR") {
    console.error(`[trpc] ${path} failed (request ${ctx.requestId}):`, cause ?? err);
  }
  return result;
});

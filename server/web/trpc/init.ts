import "server-only";
import { initTRPC, TRPCError } from "@trpc/server";
import superjson from "superjson";
import type { Permission } from "~/server/shared/permissions";
import { unstorableString } from "~/server/platform/json-body";
import { databaseErrorSummary, isDatabaseUnavailable } from "~/server/errors";
import { DATABASE_RETRY_AFTER_SECONDS, DATABASE_UNAVAILABLE, databaseUnavailableMessage } from "~/server/shared/unavailable";
import { ERROR_CODES, errorDetails, INTERNAL_MESSAGE, mapError } from "~/server/web/errors";
import type { Context } from "./context";

/* ---------------------------------------------------------------------------
 * Procedure metadata: every procedure declares who may call it. The authorization
 * matrix test reads this from the router and fails on a procedure without it.
 * ------------------------------------------------------------------------- */
export type ProcedureMeta = { auth: "public" } | { auth: "user" } | { auth: "instance" } | { auth: "workspace"; permission: Permission };

export const t = initTRPC
  .context<Context>()
  .meta<ProcedureMeta>()
  .create({
    transformer: superjson,
    errorFormatter({ shape, error }) {
      // The same field and issues as a REST error body (server/web/errors.ts); zodError for forms.
      const { field, issues, zodError } = errorDetails(error.cause);
      const isInternal = error.code === "INTERNAL_SERVER_ERROR";
      // The database is away (also when it failed while building the context, before any
      // middleware): 503 with a reason the browser shows as "reconnecting", never a 500.
      if (isDatabaseUnavailable(error)) {
        return {
          ...shape,
          message: databaseUnavailableMessage(),
          data: {
            code: "SERVICE_UNAVAILABLE" as const,
            httpStatus: 503,
            path: shape.data.path,
            zodError: null,
            field: null,
            issues: null,
            reason: DATABASE_UNAVAILABLE,
            retryAfter: DATABASE_RETRY_AFTER_SECONDS,
            stack: undefined,
          },
        };
      }
      return {
        ...shape,
        message: isInternal ? INTERNAL_MESSAGE : shape.message,
        data: {
          code: shape.data.code,
          httpStatus: shape.data.httpStatus,
          path: shape.data.path,
          zodError,
          field,
          issues,
          reason: null,
          retryAfter: null,
          // Never a stack: not in production, not in tests.
          stack: undefined,
        },
      };
    },
  });

/**
 * Refuses, before any procedure runs, an input holding a string Postgres cannot store (a NUL
 * character or a lone surrogate): a 400 naming where it is, instead of a database error.
 */
export const storableInput = t.middleware(async ({ getRawInput, next }) => {
  const bad = unstorableString(await getRawInput(), "input");
  if (bad)
    throw new TRPCError({
      code: "BAD_REQUEST",
      message: `${bad.path.replace(/^input\.?/, "") || "input"}: holds ${bad.reason}, which cannot be stored; remove it.`,
    });
  return next();
});

/** Headers of a tRPC response: its request id, and Retry-After when the database was away. */
export function responseHeaders(requestId: string, errors: readonly TRPCError[]) {
  const headers = new Headers({ "x-request-id": requestId });
  // The body says it too (data.reason, data.retryAfter); this is for HTTP clients and proxies.
  if (errors.some((e) => isDatabaseUnavailable(e))) headers.set("retry-after", String(DATABASE_RETRY_AFTER_SECONDS));
  return headers;
}

/** Maps what services throw to tRPC codes, through the mapping REST uses too; unknown errors are logged, never shown. */
export const errorMapper = t.middleware(async ({ ctx, next, path }) => {
  const result = await next();
  if (result.ok) return result;
  const err = result.error;
  const cause = err.cause ?? err;
  const mapped = mapError(cause);
  if (mapped.kind === "refusal") throw new TRPCError({ code: ERROR_CODES[mapped.code].trpc, message: mapped.message, cause });
  if (mapped.kind === "unavailable") {
    // One line, not a stack per request: the outage itself is logged by whoever noticed it.
    console.error(`[trpc] ${path}: database unavailable (request ${ctx.requestId}): ${databaseErrorSummary(cause)}`);
    throw new TRPCError({ code: ERROR_CODES[mapped.code].trpc, message: mapped.message, cause });
  }
  if (err.code === "INTERNAL_SERVER_ERROR") {
    console.error(`[trpc] ${path} failed (request ${ctx.requestId}):`, cause);
  }
  // A statement stopped by the web's statement timeout: logged above, told to the caller as what it is.
  if (mapped.code === "QUERY_TIMEOUT") throw new TRPCError({ code: ERROR_CODES[mapped.code].trpc, message: mapped.message, cause });
  return result;
});

import "server-only";
import { z, ZodError } from "zod";
import { AppError, type AppErrorCode, isDatabaseUnavailable, isQueryTimeout, isUniqueViolation } from "~/server/errors";
import { DATABASE_RETRY_AFTER_SECONDS, DATABASE_UNAVAILABLE, databaseUnavailableMessage } from "~/server/shared/unavailable";

/*
 * What services throw, mapped once for both transports: tRPC (server/web/trpc/init.ts) and
 * REST (server/web/rest/rest.ts) read the same code, status, message and field from here, so
 * an error names the same field whichever way the request came in.
 */

/** The code a caller sees: an AppError's own code, or what an error that is not one means. */
export type ErrorCode = AppErrorCode | typeof DATABASE_UNAVAILABLE | "QUERY_TIMEOUT" | "INTERNAL";

/** One row per code: its HTTP status (REST) and its tRPC code (tRPC has no 507: both storage errors are "try again later"). */
export const ERROR_CODES = {
  NOT_FOUND: { status: 404, trpc: "NOT_FOUND" },
  FORBIDDEN: { status: 403, trpc: "FORBIDDEN" },
  CONFLICT: { status: 409, trpc: "CONFLICT" },
  INVALID: { status: 400, trpc: "BAD_REQUEST" },
  PRECONDITION_FAILED: { status: 412, trpc: "PRECONDITION_FAILED" },
  RATE_LIMITED: { status: 429, trpc: "TOO_MANY_REQUESTS" },
  UNAUTHORIZED: { status: 401, trpc: "UNAUTHORIZED" },
  STORAGE_FULL: { status: 507, trpc: "SERVICE_UNAVAILABLE" },
  STORAGE_UNAVAILABLE: { status: 503, trpc: "SERVICE_UNAVAILABLE" },
  [DATABASE_UNAVAILABLE]: { status: 503, trpc: "SERVICE_UNAVAILABLE" },
  QUERY_TIMEOUT: { status: 503, trpc: "SERVICE_UNAVAILABLE" },
  INTERNAL: { status: 500, trpc: "INTERNAL_SERVER_ERROR" },
} as const satisfies Record<ErrorCode, { status: number; trpc: string }>;

export const INTERNAL_MESSAGE = "Something went wrong. Please try again.";

/** One zod issue, its path written as the field name a form uses ("rule.threshold", "datasets.0.ref"). */
export type ErrorIssue = { path: string; message: string };

/** The input at fault: the field and, for a zod failure, every issue (the first one's path is the field). */
export type ErrorDetails = { field: string | null; issues: ErrorIssue[] | null; zodError: ReturnType<typeof z.flattenError> | null };

export type MappedError = ErrorDetails & {
  code: ErrorCode;
  message: string;
  /** Seconds a client should wait before retrying (the database is away), else null. */
  retryAfter: number | null;
  /** What happened to the error: a refusal the caller caused, an outage to log in one line, or an unknown error to log in full. */
  kind: "refusal" | "unavailable" | "unknown";
};

const pathOf = (p: readonly PropertyKey[]) => p.map(String).join(".");

/** The message of a zod failure: its first issue, always naming the field so an API client knows which one. */
export function zodMessage(err: ZodError, where?: string) {
  const first = err.issues[0];
  if (!first) return "The input is not valid.";
  const field = pathOf(first.path) || where;
  return field ? `${field}: ${first.message}` : first.message;
}

/** The field and the zod issues behind an error (an AppError's field; a ZodError's, or an AppError caused by one, issues). */
export function errorDetails(err: unknown): ErrorDetails {
  const zod = err instanceof ZodError ? err : err instanceof AppError && err.cause instanceof ZodError ? err.cause : null;
  const issues = zod ? zod.issues.map((i) => ({ path: pathOf(i.path), message: i.message })) : null;
  const field = err instanceof AppError ? err.field : issues?.[0]?.path;
  return { field: field || null, issues, zodError: zod ? z.flattenError(zod) : null };
}

/**
 * Maps anything a request may throw: an AppError to its code; a zod failure to INVALID naming
 * the field of its first issue; a Postgres unique violation to CONFLICT; the database away to
 * DATABASE_UNAVAILABLE (503, retry after); anything else to INTERNAL with a message that
 * reveals nothing (the caller logs the original with its request id).
 */
export function mapError(err: unknown): MappedError {
  const details = errorDetails(err);
  const refusal = (code: ErrorCode, message: string): MappedError => ({ ...details, code, message, retryAfter: null, kind: "refusal" });
  if (err instanceof AppError) return refusal(err.code, err.message);
  if (err instanceof ZodError) return refusal("INVALID", zodMessage(err));
  if (isUniqueViolation(err)) return refusal("CONFLICT", "This already exists.");
  if (isDatabaseUnavailable(err))
    return { ...details, code: DATABASE_UNAVAILABLE, message: databaseUnavailableMessage(), retryAfter: DATABASE_RETRY_AFTER_SECONDS, kind: "unavailable" };
  if (isQueryTimeout(err)) {
    // Logged in full (kind "unknown"): a query that slow is worth a look. Nothing was changed (its transaction rolled back).
    return {
      ...details,
      code: "QUERY_TIMEOUT",
      message: "This took too long and was stopped; nothing was changed. Narrow it down (a filter, a shorter period) or try again.",
      retryAfter: null,
      kind: "unknown",
    };
  }
  return { ...details, code: "INTERNAL", message: INTERNAL_MESSAGE, retryAfter: null, kind: "unknown" };
}

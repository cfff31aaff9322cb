export type AppErrorCode =
  | "NOT_FOUND"
  | "FORBIDDEN"
  | "CONFLICT"
  | "INVALID"
  | "PRECONDITION_FAILED"
  | "RATE_LIMITED"
  | "UNAUTHORIZED"
  /** The artifact store has no room left (HTTP 507). */
  | "STORAGE_FULL"
  /** The artifact store cannot be written (HTTP 503). */
  | "STORAGE_UNAVAILABLE";

/**
 * What services throw. The message is shown to the user verbatim, so it is a full
 * sentence that says what happened and what to do. `field` names the input at fault.
 */
export class AppError extends Error {
  readonly code: AppErrorCode;
  readonly field?: string;
  constructor(code: AppErrorCode, message: string, options?: { cause?: unknown; field?: string }) {
    super(message, { cause: options?.cause });
    this.name = "AppError";
    this.code = code;
    this.field = options?.field;
  }
}

export function isUniqueViolation(err: unknown): boolean {
  let e: unknown = err;
  for (let i = 0; i < 5 && e; i++) {
    if (typeof e === "object" && e !== null && "code" in e && (e as { code?: unknown }).code === "23505") return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/*
 * Errors that mean "the database cannot be reached right now", not "this request is wrong":
 * refused or reset connections, a server shutting down or starting up (57P01 admin
 * shutdown, 57P02 crash shutdown, 57P03 cannot connect now), connection exceptions (class
 * 08), and the postgres.js / node-postgres errors for a connection that ended under a query.
 * The one classification behind tRPC's and REST's 503 and the inference process's
 * credential grace (see server/shared/unavailable.ts for the wording).
 */
const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "57P01",
  "57P02",
  "57P03",
  "CONNECTION_ENDED",
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
]);
// node-postgres reports a lost socket by message only.
const UNAVAILABLE_MESSAGES =
  /^(Connection terminated( unexpectedly| due to connection timeout)?|timeout exceeded when trying to connect|Client has encountered a connection error and is not queryable|Client was closed and is not queryable)$/;

/** A statement the server stopped for running past its statement_timeout (57014; the web's DB_STATEMENT_TIMEOUT_SECONDS). */
export function isQueryTimeout(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === "object" && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof AppError) return false;
    if ((e as { code?: unknown }).code === "57014") return true;
  }
  return false;
}

export function isDatabaseUnavailable(err: unknown): boolean {
  const seen = new Set<unknown>();
  const visit = (e: unknown, depth: number): boolean => {
    // A service's own refusal is never an outage, whatever its words.
    if (!e || typeof e !== "object" || depth > 6 || seen.has(e) || e instanceof AppError) return false;
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && (UNAVAILABLE_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
    if (e instanceof Error && UNAVAILABLE_MESSAGES.test(e.message)) return true;
    // Node reports a refused dual-stack connect as an AggregateError of both attempts.
    if (e instanceof AggregateError && e.errors.some((x) => visit(x, depth + 1))) return true;
    return visit((e as { cause?: unknown }).cause, depth + 1);
  };
  return visit(err, 0);
}

/** The driver's own words for an outage (the innermost error: not Drizzle's "Failed query" with its parameters), for a one-line log. */
export function databaseErrorSummary(err: unknown): string {
  let e: unknown = err;
  for (let i = 0; i < 6 && e && typeof e === "object" && (e as { cause?: unknown }).cause; i++) e = (e as { cause?: unknown }).cause;
  const code = (e as { code?: unknown } | null)?.code;
  const message = e instanceof Error ? e.message : String(e);
  return typeof code === "string" && !message.includes(code) ? `${code} ${message}` : message;
}

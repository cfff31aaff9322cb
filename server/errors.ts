export type AppErrorCode =
  | "NOT_FOUND"
  | "FORBIDDEN"
  | "CONFLICT"
  | "INVALID"
  | "PRECONDITION_FAILED"
  | "RATE_LIMITED"
  | "UNAUTHORIZED";

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

/*
 * The words and the code for "the database is away for a moment", shared by the server
 * (tRPC, REST, the inference process) and the browser, which shows a reconnecting state
 * instead of an error when it sees them.
 */

/** `data.reason` of a tRPC error and `error.code` of a REST error while Postgres is unreachable. */
export const DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE";

/** What clients are told to wait before retrying (the Retry-After header, in seconds). */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

export function databaseUnavailableMessage(seconds = DATABASE_RETRY_AFTER_SECONDS) {
  return `The database is unavailable at the moment; retry in ${seconds} s. Nothing was changed.`;
}

/** What the browser shows for such an error: it retries on its own. */
export const RECONNECTING_MESSAGE = "Reconnecting to the database…";

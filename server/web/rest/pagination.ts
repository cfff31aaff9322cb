import "server-only";
import { z } from "zod";
import { AppError } from "~/server/errors";
import { decodeCursor, encodeCursor } from "~/server/platform/cursor";

/*
 * Paged lists keep their body a JSON array (clients that read the first page need no
 * change); the next page's opaque cursor is in the X-Next-Cursor header and a Link rel="next",
 * absent on the last page.
 */

export const PageQuery = z.object({
  cursor: z.string().max(500).optional(),
  limit: z.coerce.number().int().min(1, "limit must be at least 1.").max(500, "limit must be at most 500.").default(100),
});

export const cursorKey = {
  number: (list: string, cursor: string | undefined) => (cursor === undefined ? undefined : decodeCursor(list, cursor, "number")),
  string: (list: string, cursor: string | undefined) => (cursor === undefined ? undefined : decodeCursor(list, cursor, "string")),
  /** A two-part key (e.g. name, then id for ties), encoded by `pairKey`. */
  pair: (list: string, cursor: string | undefined): [string, string] | undefined => {
    if (cursor === undefined) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(decodeCursor(list, cursor, "string"));
    } catch {
      parsed = null;
    }
    if (!Array.isArray(parsed) || parsed.length !== 2 || !parsed.every((x) => typeof x === "string"))
      throw new AppError("INVALID", "cursor is not a cursor of this list: pass back the nextCursor of an earlier page unchanged.", { field: "cursor" });
    return parsed as [string, string];
  },
};
export const pairKey = (a: string, b: string) => JSON.stringify([a, b]);

/** The tRPC side of the same lists: `{ items, nextCursor }` (useInfiniteQuery's shape), from rows fetched with limit + 1. */
export const TrpcPage = z.object({
  cursor: z.string().max(500).nullish(),
  limit: z.number().int().min(1, "limit must be at least 1.").max(200, "limit must be at most 200.").default(50),
});
export function pageOf<T>(rows: T[], limit: number, list: string, keyOf: (row: T) => string | number) {
  const more = rows.length > limit;
  const items = more ? rows.slice(0, limit) : rows;
  return { items, nextCursor: more ? encodeCursor(list, keyOf(items[items.length - 1]!)) : null };
}

/** `rows` fetched with limit + 1: answers the first `limit` and, when there was one more, where the next page starts. */
export function paged<T>(
  rows: T[],
  limit: number,
  list: string,
  keyOf: (row: T) => string | number,
  url: string,
  requestId: string,
  view: (row: T) => unknown = (row) => row,
) {
  const more = rows.length > limit;
  const items = more ? rows.slice(0, limit) : rows;
  const headers: Record<string, string> = { "x-request-id": requestId, "access-control-expose-headers": "x-next-cursor, link" };
  if (more) {
    const next = encodeCursor(list, keyOf(items[items.length - 1]!));
    const u = new URL(url);
    u.searchParams.set("cursor", next);
    headers["x-next-cursor"] = next;
    headers.link = `<${u.pathname}${u.search}>; rel="next"`;
  }
  return Response.json(items.map(view), { headers });
}

import { AppError } from "~/server/errors";

/*
 * Opaque page cursors: base64url JSON of the last item's sort key and the list it belongs
 * to. Clients pass them back untouched; one list's cursor is refused by another, and a
 * cursor that was tampered with is a 400 naming `cursor`, never a query on garbage.
 */

export function encodeCursor(list: string, key: string | number) {
  return Buffer.from(JSON.stringify({ l: list, k: key })).toString("base64url");
}

export function decodeCursor(list: string, cursor: string, type: "string"): string;
export function decodeCursor(list: string, cursor: string, type: "number"): number;
export function decodeCursor(list: string, cursor: string, type: "string" | "number"): string | number {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    parsed = null;
  }
  const p = parsed as { l?: unknown; k?: unknown } | null;
  if (!p || p.l !== list || typeof p.k !== type || (type === "number" && !Number.isSafeInteger(p.k)))
    throw new AppError("INVALID", `cursor is not a cursor of this list: pass back the nextCursor of an earlier page unchanged.`, { field: "cursor" });
  return p.k as string | number;
}

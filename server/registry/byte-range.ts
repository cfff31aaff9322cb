import type { ByteRange } from "~/server/artifacts/store";

/**
 * An HTTP Range header against a file of `size` bytes: one range (`a-b`, `a-`, `-n`) →
 * its inclusive bounds; no header, several ranges or another unit → null (the whole file,
 * as RFC 9110 lets a server answer); a range that starts past the end → "unsatisfiable".
 */
export function parseRange(header: string | null | undefined, size: number): ByteRange | null | "unsatisfiable" {
  if (!header) return null;
  const m = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return null;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size) return "unsatisfiable";
  if (end < start) return null;
  return { start, end };
}

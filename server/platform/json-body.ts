// Isomorphic: limits on untrusted JSON that JSON.parse alone does not enforce.

/**
 * How deep free-form JSON (a ground-truth label, rarely more than 3 levels) may nest lists
 * and objects. Deeper bodies cost stack in every recursive consumer after the parse
 * (JSON.stringify, Postgres's jsonb parser), so they are refused before parsing. Predict
 * bodies are bounded by their tensors' rank instead (tensors.ts, MAX_RANK).
 */
export const MAX_JSON_DEPTH = 32;

/**
 * The nesting depth of a JSON text, read from its bytes without parsing (string contents
 * are skipped), stopping as soon as it passes `limit`. UTF-8 continuation bytes are never
 * ASCII, so scanning bytes is exact.
 */
export function jsonDepth(bytes: Uint8Array, limit = Infinity): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: the next byte is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * The path of the first string (value or key) Postgres cannot store in text or jsonb:
 * one holding a NUL character or a lone UTF-16 surrogate ("\ud800"). Null when none.
 * Iterative, so it is safe on any depth.
 */
export function unstorableString(value: unknown, root = "$"): { path: string; reason: string } | null {
  const stack: [unknown, string][] = [[value, root]];
  const bad = (s: string) => (s.includes("\u0000") ? "a NUL character (\\u0000)" : LONE_SURROGATE.test(s) ? "an unpaired UTF-16 surrogate" : null);
  while (stack.length) {
    const [v, path] = stack.pop()!;
    if (typeof v === "string") {
      const reason = bad(v);
      if (reason) return { path, reason };
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${path}[${i}]`]);
    } else if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        const reason = bad(k);
        if (reason) return { path: `${path} (a key)`, reason };
        stack.push([x, `${path}.${k}`]);
      }
    }
  }
  return null;
}

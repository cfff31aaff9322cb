/*
 * The filter string of a model's version list, in the spirit of MLflow's search filters:
 * clauses joined by `and`, each one of
 *   metrics.<name> <op> <number>      op: = != < <= > >=
 *   params.<name> = '<text>' | != '<text>'
 *   tag = '<text>'  (the version carries this tag)
 *   loadable = true | false
 * e.g. `metrics.auc >= 0.8 and tag = 'candidate'`. Parsed here, applied in SQL by the
 * registry (server/registry/models.service.ts, listModelVersions).
 */

export type VersionClause =
  | { kind: "metric"; name: string; op: "=" | "!=" | "<" | "<=" | ">" | ">="; value: number }
  | { kind: "param"; name: string; op: "=" | "!="; value: string }
  | { kind: "tag"; value: string }
  | { kind: "loadable"; value: boolean };

const NAME = String.raw`[A-Za-z0-9_.\-/:]+`;
const STRING = String.raw`'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"`;
const METRIC = new RegExp(String.raw`^metrics\.(${NAME})\s*(<=|>=|!=|=|<|>)\s*(-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)$`);
const PARAM = new RegExp(String.raw`^params\.(${NAME})\s*(!=|=)\s*(?:${STRING})$`);
const TAG = new RegExp(String.raw`^tags?\s*=\s*(?:${STRING})$`);
const LOADABLE = /^loadable\s*=\s*(true|false)$/;

export class VersionFilterError extends Error {}

/** Parses a filter string; throws VersionFilterError naming the clause that is not understood. */
export function parseVersionFilter(filter: string): VersionClause[] {
  const text = filter.trim();
  if (!text) return [];
  // Split on `and` outside quotes.
  const clauses: string[] = [];
  let cur = "";
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      cur += c;
      if (c === "\\") cur += text[++i] ?? "";
      else if (c === quote) quote = null;
      continue;
    }
    if (c === "'" || c === '"') quote = c;
    if (!quote && /\s/.test(c) && /^and\s/i.test(text.slice(i + 1)) && cur.trim()) {
      clauses.push(cur.trim());
      cur = "";
      i += 4;
      continue;
    }
    cur += c;
  }
  if (quote) throw new VersionFilterError("a quoted value is not closed.");
  clauses.push(cur.trim());
  if (clauses.length > 20) throw new VersionFilterError("at most 20 clauses.");
  const unescape = (s: string) => s.replace(/\\(.)/g, "$1");
  return clauses.map((c): VersionClause => {
    let m = METRIC.exec(c);
    if (m) return { kind: "metric", name: m[1]!, op: m[2] as "=", value: Number(m[3]) };
    m = PARAM.exec(c);
    if (m) return { kind: "param", name: m[1]!, op: m[2] as "=", value: unescape(m[3] ?? m[4] ?? "") };
    m = TAG.exec(c);
    if (m) return { kind: "tag", value: unescape(m[1] ?? m[2] ?? "") };
    m = LOADABLE.exec(c);
    if (m) return { kind: "loadable", value: m[1] === "true" };
    throw new VersionFilterError(
      `"${c}" is not a clause Steward understands: use metrics.<name> <op> <number>, params.<name> = '<text>', tag = '<text>' or loadable = true|false, joined by "and".`,
    );
  });
}

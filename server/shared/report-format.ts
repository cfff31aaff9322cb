// Isomorphic (no server imports): the PDF and the report page format figures the same way.

/** A UTC instant as ISO 8601 to the second: 2026-11-30T21:30:09Z. */
export function utc(d: Date | string | null | undefined): string {
  if (d === null || d === undefined) return "-";
  const x = typeof d === "string" ? new Date(d) : d;
  return Number.isNaN(x.getTime()) ? "-" : x.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** A calendar day in UTC: 2027-12-02. */
export const utcDay = (d: Date | string) => utc(d).slice(0, 10);

/** 4 significant digits, no exponent for ordinary magnitudes, thousands grouped. */
export function num(x: number | null | undefined, digits = 4): string {
  if (x === null || x === undefined || Number.isNaN(x)) return "-";
  if (!Number.isFinite(x)) return x > 0 ? "∞" : "-∞";
  if (Number.isInteger(x)) return x.toLocaleString("en");
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString("en");
  if (x !== 0 && Math.abs(x) < 1e-4) return x.toExponential(2);
  return String(Number(x.toPrecision(digits)));
}

/** A share (0.0123) as a percentage with its unit: "1.23 %". */
export function pct(x: number | null | undefined): string {
  if (x === null || x === undefined || Number.isNaN(x)) return "-";
  const p = x * 100;
  return `${p === 0 ? "0" : Math.abs(p) >= 10 ? p.toFixed(1) : Math.abs(p) >= 0.01 ? p.toFixed(2) : p.toExponential(1)} %`;
}

export const ms = (x: number | null | undefined) =>
  x === null || x === undefined || Number.isNaN(x) ? "-" : `${x >= 100 ? Math.round(x).toLocaleString("en") : Number(x.toPrecision(3))} ms`;

/** Bytes in decimal megabytes for the report (1 MB = 10^6 bytes), with the exact count. */
export function mb(bytes: number): string {
  if (bytes < 10_000) return `${bytes.toLocaleString("en")} bytes`;
  const m = bytes / 1e6;
  return `${m >= 100 ? m.toFixed(0) : m >= 1 ? m.toFixed(1) : m.toFixed(3)} MB (${bytes.toLocaleString("en")} bytes)`;
}

/**
 * A check's or metric's figure with the unit its name implies: `_ms` → milliseconds,
 * `_share`/`_rate` → percent, `_bytes` → MB; counts stay integers; other ratios and
 * scores are plain numbers to 4 significant digits.
 */
export function figure(name: string, value: number | null | undefined): string {
  if (value === null || value === undefined) return "-";
  const n = name.toLowerCase();
  if (/(_ms|_ms_b\d+|latency.*ms)$/.test(n) || /_ms_/.test(n)) return ms(value);
  if (/(_share|_rate)(_|$)/.test(n) || /share_/.test(n)) return pct(value);
  if (/_bytes$/.test(n)) return mb(value);
  return num(value);
}

/** A stored threshold ("fail > 0.15 · warn > 0.05") with its figures in the check's unit. */
export function thresholdWithUnits(name: string, threshold: string) {
  return threshold.replace(/([<>≤≥]=?\s*)(-?\d+(?:\.\d+)?(?:e-?\d+)?)/g, (_, op: string, n: string) => `${op}${figure(name, Number(n))}`);
}

const isPlain = (x: unknown) => x === null || ["string", "number", "boolean"].includes(typeof x);

/**
 * The manifest as rows of path → value, in its own order: nested objects unrolled, and an
 * array element whose fields are all plain (an audit event's seq and hash) on one row.
 */
export function flatten(value: unknown, prefix = ""): [string, string][] {
  if (value === null || value === undefined) return [[prefix, "null"]];
  if (Array.isArray(value)) {
    const items = value as unknown[];
    if (!items.length) return [[prefix, "[]"]];
    return items.flatMap((x, i): [string, string][] => {
      const plainObject = x !== null && typeof x === "object" && !Array.isArray(x) ? (x as Record<string, unknown>) : null;
      if (plainObject && Object.values(plainObject).every(isPlain))
        return [
          [
            `${prefix}[${i}]`,
            Object.entries(plainObject)
              .map(([k, y]) => `${k}: ${String(y as string | number | boolean | null)}`)
              .join(" · "),
          ],
        ];
      return flatten(x, `${prefix}[${i}]`);
    });
  }
  if (typeof value === "object") return Object.entries(value as Record<string, unknown>).flatMap(([k, x]) => flatten(x, prefix ? `${prefix}.${k}` : k));
  return [[prefix, typeof value === "string" ? value : (JSON.stringify(value) ?? "")]];
}

/** What a deployment or rollout serves, in one phrase: "v3 + canary v4 at 10 % + shadow v5". */
export function serving(x: { primary: number | null; canary?: number | null; canaryPercent?: number | null; shadow?: number | null }, sep = " + "): string {
  return `v${x.primary ?? "?"}${x.canary ? `${sep}canary v${x.canary} at ${x.canaryPercent ?? 0} %` : ""}${x.shadow ? `${sep}shadow v${x.shadow}` : ""}`;
}

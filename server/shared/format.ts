// Isomorphic (no server imports): the server's messages and exports and the browser's
// tables format bytes and CSV cells the same way.

/** 1536 → "1.5 KiB"; whole bytes below 1 KiB. */
export function formatBytes(n: number) {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
}

/** One RFC 4180 cell: dates as ISO 8601, objects as JSON, quoted when needed. */
export function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? "" : typeof v === "string" ? v : v instanceof Date ? v.toISOString() : JSON.stringify(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvRow(values: unknown[]): string {
  return `${values.map(csvCell).join(",")}\n`;
}

import { csvRow } from "./format";

// Isomorphic: CSV exports a spreadsheet may open (built on the server or in the browser).

/**
 * A text cell that a spreadsheet would read as a formula (starting with = + - @, a tab or
 * a carriage return) gets a leading apostrophe, so opening the export never runs one
 * (OWASP "CSV injection"). Names, e-mails, token names and free text are typed by users.
 * Numbers and dates are left as they are: they are written by us, and -2 is a number.
 */
export function neutraliseCell(v: unknown): unknown {
  if (typeof v !== "string") return v;
  return /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
}

/** One RFC 4180 row of an export meant for spreadsheets: every text cell neutralised. */
export function safeCsvRow(values: unknown[]): string {
  return csvRow(values.map(neutraliseCell));
}

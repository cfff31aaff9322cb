import "server-only";
import fs from "node:fs";
import type { DatasetProfile, ColumnSchema } from "~/db/schema/registry";
import { AppError } from "~/server/errors";
import { unstorableString } from "~/server/platform/json-body";

/*
 * Checks on an uploaded dataset that DuckDB does not make: Postgres cannot store a NUL
 * character in text or jsonb, and a column name or top value holding one would fail the
 * insert of the profile (a 500). A CSV is checked byte by byte before it is profiled, so
 * the answer names the line; what a Parquet file carries is checked in its profile.
 */

/** Refuses a CSV file holding a NUL byte, naming its line. One streaming pass, no parsing. */
export async function refuseNulBytes(file: string) {
  let line = 1;
  let offset = 0;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    const at = chunk.indexOf(0);
    const upto = at === -1 ? chunk.length : at;
    for (let i = chunk.indexOf(10); i !== -1 && i < upto; i = chunk.indexOf(10, i + 1)) line++;
    if (at !== -1) {
      throw new AppError(
        "INVALID",
        `The CSV file holds a NUL byte on line ${line} (byte ${(offset + at).toLocaleString("en")}), which text cannot contain. It may be UTF-16 or binary: save it as UTF-8 text and upload it again.`,
        { field: "file" },
      );
    }
    offset += chunk.length;
  }
}

/** Refuses a profile Postgres could not store (a NUL or a lone surrogate in a column name or value). */
export function refuseUnstorableProfile<T extends { schema: ColumnSchema[]; profile: DatasetProfile }>(result: T): T {
  for (const c of result.profile.columns) {
    const bad = unstorableString(c.name) ?? unstorableString(c.top ?? []) ?? unstorableString([c.min, c.max]);
    if (bad)
      throw new AppError(
        "INVALID",
        `Column "${c.name.replaceAll("\u0000", "\\0")}" holds ${bad.reason}, which cannot be stored. Remove it and upload the file again.`,
        { field: "file" },
      );
  }
  return result;
}

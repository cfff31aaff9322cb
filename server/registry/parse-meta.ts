import "server-only";
import type { z } from "zod";
import { AppError } from "~/server/errors";
import { unstorableString } from "~/server/platform/json-body";

/** Validates upload metadata, naming the field at fault as `metadata.<path>`. */
export function parseMeta<S extends z.ZodType>(schema: S, raw: unknown): z.infer<S> {
  const r = schema.safeParse(raw ?? {});
  if (r.success) {
    // Postgres stores neither NUL nor an unpaired surrogate: a 400 naming the field, not a driver error.
    const bad = unstorableString(r.data, "metadata");
    if (bad)
      throw new AppError("INVALID", `${bad.path} holds ${bad.reason}, which cannot be stored; remove it.`, { field: bad.path.replace(/ \(a key\)$/, "") });
    return r.data;
  }
  const i = r.error.issues[0]!;
  const path = ["metadata", ...i.path.map(String)].join(".");
  throw new AppError("INVALID", `${path}: ${i.message}`, { field: path, cause: r.error });
}

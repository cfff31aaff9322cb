import "server-only";
import type { z } from "zod";
import { AppError } from "~/server/errors";

/** Validates upload metadata, naming the field at fault as `metadata.<path>`. */
export function parseMeta<S extends z.ZodType>(schema: S, raw: unknown): z.infer<S> {
  const r = schema.safeParse(raw ?? {});
  if (r.success) return r.data;
  const i = r.error.issues[0]!;
  const path = ["metadata", ...i.path.map(String)].join(".");
  throw new AppError("INVALID", `${path}: ${i.message}`, { field: path, cause: r.error });
}

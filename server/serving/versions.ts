import "server-only";
import { inArray } from "drizzle-orm";
import type { DbOrTx } from "~/db/client";
import { modelVersions } from "~/db/schema";

/** Version numbers of model versions by id (nulls skipped), in one query. */
export async function versionNumbers(db: DbOrTx, ids: (string | null | undefined)[]) {
  const list = [...new Set(ids.filter((x): x is string => !!x))];
  if (!list.length) return new Map<string, number>();
  const rows = await db.select({ id: modelVersions.id, version: modelVersions.version }).from(modelVersions).where(inArray(modelVersions.id, list));
  return new Map(rows.map((r) => [r.id, r.version]));
}

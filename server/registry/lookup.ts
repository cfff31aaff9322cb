import "server-only";
import { and, eq } from "drizzle-orm";
import type { DbOrTx } from "~/db/client";
import { models } from "~/db/schema";
import { AppError } from "~/server/errors";

/** The refusal for a model name the workspace does not have; `field` is the input that named it ("model" unless the caller's input calls it otherwise). */
export const noSuchModel = (name: string, field = "model") => new AppError("NOT_FOUND", `There is no model "${name}" in this workspace.`, { field });

/**
 * The workspace's model of this name (in `tx`, locked for update with `forUpdate`), or
 * NOT_FOUND naming the field: the one lookup behind every service that takes a model by name.
 */
export async function modelByName(tx: DbOrTx, workspaceId: string, name: string, opts: { field?: string; forUpdate?: boolean } = {}) {
  const query = tx
    .select()
    .from(models)
    .where(and(eq(models.workspaceId, workspaceId), eq(models.name, name)));
  const [m] = opts.forUpdate ? await query.for("update") : await query;
  if (!m) throw noSuchModel(name, opts.field);
  return m;
}

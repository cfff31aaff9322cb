import "server-only";
import type { Readable } from "node:stream";
import { and, eq } from "drizzle-orm";
import { getDb } from "~/db/client";
import { datasets, datasetVersions, models, modelVersions, workspaces } from "~/db/schema";
import type { RequestMeta, WorkspaceActor } from "~/server/audit/actor";
import { mutate } from "~/server/audit/mutate";
import { type ByteRange, openBlob, storageError } from "~/server/artifacts/store";
import { AppError } from "~/server/errors";
import { parseRange } from "./byte-range";

export type VersionFile = {
  kind: "model" | "dataset";
  name: string;
  version: number;
  sha256: string;
  size: number;
  filename: string;
};

async function findFile(actor: WorkspaceActor, kind: VersionFile["kind"], name: string, version: number) {
  const row =
    kind === "model"
      ? (
          await getDb()
            .select({ id: modelVersions.id, sha256: modelVersions.sha256, size: modelVersions.sizeBytes, filename: modelVersions.filename })
            .from(modelVersions)
            .innerJoin(models, eq(models.id, modelVersions.modelId))
            .where(and(eq(models.workspaceId, actor.workspaceId), eq(models.name, name), eq(modelVersions.version, version)))
        )[0]
      : (
          await getDb()
            .select({ id: datasetVersions.id, sha256: datasetVersions.sha256, size: datasetVersions.sizeBytes, filename: datasetVersions.filename })
            .from(datasetVersions)
            .innerJoin(datasets, eq(datasets.id, datasetVersions.datasetId))
            .where(and(eq(datasets.workspaceId, actor.workspaceId), eq(datasets.name, name), eq(datasetVersions.version, version)))
        )[0];
  if (!row) throw new AppError("NOT_FOUND", `There is no ${kind} version ${name}@${version} in this workspace.`, { field: "version" });
  return row;
}

/** Viewers download only where the workspace allows it (Settings › General); every other role with registry:read may. */
async function assertMayDownload(actor: WorkspaceActor) {
  if (actor.role !== "viewer") return;
  const [ws] = await getDb().select({ viewerDownloads: workspaces.viewerDownloads }).from(workspaces).where(eq(workspaces.id, actor.workspaceId));
  if (!ws?.viewerDownloads) {
    throw new AppError("FORBIDDEN", "This workspace does not let viewers download files. An admin or owner can allow it in Settings › General.");
  }
}

/**
 * Opens a model or dataset version's stored file for download, whole or one byte range.
 * Each download is recorded (`model.version_downloaded` / `dataset.version_downloaded`,
 * with the range when there is one) before a byte is sent. The stream comes from the
 * store: nothing is read into memory.
 */
export async function openVersionFile(
  actor: WorkspaceActor,
  input: { kind: VersionFile["kind"]; name: string; version: number; range?: string | null; ifRange?: string | null },
  meta: RequestMeta = {},
): Promise<{ file: VersionFile; range: ByteRange | null | "unsatisfiable"; stream: Readable | null }> {
  await assertMayDownload(actor);
  const row = await findFile(actor, input.kind, input.name, input.version);
  const file: VersionFile = { kind: input.kind, name: input.name, version: input.version, sha256: row.sha256, size: Number(row.size), filename: row.filename };
  // If-Range: a range holds only against the same bytes (ETag = the quoted sha256); otherwise the whole file.
  const range = input.ifRange && input.ifRange !== `"${file.sha256}"` ? null : parseRange(input.range, file.size);
  if (range === "unsatisfiable") return { file, range, stream: null };
  let stream: Readable;
  try {
    stream = await openBlob(file.sha256, range ?? undefined);
  } catch (err) {
    throw storageError(err);
  }
  try {
    await mutate(
      actor,
      async (_tx, audit) => {
        audit({
          action: input.kind === "model" ? "model.version_downloaded" : "dataset.version_downloaded",
          target: { type: input.kind === "model" ? "model_version" : "dataset_version", id: row.id },
          metadata: {
            name: file.name,
            version: file.version,
            sha256: file.sha256,
            sizeBytes: file.size,
            ...(range ? { range: `${range.start}-${range.end}` } : {}),
          },
        });
      },
      meta,
    );
  } catch (err) {
    stream.destroy();
    throw err;
  }
  return { file, range, stream };
}

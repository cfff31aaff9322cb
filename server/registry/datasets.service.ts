import "server-only";
import type { Readable } from "node:stream";
import { and, desc, eq, gt, sql } from "drizzle-orm";
import { getDb } from "~/db/client";
import { datasets, datasetVersions, users } from "~/db/schema";
import type { RequestMeta, WorkspaceActor } from "~/server/audit/actor";
import { mutate } from "~/server/audit/mutate";
import { AppError } from "~/server/errors";
import { refuseNulBytes, refuseUnstorableProfile } from "./dataset-bytes";
import { displayFilename } from "./filename";
import { parseMeta } from "./parse-meta";
import { profileDataset } from "./profile";
import { AlreadyRegistered, registerUpload } from "./staged-upload";
import { DatasetUploadMeta, RegistryName } from "~/server/shared/registry.schema";

export function formatFromFilename(filename: string): "csv" | "parquet" {
  const lower = filename.toLowerCase();
  if (lower.endsWith(".csv")) return "csv";
  if (lower.endsWith(".parquet") || lower.endsWith(".pq")) return "parquet";
  throw new AppError("INVALID", "Upload a .csv or .parquet file.", { field: "file" });
}

/**
 * Registers a dataset version from an upload stream: staged and hashed, profiled with
 * DuckDB, stored under its sha256, then recorded in one transaction. The same bytes
 * again return the existing version (`created: false`). A bad file leaves nothing.
 */
export async function uploadDatasetVersion(
  actor: WorkspaceActor,
  input: { name: string; filename: string; meta?: unknown },
  body: Readable | ReadableStream<Uint8Array>,
  requestMeta: RequestMeta = {},
) {
  const name = RegistryName.parse(input.name);
  const meta = parseMeta(DatasetUploadMeta, input.meta);
  const format = formatFromFilename(input.filename);
  const { result, created } = await registerUpload(body, {
    existing: (sha256) => findVersionBySha(actor.workspaceId, name, sha256),
    // Validated before profiling: a NUL byte would only fail later, as a database error.
    inspect: async (path) => {
      if (format === "csv") await refuseNulBytes(path);
      return refuseUnstorableProfile(await profileDataset(path, format));
    },
    record: (staged, { schema, profile }) =>
      mutate(
        actor,
        async (tx, audit) => {
          await tx
            .insert(datasets)
            .values({ workspaceId: actor.workspaceId, name, description: meta.description, createdBy: actor.userId })
            .onConflictDoNothing();
          // Locking the dataset row serialises version numbering and same-bytes races.
          const [ds] = await tx
            .select()
            .from(datasets)
            .where(and(eq(datasets.workspaceId, actor.workspaceId), eq(datasets.name, name)))
            .for("update");
          const [dup] = await tx
            .select({ id: datasetVersions.id })
            .from(datasetVersions)
            .where(and(eq(datasetVersions.datasetId, ds!.id), eq(datasetVersions.sha256, staged.sha256)));
          if (dup) throw new AlreadyRegistered();
          const [{ next }] = (await tx
            .select({ next: sql<number>`coalesce(max(${datasetVersions.version}), 0) + 1` })
            .from(datasetVersions)
            .where(eq(datasetVersions.datasetId, ds!.id))) as [{ next: number }];
          if (Number(next) === 1) {
            audit({ action: "dataset.created", target: { type: "dataset", id: ds!.id }, metadata: { name } });
          }
          const [v] = await tx
            .insert(datasetVersions)
            .values({
              workspaceId: actor.workspaceId,
              datasetId: ds!.id,
              version: Number(next),
              sha256: staged.sha256,
              format,
              filename: displayFilename(input.filename),
              sizeBytes: staged.size,
              rowCount: profile.rows,
              schema,
              profile,
              createdBy: actor.userId,
            })
            .returning();
          audit({
            action: "dataset.version_created",
            target: { type: "dataset_version", id: v!.id },
            metadata: { name, version: v!.version, sha256: staged.sha256, rows: profile.rows, columns: schema.length, sizeBytes: staged.size },
          });
          return { name, sha256: staged.sha256, datasetId: ds!.id, versionId: v!.id, version: v!.version, sizeBytes: staged.size, format, rows: profile.rows };
        },
        requestMeta,
      ),
  });
  return { ...result, created };
}

async function findVersionBySha(workspaceId: string, name: string, sha256: string) {
  const [row] = await getDb()
    .select({
      datasetId: datasets.id,
      versionId: datasetVersions.id,
      version: datasetVersions.version,
      sizeBytes: datasetVersions.sizeBytes,
      format: datasetVersions.format,
      rows: datasetVersions.rowCount,
    })
    .from(datasetVersions)
    .innerJoin(datasets, eq(datasets.id, datasetVersions.datasetId))
    .where(and(eq(datasets.workspaceId, workspaceId), eq(datasets.name, name), eq(datasetVersions.sha256, sha256)));
  return row ? { name, sha256, ...row } : null;
}

/** By name; `after` (a name) and `limit` page through them. */
export async function listDatasets(actor: WorkspaceActor, page: { after?: string; limit?: number } = {}) {
  const query = getDb()
    .select({
      id: datasets.id,
      name: datasets.name,
      description: datasets.description,
      createdAt: datasets.createdAt,
      versions: sql<number>`count(${datasetVersions.id})::int`,
      latestVersion: sql<number | null>`max(${datasetVersions.version})`,
      lastUploadAt: sql<Date | null>`max(${datasetVersions.createdAt})`,
    })
    .from(datasets)
    .leftJoin(datasetVersions, eq(datasetVersions.datasetId, datasets.id))
    .where(and(eq(datasets.workspaceId, actor.workspaceId), page.after !== undefined ? gt(datasets.name, page.after) : undefined))
    .groupBy(datasets.id)
    .orderBy(datasets.name)
    .$dynamic();
  const rows = await (page.limit ? query.limit(page.limit) : query);
  return rows.map((r) => ({ ...r, lastUploadAt: r.lastUploadAt ? new Date(r.lastUploadAt) : null }));
}

async function findDataset(actor: WorkspaceActor, name: string) {
  const [ds] = await getDb()
    .select()
    .from(datasets)
    .where(and(eq(datasets.workspaceId, actor.workspaceId), eq(datasets.name, name)));
  if (!ds) throw new AppError("NOT_FOUND", `There is no dataset named "${name}" in this workspace.`, { field: "name" });
  return ds;
}

export async function getDataset(actor: WorkspaceActor, name: string) {
  const ds = await findDataset(actor, name);
  const versions = await getDb()
    .select({
      id: datasetVersions.id,
      version: datasetVersions.version,
      sha256: datasetVersions.sha256,
      format: datasetVersions.format,
      filename: datasetVersions.filename,
      sizeBytes: datasetVersions.sizeBytes,
      rowCount: datasetVersions.rowCount,
      columns: sql<number>`jsonb_array_length(${datasetVersions.schema})`,
      createdAt: datasetVersions.createdAt,
      createdBy: users.email,
    })
    .from(datasetVersions)
    .leftJoin(users, eq(users.id, datasetVersions.createdBy))
    .where(eq(datasetVersions.datasetId, ds.id))
    .orderBy(desc(datasetVersions.version));
  return { id: ds.id, name: ds.name, description: ds.description, createdAt: ds.createdAt, versions };
}

export async function getDatasetVersion(actor: WorkspaceActor, name: string, version: number) {
  const ds = await findDataset(actor, name);
  const [v] = await getDb()
    .select()
    .from(datasetVersions)
    .where(and(eq(datasetVersions.datasetId, ds.id), eq(datasetVersions.version, version)));
  if (!v) throw new AppError("NOT_FOUND", `Dataset "${name}" has no version ${version}.`, { field: "version" });
  return { ...v, name: ds.name };
}

/** Resolves `name@version` references within the workspace (for lineage). */
export async function resolveDatasetVersion(workspaceId: string, name: string, version: number) {
  const [v] = await getDb()
    .select({ id: datasetVersions.id })
    .from(datasetVersions)
    .innerJoin(datasets, eq(datasets.id, datasetVersions.datasetId))
    .where(and(eq(datasets.workspaceId, workspaceId), eq(datasets.name, name), eq(datasetVersions.version, version)));
  return v?.id ?? null;
}

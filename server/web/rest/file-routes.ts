import "server-only";
import { Readable } from "node:stream";
import { z } from "zod";
import { isBundleFilename } from "~/server/artifacts/bundle";
import { openVersionFile, type VersionFile } from "~/server/registry/downloads.service";
import { RegistryName, VersionNumber } from "~/server/shared/registry.schema";
import { LENGTH_HEADER } from "./content-length";
import { route, type RestContext } from "./rest";

const WsNameVersion = z.object({ workspace: z.string().min(1).max(60), name: RegistryName, version: VersionNumber });

/** Content-Length, and the same under LENGTH_HEADER for Next.js, which drops the first (see entry.ts). */
const length = (n: number) => ({ "content-length": String(n), [LENGTH_HEADER]: String(n) });

/** RFC 6266: an ASCII fallback and the UTF-8 name. */
function contentDisposition(filename: string) {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, "_");
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}

/**
 * A version's file as an HTTP answer: streamed from the store with its length, its sha256
 * (`Digest`, `Repr-Digest` and `X-Checksum-Sha256`, always of the whole file) and its ETag;
 * one byte range answers 206, a range past the end 416.
 */
async function fileResponse(kind: VersionFile["kind"], ctx: RestContext<z.infer<typeof WsNameVersion>, unknown, unknown>) {
  const { params, actor, meta, headers } = ctx;
  const { file, range, stream } = await openVersionFile(
    actor,
    { kind, name: params.name, version: params.version, range: headers.get("range"), ifRange: headers.get("if-range") },
    meta,
  );
  const tag = `"${file.sha256}"`;
  const base64 = Buffer.from(file.sha256, "hex").toString("base64");
  const common: Record<string, string> = {
    // A model bundle is stored and served as its normalised tar (server/artifacts/bundle.ts).
    "content-type": kind === "model" && isBundleFilename(file.filename) ? "application/x-tar" : "application/octet-stream",
    "content-disposition": contentDisposition(file.filename),
    "accept-ranges": "bytes",
    etag: tag,
    digest: `sha-256=${base64}`,
    "repr-digest": `sha-256=:${base64}:`,
    "x-checksum-sha256": file.sha256,
    "cache-control": "private, no-store",
  };
  if (range === "unsatisfiable") {
    return new Response(null, { status: 416, headers: { ...common, "content-range": `bytes */${file.size}` } });
  }
  const body = Readable.toWeb(stream!) as ReadableStream<Uint8Array>;
  if (range) {
    return new Response(body, {
      status: 206,
      headers: { ...common, ...length(range.end - range.start + 1), "content-range": `bytes ${range.start}-${range.end}/${file.size}` },
    });
  }
  return new Response(body, { status: 200, headers: { ...common, ...length(file.size) } });
}

/** Downloads of model and dataset versions (server/registry/downloads.service.ts): audited, viewers only where the workspace allows. */
export const FILE_ROUTES = [
  route({
    method: "GET",
    path: "/workspaces/{workspace}/models/{name}/versions/{version}/file",
    tag: "models",
    summary:
      "Download a model version's ONNX file (a bundle — a model with external data — as its normalised tar, application/x-tar): streamed, with Content-Length, Digest: sha-256=<base64> and X-Checksum-Sha256 (of the whole file), ETag, and single byte ranges (Range, If-Range → 206; past the end → 416). Each download is audited (model.version_downloaded); viewers may download only if the workspace allows it.",
    permission: "registry:read",
    params: WsNameVersion,
    handler: (ctx) => fileResponse("model", ctx),
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/datasets/{name}/versions/{version}/file",
    tag: "datasets",
    summary:
      "Download a dataset version's file (CSV or Parquet), as the model file route: streamed, Content-Length, sha256 digest headers, ranges; audited (dataset.version_downloaded); viewers only if the workspace allows it.",
    permission: "registry:read",
    params: WsNameVersion,
    handler: (ctx) => fileResponse("dataset", ctx),
  }),
];

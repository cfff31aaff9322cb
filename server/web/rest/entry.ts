import "server-only";
import { randomUUID } from "node:crypto";
import { env } from "~/env";
import { formatBytes } from "~/server/shared/format";
import { openApiDocument } from "./openapi";
import { handleRest, type SessionResolver } from "./rest";
import { REST_ROUTES } from "./routes";

/** Room for the multipart framing and the metadata part around a file at the limit. */
const MULTIPART_OVERHEAD = 4 * 1024 * 1024;

// proxy.ts does not run for /api/v1 (Next.js would buffer upload bodies in memory): the headers it set that matter for JSON and files.
function secured(res: Response) {
  if (!res.headers.has("x-content-type-options")) res.headers.set("x-content-type-options", "nosniff");
  if (!res.headers.has("cache-control")) res.headers.set("cache-control", "no-store");
  return res;
}

/**
 * The whole of /api/v1 as one fetch-style handler (app/api/v1/[...path]/route.ts, and the
 * tests and bench over real HTTP). Request bodies stream through to the route: nothing here
 * or in front of it reads them into memory.
 */
export function restEntry(getSession: SessionResolver) {
  return async (req: Request): Promise<Response> => {
    const { pathname } = new URL(req.url);
    if (pathname === "/api/v1/openapi.json" && req.method === "GET") {
      return secured(Response.json(openApiDocument(REST_ROUTES, `${env.NEXTAUTH_URL ?? new URL(req.url).origin}/api/v1`)));
    }
    // A body announced larger than any upload may be is refused before a byte of it is read.
    const length = Number(req.headers.get("content-length") ?? NaN);
    if (length > env.UPLOAD_LIMIT_BYTES + MULTIPART_OVERHEAD) {
      const requestId = req.headers.get("x-request-id") ?? randomUUID();
      const message = `The upload is larger than the limit of ${formatBytes(env.UPLOAD_LIMIT_BYTES)} (${formatBytes(length)} were announced). Nothing was stored.`;
      return secured(
        Response.json(
          { error: { code: "PAYLOAD_TOO_LARGE", message, field: "file" }, requestId },
          { status: 413, headers: { "x-request-id": requestId, connection: "close" } },
        ),
      );
    }
    return secured(await handleRest(req, REST_ROUTES, pathname, getSession));
  };
}

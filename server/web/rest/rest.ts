import "server-only";
import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import Busboy from "busboy";
import type { z } from "zod";
import type { RequestMeta, WorkspaceActor } from "~/server/audit/actor";
import { CLIENT_IP_HEADER } from "~/server/web/auth/constants";
import { can, ROLE_LABELS, type Permission } from "~/server/shared/permissions";
import { env } from "~/env";
import { AppError, databaseErrorSummary } from "~/server/errors";
import { DATABASE_RETRY_AFTER_SECONDS, DATABASE_UNAVAILABLE } from "~/server/shared/unavailable";
import { ERROR_CODES, type ErrorIssue, mapError, zodMessage } from "~/server/web/errors";
import { findUser } from "~/server/identity/users.service";
import { unstorableString } from "~/server/platform/json-body";
import { findMembership } from "~/server/identity/workspaces.service";
import { actorForToken } from "~/server/tokens/tokens.service";
import type { SessionUser } from "~/server/web/trpc/context";

export type SessionResolver = () => Promise<SessionUser | null>;

/* ---------------------------------------------------------------------------
 * REST under /api/v1: a table of routes, each with its permission and zod schemas.
 * The dispatcher, the OpenAPI document and the authorization tests all read the same
 * table, and handlers call the same service functions as tRPC.
 * ------------------------------------------------------------------------- */

export type Upload = { filename: string; stream: Readable; fields: Record<string, string> };

export type RestContext<P, Q, B> = {
  params: P;
  query: Q;
  body: B;
  actor: WorkspaceActor;
  meta: RequestMeta;
  /** The request's headers (Range, If-None-Match: for routes that answer with a file). */
  headers: Headers;
  /** The request's URL (for paged lists' next links). */
  url: string;
  /** For multipart routes: runs `fn` with the file stream as it arrives. */
  upload: <T>(fn: (u: Upload) => Promise<T>) => Promise<T>;
  /** For `raw` routes: the request body as it arrives (never buffered). */
  rawBody: () => Readable;
};

export type RestRoute = {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** OpenAPI-style path, e.g. /workspaces/{workspace}/models/{name}. */
  path: string;
  summary: string;
  tag: string;
  /** null: no workspace (public or token-less); otherwise the permission in {workspace}. */
  permission: Permission | null;
  /**
   * The tRPC procedure(s) this route reaches, calling the same service function: what the
   * OpenAPI completeness test (openapi.int.test.ts) checks every mutation against.
   */
  trpc?: string | readonly string[];
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  multipart?: { fields: Record<string, string>; file: string };
  /** A raw body of this content type, streamed to the handler (resumable upload chunks). */
  raw?: { contentType: string; description: string };
  status?: number;
  handler: (ctx: RestContext<any, any, any>) => Promise<unknown>; // eslint-disable-line @typescript-eslint/no-explicit-any
};

export function route<P extends z.ZodObject, Q extends z.ZodObject, B extends z.ZodType>(
  r: Omit<RestRoute, "handler" | "params" | "query" | "body"> & {
    params?: P;
    query?: Q;
    body?: B;
    handler: (ctx: RestContext<z.infer<P>, z.infer<Q>, z.infer<B>>) => Promise<unknown>;
  },
): RestRoute {
  return r;
}

// The codes of server/web/errors.ts, and those only the REST dispatcher answers with.
const STATUS: Record<string, number> = {
  ...Object.fromEntries(Object.entries(ERROR_CODES).map(([code, { status }]) => [code, status])),
  BAD_REQUEST: 400,
  UNSUPPORTED_MEDIA_TYPE: 415,
  METHOD_NOT_ALLOWED: 405,
};

/**
 * `{ error: { code, message, field?, issues? }, requestId }`: `field` names the input at fault
 * (as tRPC's `data.field`), `issues` lists every zod issue of a validation failure.
 */
export function errorResponse(code: string, message: string, requestId: string, details: { field?: string | null; issues?: ErrorIssue[] | null } = {}) {
  const headers: Record<string, string> = { "x-request-id": requestId };
  if (code === DATABASE_UNAVAILABLE) headers["retry-after"] = String(DATABASE_RETRY_AFTER_SECONDS);
  const { field, issues } = details;
  return Response.json(
    { error: { code, message, ...(field ? { field } : {}), ...(issues ? { issues } : {}) }, requestId },
    { status: STATUS[code] ?? 500, headers },
  );
}

function compile(path: string) {
  const names: string[] = [];
  const re = new RegExp(`^${path.replace(/\{(\w+)\}/g, (_, n: string) => (names.push(n), "([^/]+)"))}$`);
  return { re, names };
}

async function principal(
  req: Request,
  workspaceSlug: string | undefined,
  permission: Permission | null,
  getSession: SessionResolver,
): Promise<WorkspaceActor | null> {
  const auth = req.headers.get("authorization");
  if (auth) {
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    if (!m) throw new AppError("UNAUTHORIZED", "The Authorization header must be: Bearer <token>.");
    const actor = await actorForToken(m[1]!);
    // A token works in its own workspace only; another workspace is not revealed.
    if (workspaceSlug !== undefined && workspaceSlug !== actor.workspaceSlug) {
      throw new AppError("NOT_FOUND", "This workspace does not exist or the token cannot see it.");
    }
    return actor;
  }
  const session = await getSession();
  if (!session) {
    if (permission === null) return null;
    throw new AppError("UNAUTHORIZED", "Sign in, or send an API token: Authorization: Bearer <token>.");
  }
  if (req.method !== "GET" && !req.headers.get("x-steward-client")) {
    // Cookie-authenticated writes need a header no HTML form can send.
    throw new AppError("FORBIDDEN", "Browser requests that change data must send the X-Steward-Client header.");
  }
  if (workspaceSlug === undefined) return null;
  const user = await findUser(session.id);
  if (!user) throw new AppError("UNAUTHORIZED", "Your session has ended. Sign in again.");
  const ws = await findMembership(user.id, { slug: workspaceSlug });
  if (!ws) throw new AppError("NOT_FOUND", "This workspace does not exist or you are not a member.");
  return { type: "user", userId: user.id, email: user.email, workspaceId: ws.id, role: ws.role };
}

function parseMultipart(req: Request, expectFile: string) {
  const type = req.headers.get("content-type") ?? "";
  if (!type.toLowerCase().startsWith("multipart/form-data")) {
    throw new AppError("INVALID", `Send the upload as multipart/form-data with a "${expectFile}" part.`, { field: expectFile });
  }
  if (!req.body) throw new AppError("INVALID", "The request has no body.", { field: expectFile });
  const body = req.body;
  return async <T>(fn: (u: Upload) => Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const fields: Record<string, string> = {};
      let handled: Promise<T> | null = null;
      let bb: Busboy.Busboy;
      try {
        bb = Busboy({
          headers: { "content-type": type },
          // RFC 7578: file names are UTF-8 (what browsers and our CLI send); busboy's default reads them as latin1.
          defParamCharset: "utf8",
          limits: { files: 1, fields: 10, fieldSize: 200_000, fileSize: env.UPLOAD_LIMIT_BYTES + 1 },
        });
      } catch (err) {
        return reject(new AppError("INVALID", "The multipart body is malformed.", { cause: err }));
      }
      bb.on("field", (name, value) => (fields[name] = value));
      bb.on("file", (name, stream, info) => {
        if (name !== expectFile) {
          stream.resume();
          return;
        }
        handled = fn({ filename: info.filename ?? "", stream, fields: { ...fields } });
        handled.catch(() => stream.resume());
      });
      bb.on("error", (err) => reject(new AppError("INVALID", "The multipart body is malformed.", { cause: err })));
      bb.on("close", () => {
        if (!handled) return reject(new AppError("INVALID", `The upload has no "${expectFile}" part.`, { field: expectFile }));
        handled.then(resolve, reject);
      });
      Readable.fromWeb(body as WebReadableStream<Uint8Array>)
        .on("error", (err) => bb.destroy(err))
        .pipe(bb);
    });
}

function parseOrThrow<S extends z.ZodType>(schema: S | undefined, value: unknown, where: string): z.infer<S> | undefined {
  if (!schema) return undefined;
  const r = schema.safeParse(value);
  if (!r.success) {
    // The cause carries every issue into the error body (server/web/errors.ts).
    const field = r.error.issues[0]?.path.join(".");
    throw new AppError("INVALID", zodMessage(r.error, where), { field: field || where, cause: r.error });
  }
  // Postgres stores neither NUL nor an unpaired surrogate in text or jsonb: a 400 here, not a driver error later.
  const bad = unstorableString(r.data, where);
  if (bad) {
    const field =
      bad.path
        .slice(where.length)
        .replace(/^\./, "")
        .replace(/ \(a key\)$/, "") || where;
    throw new AppError("INVALID", `${field} holds ${bad.reason}, which cannot be stored; remove it.`, { field });
  }
  return r.data;
}

/** Dispatches a request under /api/v1 to its route. */
export async function handleRest(req: Request, routes: RestRoute[], pathname: string, getSession: SessionResolver) {
  const requestId = req.headers.get("x-request-id") ?? randomUUID();
  const meta: RequestMeta = { requestId, ip: req.headers.get(CLIENT_IP_HEADER) ?? undefined };
  const sub = pathname.replace(/^\/api\/v1/, "") || "/";
  let matchedPath = false;
  for (const r of routes) {
    const { re, names } = compile(r.path);
    const m = re.exec(sub);
    if (!m) continue;
    matchedPath = true;
    if (r.method !== req.method) continue;
    try {
      const rawParams = Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(m[i + 1]!)]));
      const actor = await principal(req, rawParams.workspace, r.permission, getSession);
      if (r.permission) {
        if (!actor) throw new AppError("UNAUTHORIZED", "Sign in, or send an API token.");
        if (!can(actor.role, r.permission)) {
          throw new AppError("FORBIDDEN", `The role ${ROLE_LABELS[actor.role]} does not allow this: it needs the "${r.permission}" permission.`);
        }
      }
      const params = parseOrThrow(r.params, rawParams, "path");
      const query = parseOrThrow(r.query, Object.fromEntries(new URL(req.url).searchParams), "query");
      let body: unknown;
      if (r.body) {
        if (!(req.headers.get("content-type") ?? "").toLowerCase().startsWith("application/json")) {
          throw Object.assign(new AppError("INVALID", "Send a JSON body with Content-Type: application/json."), { http: "UNSUPPORTED_MEDIA_TYPE" });
        }
        const json: unknown = await req.json().catch(() => {
          throw new AppError("INVALID", "The request body is not valid JSON.");
        });
        body = parseOrThrow(r.body, json, "body");
      }
      const upload = r.multipart ? parseMultipart(req, r.multipart.file) : () => Promise.reject(new Error("not a multipart route"));
      const rawBody = () => {
        if (!r.raw) throw new Error("not a raw-body route");
        if (!(req.headers.get("content-type") ?? "").toLowerCase().startsWith(r.raw.contentType)) {
          throw Object.assign(new AppError("INVALID", `Send the body with Content-Type: ${r.raw.contentType}.`, { field: "body" }), {
            http: "UNSUPPORTED_MEDIA_TYPE",
          });
        }
        return req.body ? Readable.fromWeb(req.body as WebReadableStream<Uint8Array>) : Readable.from([]);
      };
      const result = await r.handler({ params, query, body, actor: actor!, meta, headers: req.headers, url: req.url, upload, rawBody });
      if (result instanceof Response) return result;
      return Response.json(result ?? null, { status: r.status ?? 200, headers: { "x-request-id": requestId } });
    } catch (err) {
      const mapped = mapError(err);
      if (mapped.kind === "unavailable")
        console.error(`[rest] ${req.method} ${pathname}: database unavailable (request ${requestId}): ${databaseErrorSummary(err)}`);
      if (mapped.kind === "unknown") console.error(`[rest] ${req.method} ${pathname} failed (request ${requestId}):`, err);
      const http = err instanceof AppError ? (err as AppError & { http?: string }).http : undefined;
      return errorResponse(http ?? mapped.code, mapped.message, requestId, mapped);
    }
  }
  return matchedPath
    ? errorResponse("METHOD_NOT_ALLOWED", `${req.method} is not supported on ${pathname}.`, requestId)
    : errorResponse("NOT_FOUND", `There is no API route ${pathname}. See /api/v1/openapi.json.`, requestId);
}

import "server-only";
import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import Busboy from "busboy";
import { type z, ZodError } from "zod";
import type { RequestMeta, WorkspaceActor } from "~/server/audit/actor";
import { CLIENT_IP_HEADER } from "~/server/auth/constants";
import { can, ROLE_LABELS, type Permission } from "~/server/authz/permissions";
import { env } from "~/env";
import { AppError, isUniqueViolation } from "~/server/errors";
import { findUser } from "~/server/identity/users.service";
import { findMembership } from "~/server/identity/workspaces.service";
import { actorForToken } from "~/server/tokens/tokens.service";
import type { SessionUser } from "~/server/trpc/context";

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
  /** For multipart routes: runs `fn` with the file stream as it arrives. */
  upload: <T>(fn: (u: Upload) => Promise<T>) => Promise<T>;
};

export type RestRoute = {
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** OpenAPI-style path, e.g. /workspaces/{workspace}/models/{name}. */
  path: string;
  summary: string;
  tag: string;
  /** null: no workspace (public or token-less); otherwise the permission in {workspace}. */
  permission: Permission | null;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  multipart?: { fields: Record<string, string>; file: string };
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

const STATUS: Record<string, number> = {
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  INVALID: 400,
  BAD_REQUEST: 400,
  PRECONDITION_FAILED: 412,
  RATE_LIMITED: 429,
  UNSUPPORTED_MEDIA_TYPE: 415,
  METHOD_NOT_ALLOWED: 405,
};

export function errorResponse(code: string, message: string, requestId: string, field?: string | null) {
  return Response.json(
    { error: { code, message, ...(field ? { field } : {}) }, requestId },
    { status: STATUS[code] ?? 500, headers: { "x-request-id": requestId } },
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
    const i = r.error.issues[0]!;
    const field = i.path.join(".");
    throw new AppError("INVALID", field ? `${field}: ${i.message}` : `${where}: ${i.message}`, { field: field || where, cause: r.error });
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
      const result = await r.handler({ params, query, body, actor: actor!, meta, upload: upload });
      if (result instanceof Response) return result;
      return Response.json(result ?? null, { status: r.status ?? 200, headers: { "x-request-id": requestId } });
    } catch (err) {
      if (err instanceof AppError) {
        const http = (err as AppError & { http?: string }).http;
        return errorResponse(http ?? err.code, err.message, requestId, err.field);
      }
      if (err instanceof ZodError) return errorResponse("INVALID", err.issues[0]?.message ?? "Invalid input.", requestId);
      if (isUniqueViolation(err)) return errorResponse("CONFLICT", "This already exists.", requestId);
      console.error(`[rest] ${req.method} ${pathname} failed (request ${requestId}):`, err);
      return errorResponse("INTERNAL", "Something went wrong. Please try again.", requestId);
    }
  }
  return matchedPath
    ? errorResponse("METHOD_NOT_ALLOWED", `${req.method} is not supported on ${pathname}.`, requestId)
    : errorResponse("NOT_FOUND", `There is no API route ${pathname}. See /api/v1/openapi.json.`, requestId);
}

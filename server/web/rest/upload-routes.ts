import "server-only";
import { z } from "zod";
import {
  appendUploadChunk,
  completeUpload,
  CreateUploadInput,
  createUploadSession,
  UploadOffsetConflict,
  uploadSessionStatus,
} from "~/server/registry/upload-sessions";
import { AppError } from "~/server/errors";
import { Ws } from "./params";
import { route } from "./rest";

const WsUpload = Ws.extend({ id: z.string().min(1).max(64) });

const offsetHeaders = (s: { offset: number; size: number }, requestId?: string) => ({
  "upload-offset": String(s.offset),
  "upload-length": String(s.size),
  "cache-control": "no-store",
  ...(requestId ? { "x-request-id": requestId } : {}),
});

/**
 * Resumable uploads (docs/SERVING.md): open a session, PATCH the bytes in chunks at the
 * server's offset, then complete it with the push's metadata. Chunks are a raw body
 * (application/offset+octet-stream) streamed to a staging file. No tRPC procedure: the
 * browser uploads through the multipart push.
 */
export const UPLOAD_ROUTES = [
  route({
    method: "POST",
    path: "/workspaces/{workspace}/uploads",
    tag: "uploads",
    summary:
      "Open a resumable upload session for a model or dataset file of `size` bytes (at most the upload limit) with the given sha256: answers `{ id, offset: 0, expiresAt }`. Sessions belong to the caller and expire 24 h after the last chunk.",
    permission: "model:write",
    params: Ws,
    body: CreateUploadInput,
    status: 201,
    handler: ({ actor, body }) => createUploadSession(actor, body),
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/uploads/{id}",
    tag: "uploads",
    summary: "Where a resumable upload stands: `{ offset, size, expiresAt }`, the offset also in the Upload-Offset header. Another user's session is 404.",
    permission: "model:write",
    params: WsUpload,
    handler: async ({ actor, params, meta }) => {
      const s = await uploadSessionStatus(actor, params.id);
      return Response.json(s, { headers: offsetHeaders(s, meta.requestId) });
    },
  }),
  route({
    method: "PATCH",
    path: "/workspaces/{workspace}/uploads/{id}",
    tag: "uploads",
    summary:
      "Append bytes to a resumable upload: Upload-Offset must be the current offset (else 409 with `offset`), the body raw (Content-Type: application/offset+octet-stream), streamed to disk. Bytes past the announced size are refused (400). A cut-off PATCH keeps what arrived.",
    permission: "model:write",
    params: WsUpload,
    raw: { contentType: "application/offset+octet-stream", description: "The file's bytes from Upload-Offset on." },
    handler: async ({ actor, params, headers, meta, rawBody }) => {
      const raw = headers.get("upload-offset") ?? "";
      if (!/^\d{1,16}$/.test(raw))
        throw new AppError("INVALID", "Send the Upload-Offset header: the byte offset this body starts at.", { field: "Upload-Offset" });
      try {
        const s = await appendUploadChunk(actor, params.id, Number(raw), rawBody());
        return Response.json(s, { headers: offsetHeaders(s, meta.requestId) });
      } catch (err) {
        if (!(err instanceof UploadOffsetConflict)) throw err;
        return Response.json(
          { error: { code: "CONFLICT", message: err.message, field: err.field }, offset: err.offset, requestId: meta.requestId },
          { status: 409, headers: { "upload-offset": String(err.offset), "x-request-id": meta.requestId ?? "" } },
        );
      }
    },
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/uploads/{id}/complete",
    tag: "uploads",
    summary:
      "Finish a resumable upload: checks the size and sha256 of the bytes received (a mismatch is 400 naming sha256; the bytes are discarded and the session stays, to resend from 0), then registers the version exactly as the multipart push (body: the push's metadata JSON; 201 new, 200 same bytes as an existing version).",
    permission: "model:write",
    params: WsUpload,
    body: z.record(z.string(), z.unknown()),
    handler: async ({ actor, params, body, meta }) => {
      const result = await completeUpload(actor, params.id, body, meta);
      return Response.json(result, { status: result.created ? 201 : 200 });
    },
  }),
];

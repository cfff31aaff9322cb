import "server-only";
import { createHash, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { z } from "zod";
import { env } from "~/env";
import type { RequestMeta, WorkspaceActor } from "~/server/audit/actor";
import { AppError } from "~/server/errors";
import { formatBytes } from "~/server/shared/format";
import { RegistryName } from "~/server/shared/registry.schema";
import { uploadDatasetVersion } from "./datasets.service";
import { uploadModelVersion } from "./models.service";

/*
 * Resumable uploads (tus-like): a session is a small JSON file and a staging file beside it,
 * under ARTIFACT_DIR/upload-sessions. The staging file's length is the offset, so a PATCH cut
 * off halfway keeps what arrived and the client resumes from there. No table: a session is
 * transient, holds no audited state (the registration at /complete is audited as the
 * multipart push is), and files keep it working without a migration.
 */

/** How long a session may sit between PATCHes before the sweep removes it. */
export const UPLOAD_SESSION_TTL_MS = 24 * 60 * 60 * 1000;

export const CreateUploadInput = z.object({
  kind: z.enum(["model", "dataset"]),
  name: RegistryName,
  filename: z.string().trim().min(1).max(255),
  size: z.number().int().positive(),
  sha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, "must be 64 hexadecimal characters")
    .transform((s) => s.toLowerCase()),
});
export type CreateUploadInput = z.infer<typeof CreateUploadInput>;

const Session = CreateUploadInput.extend({ id: z.string().uuid(), workspaceId: z.string(), userId: z.string(), expiresAt: z.string() });
type Session = z.infer<typeof Session>;

const dir = () => path.join(path.resolve(env.ARTIFACT_DIR), "upload-sessions");
const metaPath = (id: string) => path.join(dir(), `${id}.json`);
const partPath = (id: string) => path.join(dir(), `${id}.part`);

/** A PATCH at the wrong offset: the route answers 409 with the current one. */
export class UploadOffsetConflict extends AppError {
  constructor(readonly offset: number) {
    super("CONFLICT", `The upload is at offset ${offset}: send the bytes from there (Upload-Offset: ${offset}).`, { field: "Upload-Offset" });
  }
}

// One request at a time per session (in this process): two PATCHes appending at once would interleave.
const busy = new Set<string>();
async function exclusive<T>(id: string, fn: () => Promise<T>) {
  if (busy.has(id)) throw new AppError("CONFLICT", "Another request is writing this upload; wait for it to finish, then ask for the offset.");
  busy.add(id);
  try {
    return await fn();
  } finally {
    busy.delete(id);
  }
}

async function load(actor: WorkspaceActor, id: string): Promise<Session> {
  const notFound = () => new AppError("NOT_FOUND", "This upload session does not exist, has expired or is not yours.", { field: "id" });
  if (!z.string().uuid().safeParse(id).success) throw notFound();
  let s: Session;
  try {
    s = Session.parse(JSON.parse(await fs.readFile(metaPath(id), "utf8")));
  } catch {
    throw notFound();
  }
  // Sessions belong to the workspace and the user who opened them; anyone else learns nothing.
  if (s.workspaceId !== actor.workspaceId || s.userId !== actor.userId || Date.parse(s.expiresAt) < Date.now()) throw notFound();
  return s;
}

async function offsetOf(id: string) {
  try {
    return (await fs.stat(partPath(id))).size;
  } catch {
    throw new AppError("NOT_FOUND", "This upload session has no staged bytes any more; start a new one.", { field: "id" });
  }
}

async function remove(id: string) {
  await Promise.all([fs.rm(partPath(id), { force: true }), fs.rm(metaPath(id), { force: true })]);
}

/** Removes expired sessions and their staged bytes (and staging files whose session is gone). */
export async function sweepUploadSessions(now = Date.now()) {
  let names: string[];
  try {
    names = await fs.readdir(dir());
  } catch {
    return 0;
  }
  let removed = 0;
  for (const n of names) {
    const id = n.replace(/\.(json|part)$/, "");
    const file = path.join(dir(), n);
    try {
      if (n.endsWith(".json")) {
        const s = JSON.parse(await fs.readFile(file, "utf8")) as { expiresAt?: string };
        if (!(Date.parse(s.expiresAt ?? "") >= now)) {
          await remove(id);
          removed++;
        }
      } else if (n.endsWith(".part") && !names.includes(`${id}.json`) && (await fs.stat(file)).mtimeMs < now - UPLOAD_SESSION_TTL_MS) {
        await fs.rm(file, { force: true });
        removed++;
      }
    } catch {
      // Gone already (a concurrent sweep or completion), or unreadable: the next sweep tries again.
    }
  }
  return removed;
}

/** Opens a session for `size` bytes with the given sha256; sweeps expired sessions on the way. */
export async function createUploadSession(actor: WorkspaceActor, input: CreateUploadInput) {
  if (input.size > env.UPLOAD_LIMIT_BYTES) {
    throw new AppError("INVALID", `The upload is larger than the limit of ${formatBytes(env.UPLOAD_LIMIT_BYTES)}.`, { field: "size" });
  }
  await sweepUploadSessions();
  const id = randomUUID();
  const expiresAt = new Date(Date.now() + UPLOAD_SESSION_TTL_MS).toISOString();
  const session: Session = { ...input, id, workspaceId: actor.workspaceId, userId: actor.userId, expiresAt };
  await fs.mkdir(dir(), { recursive: true, mode: 0o700 });
  await fs.writeFile(partPath(id), "", { flag: "wx", mode: 0o600 });
  await fs.writeFile(metaPath(id), JSON.stringify(session), { flag: "wx", mode: 0o600 });
  return { id, offset: 0, size: input.size, expiresAt };
}

/** Where the session stands: the number of bytes staged so far. */
export async function uploadSessionStatus(actor: WorkspaceActor, id: string) {
  const s = await load(actor, id);
  return { id, offset: await offsetOf(id), size: s.size, expiresAt: s.expiresAt };
}

/**
 * Appends the body at `offset` (which must be the staged length) to the staging file, streamed.
 * Bytes that arrived before a broken connection are kept: the offset moves with them. A body
 * that would go past the announced size is refused whole.
 */
export async function appendUploadChunk(actor: WorkspaceActor, id: string, offset: number, body: Readable | ReadableStream<Uint8Array>) {
  const s = await load(actor, id);
  return exclusive(id, async () => {
    const current = await offsetOf(id);
    if (offset !== current) throw new UploadOffsetConflict(current);
    let received = 0;
    const limit = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        received += chunk.length;
        if (offset + received > s.size) {
          return cb(new AppError("INVALID", `The upload is ${s.size} bytes long: this body goes past its end.`, { field: "body" }));
        }
        cb(null, chunk);
      },
    });
    const source = body instanceof Readable ? body : Readable.fromWeb(body as WebReadableStream<Uint8Array>);
    try {
      await pipeline(source, limit, createWriteStream(partPath(id), { flags: "a" }));
    } catch (err) {
      if (err instanceof AppError) {
        await fs.truncate(partPath(id), offset);
        throw err;
      }
      // The client broke off: what arrived stays, and the offset says how much.
    }
    // A refreshed expiry: a slow upload that keeps sending is not swept halfway.
    const expiresAt = new Date(Date.now() + UPLOAD_SESSION_TTL_MS).toISOString();
    await fs.writeFile(metaPath(id), JSON.stringify({ ...s, expiresAt }), { mode: 0o600 });
    return { id, offset: await offsetOf(id), size: s.size, expiresAt };
  });
}

/**
 * Checks the staged bytes against the announced size and sha256, then registers them through
 * the same service function as the multipart push (its audit event included) and removes the
 * session. On a mismatch or a refused registration the session stays, so the client can retry.
 */
export async function completeUpload(actor: WorkspaceActor, id: string, metadata: unknown, requestMeta: RequestMeta = {}) {
  const s = await load(actor, id);
  return exclusive(id, async () => {
    const size = await offsetOf(id);
    if (size !== s.size) throw new AppError("INVALID", `Only ${size} of ${s.size} bytes have arrived; send the rest first.`, { field: "size" });
    const hash = createHash("sha256");
    for await (const chunk of createReadStream(partPath(id))) hash.update(chunk as Buffer);
    const sha256 = hash.digest("hex");
    if (sha256 !== s.sha256) {
      // The session stays, emptied: the client sends the file again from offset 0.
      await fs.truncate(partPath(id), 0);
      throw new AppError(
        "INVALID",
        `The bytes received have sha256 ${sha256}, not the ${s.sha256} announced. They were discarded: send the file again from offset 0.`,
        {
          field: "sha256",
        },
      );
    }
    const input = { name: s.name, filename: s.filename, meta: metadata };
    const body = createReadStream(partPath(id));
    const result = s.kind === "model" ? await uploadModelVersion(actor, input, body, requestMeta) : await uploadDatasetVersion(actor, input, body, requestMeta);
    await remove(id);
    return result;
  });
}

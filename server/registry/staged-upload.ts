import "server-only";
import type { Readable } from "node:stream";
import { sql } from "drizzle-orm";
import { getDb } from "~/db/client";
import * as store from "~/server/artifacts/store";

/** Thrown inside `record` when a concurrent upload of the same bytes won the race. */
export class AlreadyRegistered extends Error {
  constructor() {
    super("already registered");
  }
}

/** True when a dataset or model version still points at this blob. */
async function blobReferenced(sha256: string) {
  const r = await getDb().execute<{ n: number }>(
    sql`select (select count(*) from dataset_versions where sha256 = ${sha256}) + (select count(*) from model_versions where sha256 = ${sha256}) as n`,
  );
  return Number(r[0]?.n ?? 0) > 0;
}

/**
 * The life of an upload, shared by datasets and models: stage it (hashed, size-limited),
 * return the existing version for the same bytes, inspect the staged file, move it into
 * the store under its hash, record it in one transaction. Whatever fails leaves neither
 * the staging file nor a blob that no row references.
 */
export async function registerUpload<I, T>(
  body: Readable | ReadableStream<Uint8Array>,
  steps: {
    existing: (sha256: string) => Promise<T | null>;
    inspect: (stagedPath: string) => Promise<I>;
    record: (staged: { sha256: string; size: number }, inspected: I) => Promise<T>;
    /**
     * Bundles: turns the staged upload into the file that is stored (its normalised form,
     * whose sha256 is the address) and inspects it on the way; `inspect` is then not called.
     * The upload as it arrived is removed either way.
     */
    prepare?: (uploaded: store.Staged) => Promise<{ staged: store.Staged; inspected: I }>;
  },
): Promise<{ result: T; created: boolean }> {
  let staged = await store.stage(body);
  let prepared: { inspected: I } | null = null;
  if (steps.prepare) {
    const uploaded = staged;
    try {
      const p = await steps.prepare(uploaded);
      staged = p.staged;
      prepared = { inspected: p.inspected };
    } finally {
      await uploaded.discard();
    }
  }
  let blobCreated = false;
  try {
    const existing = await steps.existing(staged.sha256);
    if (existing) return { result: existing, created: false };
    const inspected = prepared ? prepared.inspected : await steps.inspect(staged.path);
    blobCreated = (await store.commit(staged)).created;
    return { result: await steps.record(staged, inspected), created: true };
  } catch (err) {
    if (err instanceof AlreadyRegistered) {
      const existing = await steps.existing(staged.sha256);
      if (existing) return { result: existing, created: false };
    }
    if (blobCreated && !(await blobReferenced(staged.sha256))) await store.removeBlob(staged.sha256);
    throw err;
  } finally {
    await staged.discard();
  }
}

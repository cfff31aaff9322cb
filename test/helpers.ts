import { and, eq, sql } from "drizzle-orm";
import { TRPCError } from "@trpc/server";
import { expect } from "vitest";
import { getDb } from "~/db/client";
import { auditEvents, modelVersions } from "~/db/schema";
import type { CreatedUser } from "~/db/seed/factories";
import { contextFor } from "~/server/web/trpc/context";
import { createCaller } from "~/server/web/trpc/root";

export function callerFor(user: Pick<CreatedUser, "id" | "email"> | null, extra: { ip?: string } = {}) {
  return createCaller(contextFor(user ? { id: user.id, email: user.email } : null, extra));
}

/** Asserts the promise rejects with a tRPC error of `code` whose message matches. */
export async function expectTrpcError(p: Promise<unknown>, code: TRPCError["code"], message?: RegExp) {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, `expected ${code}, but the call succeeded`).toBeInstanceOf(TRPCError);
  expect((err as TRPCError).code).toBe(code);
  if (message) expect((err as TRPCError).message).toMatch(message);
  return err as TRPCError;
}

export async function auditFor(workspaceId: string, action?: string) {
  return getDb()
    .select()
    .from(auditEvents)
    .where(and(eq(auditEvents.workspaceId, workspaceId), action ? eq(auditEvents.action, action) : undefined))
    .orderBy(auditEvents.seq);
}

export async function expectAudit(workspaceId: string, match: { action: string; targetId?: string }) {
  const rows = await auditFor(workspaceId, match.action);
  const found = rows.find((r) => !match.targetId || r.targetId === match.targetId);
  expect(found, `expected an audit event ${match.action} in workspace ${workspaceId}`).toBeTruthy();
  return found!;
}

/**
 * Marks a version as one onnxruntime could not load. Uploads of such models are refused
 * now; versions registered before that still exist, and serving must keep refusing them.
 */
export async function markUnloadable(versionId: string, error = "No Op registered for NoSuchOperator with domain_version of 17") {
  await getDb()
    .update(modelVersions)
    .set({ signature: sql`jsonb_set(${modelVersions.signature}, '{runtime}', ${JSON.stringify({ loadable: false, error })}::jsonb)` })
    .where(eq(modelVersions.id, versionId));
}

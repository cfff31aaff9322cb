import "server-only";
import { createHash, createHmac, randomBytes, randomUUID } from "node:crypto";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { and, asc, desc, eq, inArray, sql } from "drizzle-orm";
import { getDb, type Tx } from "~/db/client";
import { memberships, webhookDeliveries, webhookOutbox, webhooks, workspaces } from "~/db/schema";
import { env } from "~/env";
import type { RequestMeta, WorkspaceActor } from "~/server/audit/actor";
import { mutate, type AuditFn } from "~/server/audit/mutate";
import { AppError } from "~/server/errors";
import { webhookDeliver } from "~/server/jobs/definitions";
import { enqueue } from "~/server/jobs/enqueue";
import { deliver, notifyTx } from "~/server/reviews/notifications.service";
import { rolesWith } from "~/server/shared/permissions";
import {
  CreateWebhookInput,
  matchesAny,
  RedeliverInput,
  TEST_EVENT,
  UpdateWebhookInput,
  WebhookDeliveriesInput,
  webhookEventGroups,
  WebhookIdInput,
} from "~/server/shared/webhooks.schema";
import { refusalFor, resolveTarget } from "./webhooks.address";

/*
 * Event webhooks: a workspace's audit events (by action name or `*` pattern, optionally only
 * those about some models or deployments) POSTed as JSON signed with HMAC-SHA256 over
 * "<timestamp>.<body>" (header `Steward-Signature: t=<unix seconds>,v1=<hex>`). What is owed
 * is written in the event's own transaction (webhooks.dispatch.ts, called by mutate()); the
 * job queue delivers it, retried with backoff, every attempt recorded with the receiver's
 * answer, at least once, with an idempotency key that stays the same across retries. After
 * DISABLE_AFTER failures in a row the webhook is switched off and the admins are told.
 *
 * The target's address is resolved and checked when connecting, the connection goes to that
 * checked address, and redirects are not followed — a webhook cannot be aimed at internal
 * services or at this host (webhooks.address.ts). Loopback and private addresses are allowed
 * only with WEBHOOK_ALLOW_PRIVATE=true (tests, local setups); the host's own non-loopback
 * addresses never are.
 */

export const DISABLE_AFTER = 5;
/** Attempts at one delivery: the first and the queue's retries. */
export const MAX_ATTEMPTS = 1 + (webhookDeliver.queue?.retryLimit ?? 0);
/** How much of a receiver's answer is kept with each attempt (characters). */
export const RESPONSE_BODY_LIMIT = 2048;

type Webhook = typeof webhooks.$inferSelect;
type Outbox = typeof webhookOutbox.$inferSelect;

/**
 * A webhook address as the audit trail keeps it: its origin and a fingerprint, never its path
 * or query, where services put their secrets (hooks.slack.com/services/T…/B…/<token>). The
 * fingerprint (sha256 of the whole address, 12 hex) lets an auditor match an address they
 * hold; the audit trail is kept for years and exported, a secret must not be in it.
 */
export function recordedUrl(url: string) {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `(unparseable address, sha256:${createHash("sha256").update(url).digest("hex").slice(0, 12)})`;
  }
  const rest = `${u.pathname}${u.search}`;
  return rest === "/" || rest === "" ? u.origin : `${u.origin}/… (sha256:${createHash("sha256").update(url).digest("hex").slice(0, 12)})`;
}

/** Delivery history (finished deliveries and their attempts) is kept this long. */
export const WEBHOOK_HISTORY_DAYS = 30;

/**
 * Removes finished deliveries (delivered, failed or skipped) and their attempts older than
 * WEBHOOK_HISTORY_DAYS, one transaction and audit event per workspace; pending ones stay
 * whatever their age. Run hourly with the retention job. Idempotent.
 */
export async function pruneWebhookHistory(now = new Date()) {
  const before = new Date(now.getTime() - WEBHOOK_HISTORY_DAYS * 86_400_000);
  const db = getDb();
  const due = await db.execute<{ workspace_id: string }>(sql`
    select distinct workspace_id from ${webhookOutbox} where state <> 'pending' and coalesce(finished_at, created_at) < ${before.toISOString()}::timestamptz
    union
    select distinct w.workspace_id from ${webhookDeliveries} d join ${webhooks} w on w.id = d.webhook_id where d.outbox_id is null and d.at < ${before.toISOString()}::timestamptz`);
  const pruned: { workspaceId: string; deliveries: number; attempts: number }[] = [];
  for (const { workspace_id: workspaceId } of due) {
    const r = await mutate({ type: "system", job: "webhook-retention", workspaceId }, async (tx, audit) => {
      const attempts = await tx.execute(sql`
        delete from ${webhookDeliveries} d using ${webhooks} w
        where w.id = d.webhook_id and w.workspace_id = ${workspaceId} and d.at < ${before.toISOString()}::timestamptz
          and (d.outbox_id is null or d.outbox_id in (
            select id from ${webhookOutbox} where workspace_id = ${workspaceId} and state <> 'pending' and coalesce(finished_at, created_at) < ${before.toISOString()}::timestamptz))`);
      const deliveries = await tx.execute(sql`
        delete from ${webhookOutbox} where workspace_id = ${workspaceId} and state <> 'pending' and coalesce(finished_at, created_at) < ${before.toISOString()}::timestamptz`);
      const out = { workspaceId, deliveries: deliveries.count ?? 0, attempts: attempts.count ?? 0 };
      audit({
        action: "webhook.history_pruned",
        target: { type: "workspace", id: workspaceId },
        metadata: { deliveries: out.deliveries, attempts: out.attempts, before: before.toISOString(), days: WEBHOOK_HISTORY_DAYS },
      });
      return out;
    });
    pruned.push(r);
  }
  return pruned;
}

function checkUrl(url: string) {
  // An address typed as such is checked now; names are resolved and checked at each delivery.
  const host = new URL(url).hostname.replace(/^\[(.*)\]$/, "$1");
  const refused = net.isIP(host) ? refusalFor(host, { allowPrivate: env.WEBHOOK_ALLOW_PRIVATE }) : null;
  if (refused) throw new AppError("INVALID", `url points at ${host}, ${refused}. Webhooks must reach a public address.`, { field: "url" });
}

async function findForUpdate(tx: Tx, actor: WorkspaceActor, id: string) {
  const [w] = await tx
    .select()
    .from(webhooks)
    .where(and(eq(webhooks.id, id), eq(webhooks.workspaceId, actor.workspaceId)))
    .for("update");
  if (!w) throw new AppError("NOT_FOUND", "That webhook does not exist.", { field: "id" });
  return w;
}

async function findWebhook(actor: WorkspaceActor, id: string) {
  const [w] = await getDb()
    .select()
    .from(webhooks)
    .where(and(eq(webhooks.id, id), eq(webhooks.workspaceId, actor.workspaceId)));
  if (!w) throw new AppError("NOT_FOUND", "That webhook does not exist.", { field: "id" });
  return w;
}

function toDto(w: Webhook) {
  return {
    id: w.id,
    name: w.name,
    url: w.url,
    events: w.events,
    models: w.models,
    deployments: w.deployments,
    enabled: w.enabled,
    consecutiveFailures: w.consecutiveFailures,
    disabledReason: w.disabledReason,
    createdAt: w.createdAt,
  };
}

/** The events a webhook can subscribe to, grouped by domain. */
export function webhookCatalogue() {
  return { groups: webhookEventGroups(), testEvent: TEST_EVENT };
}

/**
 * Adds a webhook (admins): what it receives is `events` (names or patterns, each matching at
 * least one event), narrowed by `models`/`deployments`. The secret is answered once.
 */
export async function createWebhook(actor: WorkspaceActor, raw: CreateWebhookInput, meta: RequestMeta = {}) {
  const input = CreateWebhookInput.parse(raw);
  checkUrl(input.url);
  const secret = `whsec_${randomBytes(24).toString("base64url")}`;
  const row = await mutate(
    actor,
    async (tx, audit) => {
      const [w] = await tx
        .insert(webhooks)
        .values({ workspaceId: actor.workspaceId, ...input, secret, createdBy: actor.userId })
        .returning();
      audit({
        action: "webhook.created",
        target: { type: "webhook", id: w!.id },
        metadata: { name: input.name, url: recordedUrl(input.url), events: input.events, models: input.models, deployments: input.deployments },
      });
      return w!;
    },
    meta,
  );
  return { ...toDto(row), secret };
}

/** The workspace's webhooks with their last few deliveries. */
export async function listWebhooks(actor: WorkspaceActor) {
  const db = getDb();
  const rows = await db.select().from(webhooks).where(eq(webhooks.workspaceId, actor.workspaceId)).orderBy(webhooks.createdAt);
  const out = [];
  for (const w of rows) {
    const recent = await db
      .select({ id: webhookOutbox.id, event: webhookOutbox.action, state: webhookOutbox.state, attempts: webhookOutbox.attempts, at: webhookOutbox.createdAt })
      .from(webhookOutbox)
      .where(eq(webhookOutbox.webhookId, w.id))
      .orderBy(desc(webhookOutbox.createdAt), desc(webhookOutbox.id))
      .limit(5);
    out.push({ ...toDto(w), recent });
  }
  return out;
}

/** Changes a webhook's name, URL or subscription (admins); audited with the changed fields. */
export async function updateWebhook(actor: WorkspaceActor, raw: UpdateWebhookInput, meta: RequestMeta = {}) {
  const { id, data } = UpdateWebhookInput.parse(raw);
  if (data.url) checkUrl(data.url);
  const row = await mutate(
    actor,
    async (tx, audit) => {
      const before = await findForUpdate(tx, actor, id);
      const changes: Record<string, [unknown, unknown]> = {};
      for (const k of ["name", "url", "events", "models", "deployments"] as const) {
        const next = data[k];
        if (next !== undefined && JSON.stringify(next) !== JSON.stringify(before[k]))
          changes[k] = k === "url" ? [recordedUrl(before.url), recordedUrl(next as string)] : [before[k], next];
      }
      if (!Object.keys(changes).length) throw new AppError("INVALID", "Nothing to change: the webhook already has these settings.", { field: "data" });
      const [after] = await tx
        .update(webhooks)
        .set(Object.fromEntries(Object.entries(changes).map(([k, [, v]]) => [k, v])))
        .where(eq(webhooks.id, before.id))
        .returning();
      audit({ action: "webhook.updated", target: { type: "webhook", id: before.id }, changes, metadata: { name: after!.name } });
      return after!;
    },
    meta,
  );
  return toDto(row);
}

export async function setWebhookEnabled(actor: WorkspaceActor, input: { id: string; enabled: boolean }, meta: RequestMeta = {}) {
  await mutate(
    actor,
    async (tx, audit) => {
      const w = await findForUpdate(tx, actor, input.id);
      await tx
        .update(webhooks)
        .set({ enabled: input.enabled, consecutiveFailures: 0, disabledReason: input.enabled ? null : "switched off" })
        .where(eq(webhooks.id, w.id));
      audit({ action: input.enabled ? "webhook.enabled" : "webhook.disabled", target: { type: "webhook", id: w.id }, metadata: { name: w.name } });
    },
    meta,
  );
}

/** Deletes a webhook with its delivery log (admins); deliveries still queued are dropped. */
export async function deleteWebhook(actor: WorkspaceActor, raw: { id: string }, meta: RequestMeta = {}) {
  const { id } = WebhookIdInput.parse(raw);
  await mutate(
    actor,
    async (tx, audit) => {
      const w = await findForUpdate(tx, actor, id);
      await tx.delete(webhooks).where(eq(webhooks.id, w.id));
      audit({ action: "webhook.deleted", target: { type: "webhook", id: w.id }, metadata: { name: w.name, url: recordedUrl(w.url) } });
    },
    meta,
  );
  return { id };
}

// The cursor names the last delivery of the page; the next page starts after it in the list's order.
const encodeCursor = (id: string) => Buffer.from(id).toString("base64url");

function decodeCursor(cursor: string) {
  const id = Buffer.from(cursor, "base64url").toString();
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) {
    throw new AppError("INVALID", "cursor is not one this list answered; start again without it.", { field: "cursor" });
  }
  return id;
}

/** A webhook's deliveries, newest first, each with every attempt and the receiver's answers; paged with an opaque cursor. */
export async function listDeliveries(actor: WorkspaceActor, raw: WebhookDeliveriesInput) {
  const input = WebhookDeliveriesInput.parse(raw);
  const w = await findWebhook(actor, input.id);
  const db = getDb();
  const after = input.cursor ? decodeCursor(input.cursor) : null;
  // Newest first; the deliveries of one transaction (one created_at) by sequence.
  const key = sql`(${webhookOutbox.createdAt}, coalesce(${webhookOutbox.seq}, 0), ${webhookOutbox.id})`;
  const rows = await db
    .select()
    .from(webhookOutbox)
    .where(
      and(
        eq(webhookOutbox.webhookId, w.id),
        after ? sql`${key} < (select o.created_at, coalesce(o.seq, 0), o.id from webhook_outbox o where o.id = ${after})` : undefined,
      ),
    )
    .orderBy(desc(webhookOutbox.createdAt), sql`coalesce(${webhookOutbox.seq}, 0) desc`, desc(webhookOutbox.id))
    .limit(input.limit + 1);
  const page = rows.slice(0, input.limit);
  const attempts = page.length
    ? await db
        .select()
        .from(webhookDeliveries)
        .where(
          inArray(
            webhookDeliveries.outboxId,
            page.map((r) => r.id),
          ),
        )
        .orderBy(asc(webhookDeliveries.attempt))
    : [];
  const last = page[page.length - 1];
  return {
    items: page.map((r) => ({
      id: r.id,
      event: r.action,
      seq: r.seq,
      state: r.state,
      test: r.test,
      createdAt: r.createdAt,
      finishedAt: r.finishedAt,
      payload: r.payload,
      attempts: attempts
        .filter((a) => a.outboxId === r.id)
        .map((a) => ({ attempt: a.attempt, at: a.at, status: a.status, ok: a.ok, error: a.error, responseBody: a.responseBody, durationMs: a.durationMs })),
    })),
    nextCursor: rows.length > input.limit && last ? encodeCursor(last.id) : null,
  };
}

/**
 * Sends a test event (`webhook.test`) to a webhook now, whether it is on or off, and answers
 * what the receiver said. Recorded in the delivery log; it never switches the webhook off and
 * is not retried.
 */
export async function sendTestEvent(actor: WorkspaceActor, raw: { id: string }, meta: RequestMeta = {}, opts: { allowPrivate?: boolean } = {}) {
  const { id } = WebhookIdInput.parse(raw);
  const w = await findWebhook(actor, id);
  const [ws] = await getDb().select({ slug: workspaces.slug }).from(workspaces).where(eq(workspaces.id, actor.workspaceId));
  const deliveryId = randomUUID();
  const payload = {
    id: deliveryId,
    event: TEST_EVENT,
    test: true,
    occurredAt: new Date().toISOString(),
    workspace: { id: actor.workspaceId, slug: ws?.slug ?? null },
    actor: { type: "user", id: actor.userId, label: actor.email },
    target: { type: "webhook", id: w.id },
    subject: { model: null, deployment: null },
    changes: null,
    metadata: { name: w.name, message: `A test event sent by ${actor.email} from the webhook's settings.` },
    audit: null,
  };
  // The delivery record is telemetry (as every attempt is): no audit event.
  const row = await mutate(
    actor,
    async (tx) => {
      const [r] = await tx
        .insert(webhookOutbox)
        .values({ id: deliveryId, webhookId: w.id, workspaceId: w.workspaceId, action: TEST_EVENT, payload, test: true })
        .returning();
      return r!;
    },
    meta,
    { eventOptional: true },
  );
  const r = await attemptDelivery(w, row, { allowPrivate: opts.allowPrivate ?? env.WEBHOOK_ALLOW_PRIVATE });
  return { deliveryId, ok: r.ok, status: r.status, error: r.error, responseBody: r.responseBody, durationMs: r.durationMs };
}

/**
 * Queues a failed or skipped delivery again, with the same id (so a receiver that did get it
 * recognises it): one more attempt, through the queue, in the delivery log as the next
 * attempt. The webhook must be on.
 */
export async function redeliver(actor: WorkspaceActor, raw: RedeliverInput, meta: RequestMeta = {}) {
  const { id, deliveryId } = RedeliverInput.parse(raw);
  // Like an attempt, telemetry: the event it carries is already in the trail.
  return mutate(
    actor,
    async (tx) => {
      const w = await findForUpdate(tx, actor, id);
      const [row] = await tx
        .select()
        .from(webhookOutbox)
        .where(and(eq(webhookOutbox.id, deliveryId), eq(webhookOutbox.webhookId, w.id)))
        .for("update");
      if (!row) throw new AppError("NOT_FOUND", "That delivery does not exist.", { field: "deliveryId" });
      if (row.test) throw new AppError("INVALID", "A test event is not sent again: send a new one.", { field: "deliveryId" });
      if (row.state === "pending") throw new AppError("CONFLICT", "That delivery is already queued.", { field: "deliveryId" });
      if (!w.enabled) throw new AppError("PRECONDITION_FAILED", "The webhook is switched off: switch it on first.", { field: "id" });
      await tx.update(webhookOutbox).set({ state: "pending", finishedAt: null }).where(eq(webhookOutbox.id, row.id));
      await enqueue(tx, webhookDeliver, { webhookId: w.id, deliveryIds: [row.id] });
      return { deliveryId: row.id, state: "pending" as const };
    },
    meta,
    { eventOptional: true },
  );
}

/** Whether an address may be called: public unicast only (never this host's), unless private targets are allowed. */
export function addressAllowed(ip: string, allowPrivate = env.WEBHOOK_ALLOW_PRIVATE) {
  return refusalFor(ip, { allowPrivate }) === null;
}

export function sign(secret: string, timestamp: number, body: string) {
  return `t=${timestamp},v1=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

/**
 * One POST to the webhook: resolve, check, connect to the checked address (so a DNS answer
 * cannot change between the check and the connection), never follow redirects. Keeps the
 * first RESPONSE_BODY_LIMIT characters of the answer and discards the rest.
 */
async function post(
  url: string,
  body: string,
  headers: Record<string, string>,
  opts: { allowPrivate: boolean },
  timeoutMs = 10_000,
): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  const { address, family, literal } = await resolveTarget(u, opts);
  const mod = u.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      // The checked address itself (no lookup happens for an IP); TLS still verifies the
      // name (SNI must not be an IP literal, so a literal URL verifies against the IP).
      {
        host: address,
        family,
        ...(literal ? {} : { servername: u.hostname }),
        port: u.port || (u.protocol === "https:" ? 443 : 80),
        path: `${u.pathname}${u.search}`,
        method: "POST",
        headers: { ...headers, host: u.host, "content-length": Buffer.byteLength(body) },
        timeout: timeoutMs,
      },
      (res) => {
        let kept = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          if (kept.length < RESPONSE_BODY_LIMIT) kept += c.slice(0, RESPONSE_BODY_LIMIT - kept.length);
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: kept }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
    req.on("error", reject);
    req.end(body);
  });
}

type Sent = { ok: boolean; status: number; error: string | null; responseBody: string | null; durationMs: number };

async function send(w: Webhook, body: string, headers: Record<string, string>, allowPrivate: boolean): Promise<Sent> {
  const ts = Math.floor(Date.now() / 1000);
  const t0 = performance.now();
  let status = 0;
  let error: string | null = null;
  let responseBody: string | null = null;
  try {
    const r = await post(
      w.url,
      body,
      { "content-type": "application/json", "user-agent": "Steward-Webhook/1", ...headers, "steward-signature": sign(w.secret, ts, body) },
      { allowPrivate },
    );
    status = r.status;
    responseBody = r.body;
    if (status >= 300) error = status < 400 ? `redirect (${status}) not followed` : `HTTP ${status}`;
  } catch (err) {
    error = (err as Error).message.slice(0, 300);
  }
  return { ok: error === null, status, error, responseBody, durationMs: Math.round(performance.now() - t0) };
}

/**
 * Counts a failure (or clears the count) in the attempt's transaction; at DISABLE_AFTER in a
 * row the webhook is switched off — a change with its audit event — and the admins are told.
 */
async function countOutcome(tx: Tx, audit: AuditFn, w: Webhook, ok: boolean, error: string | null) {
  const [after] = await tx
    .update(webhooks)
    .set({ consecutiveFailures: ok ? 0 : sql`${webhooks.consecutiveFailures} + 1` })
    .where(eq(webhooks.id, w.id))
    .returning();
  if (ok || !after || after.consecutiveFailures < DISABLE_AFTER || !after.enabled) return { disabled: false, notes: [] };
  await tx
    .update(webhooks)
    .set({ enabled: false, disabledReason: `${DISABLE_AFTER} deliveries in a row failed (last: ${error})` })
    .where(eq(webhooks.id, w.id));
  audit({
    action: "webhook.disabled",
    target: { type: "webhook", id: w.id },
    workspaceId: w.workspaceId,
    metadata: { name: w.name, reason: error, automatic: true },
  });
  // Told: whoever may manage the workspace's webhooks.
  const admins = await tx
    .select({ id: memberships.userId })
    .from(memberships)
    .where(and(eq(memberships.workspaceId, w.workspaceId), inArray(memberships.role, rolesWith("workspace:update"))));
  const notes = await notifyTx(
    tx,
    admins.map((a) => ({
      userId: a.id,
      workspaceId: w.workspaceId,
      kind: "alert" as const,
      title: `Webhook "${w.name}" was switched off after ${DISABLE_AFTER} failed deliveries`,
      body: error ?? undefined,
      actorLabel: "Steward",
    })),
  );
  return { disabled: true, notes };
}

/** One attempt at one owed delivery: sent, then recorded (the attempt, the delivery's state, the webhook's failure count). */
async function attemptDelivery(w: Webhook, row: Outbox, opts: { allowPrivate: boolean; lastRun?: boolean }) {
  const attempt = row.attempts + 1;
  const body = JSON.stringify({ ...row.payload, attempt, sentAt: new Date().toISOString() });
  const r = await send(
    w,
    body,
    { "steward-event": row.action, "steward-delivery": row.id, "idempotency-key": row.id, "steward-attempt": String(attempt) },
    opts.allowPrivate,
  );
  // The queue's last run of the job: a delivery that waited behind a failing one gets no further attempt.
  const final = r.ok || row.test || attempt >= MAX_ATTEMPTS || !!opts.lastRun;
  let toDeliver: { id: string; userId: string }[] = [];
  let disabled = false;
  // The attempt is telemetry; switching the webhook off is a change with its event.
  await mutate(
    { type: "system", job: "webhooks", workspaceId: w.workspaceId },
    async (tx, audit) => {
      await tx.insert(webhookDeliveries).values({
        webhookId: w.id,
        outboxId: row.id,
        event: row.action,
        attempt,
        status: r.status || null,
        ok: r.ok,
        error: r.error,
        responseBody: r.responseBody,
        durationMs: r.durationMs,
      });
      await tx
        .update(webhookOutbox)
        .set({ attempts: attempt, state: r.ok ? "delivered" : final ? "failed" : "pending", finishedAt: final ? new Date() : null })
        .where(eq(webhookOutbox.id, row.id));
      // A test event says whether the receiver works; it does not count towards switching it off.
      if (!row.test) ({ disabled, notes: toDeliver } = await countOutcome(tx, audit, w, r.ok, r.error));
    },
    {},
    { eventOptional: true },
  );
  deliver(toDeliver);
  return { ...r, final, disabled };
}

async function skipPending(webhookId: string, ids: string[]) {
  if (!ids.length) return;
  await mutate(
    { type: "system", job: "webhooks" },
    async (tx) => {
      await tx
        .update(webhookOutbox)
        .set({ state: "skipped", finishedAt: new Date() })
        .where(and(eq(webhookOutbox.webhookId, webhookId), inArray(webhookOutbox.id, ids), eq(webhookOutbox.state, "pending")));
    },
    {},
    { eventOptional: true },
  );
}

/**
 * Delivers what a transaction owed one webhook, in sequence order (a job: throwing makes the
 * queue retry it with backoff; what was delivered is not sent again). A delivery that fails
 * holds back the ones after it until it succeeds or runs out of attempts.
 */
async function deliverOwed(webhookId: string, deliveryIds: string[], opts: { allowPrivate: boolean; lastRun?: boolean }) {
  const db = getDb();
  const [w] = await db.select().from(webhooks).where(eq(webhooks.id, webhookId));
  // Deleted: its deliveries went with it.
  if (!w) return { skipped: true, delivered: 0 };
  const rows = await db
    .select()
    .from(webhookOutbox)
    .where(and(eq(webhookOutbox.webhookId, w.id), inArray(webhookOutbox.id, deliveryIds)))
    .orderBy(asc(webhookOutbox.seq), asc(webhookOutbox.createdAt));
  const pending = rows.filter((r) => r.state === "pending");
  if (!w.enabled) {
    await skipPending(
      w.id,
      pending.map((r) => r.id),
    );
    return { skipped: true, delivered: 0 };
  }
  let delivered = 0;
  let failed = 0;
  for (const [i, row] of pending.entries()) {
    const r = await attemptDelivery(w, row, opts);
    if (r.ok) {
      delivered += 1;
      continue;
    }
    if (r.disabled) {
      await skipPending(
        w.id,
        pending.slice(i + 1).map((p) => p.id),
      );
      throw new Error(`webhook ${w.name}: ${r.error} (switched off)`);
    }
    if (!r.final) throw new Error(`webhook ${w.name}: ${r.error}`);
    failed += 1;
  }
  // Every delivery settled; the job still fails, so the queue shows it.
  if (failed) throw new Error(`webhook ${w.name}: ${failed} of ${pending.length} deliveries failed for good`);
  return { skipped: false, delivered };
}

/**
 * An alert job queued before subscriptions existed ({ event: "alert.fired:<incident>", payload }).
 * The same alert now reaches the webhook through its subscription (an outbox row written with
 * the audit event): such a job is sent only when no outbox row covers it and the webhook
 * still subscribes to the alert without filters, so nothing arrives twice or past a filter.
 */
async function deliverLegacy(input: { webhookId: string; event: string; payload: unknown }, opts: { allowPrivate: boolean }) {
  const db = getDb();
  const [w] = await db.select().from(webhooks).where(eq(webhooks.id, input.webhookId));
  if (!w || !w.enabled) return { skipped: true };
  const [action, targetId] = input.event.split(":") as [string, string | undefined];
  // Filters came with subscriptions: a filtered webhook gets its alerts through the outbox only.
  if (!matchesAny(w.events, action) || w.models.length || w.deployments.length) return { skipped: true };
  const [covered] = await db
    .select({ id: webhookOutbox.id })
    .from(webhookOutbox)
    .where(and(eq(webhookOutbox.webhookId, w.id), eq(webhookOutbox.action, action), sql`${webhookOutbox.payload}->'target'->>'id' = ${targetId ?? ""}`))
    .limit(1);
  if (covered) return { skipped: true };
  const [{ n }] = (await db
    .select({ n: sql<number>`count(*)::int` })
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.webhookId, w.id), eq(webhookDeliveries.event, input.event)))) as [{ n: number }];
  const attempt = n + 1;
  const body = JSON.stringify({ event: action, id: input.event, attempt, sentAt: new Date().toISOString(), data: input.payload });
  const r = await send(w, body, { "steward-event": input.event }, opts.allowPrivate);
  let toDeliver: { id: string; userId: string }[] = [];
  await mutate(
    { type: "system", job: "webhooks", workspaceId: w.workspaceId },
    async (tx, audit) => {
      await tx.insert(webhookDeliveries).values({
        webhookId: w.id,
        event: input.event,
        attempt,
        status: r.status || null,
        ok: r.ok,
        error: r.error,
        responseBody: r.responseBody,
        durationMs: r.durationMs,
      });
      toDeliver = (await countOutcome(tx, audit, w, r.ok, r.error)).notes;
    },
    {},
    { eventOptional: true },
  );
  deliver(toDeliver);
  if (!r.ok) throw new Error(`webhook ${w.name}: ${r.error}`);
  return { ok: true, status: r.status };
}

/** The `webhook.deliver` job: a transaction's owed deliveries, or an alert job from before subscriptions. */
export async function deliverWebhook(
  input: { webhookId: string; deliveryIds?: string[]; event?: string; payload?: unknown },
  opts: { allowPrivate?: boolean; /** The queue will not retry this job again. */ lastRun?: boolean } = {},
) {
  const allowPrivate = opts.allowPrivate ?? env.WEBHOOK_ALLOW_PRIVATE;
  if (input.deliveryIds) return deliverOwed(input.webhookId, input.deliveryIds, { allowPrivate, lastRun: opts.lastRun });
  if (input.event) return deliverLegacy({ webhookId: input.webhookId, event: input.event, payload: input.payload }, { allowPrivate });
  return { skipped: true };
}

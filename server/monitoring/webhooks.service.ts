import "server-only";
import { createHmac, randomBytes } from "node:crypto";
import dns from "node:dns/promises";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { and, desc, eq, sql } from "drizzle-orm";
import { z } from "zod";
import { getDb } from "~/db/client";
import { memberships, webhookDeliveries, webhooks } from "~/db/schema";
import { env } from "~/env";
import type { RequestMeta, WorkspaceActor } from "~/server/audit/actor";
import { appendAuditEvents, mutate } from "~/server/audit/mutate";
import { AppError } from "~/server/errors";
import { deliver, notifyTx } from "~/server/reviews/notifications.service";

/*
 * Webhooks for alerts: a JSON body signed with HMAC-SHA256 over "<timestamp>.<body>"
 * (header `Steward-Signature: t=<unix seconds>,v1=<hex>`), retried with backoff by the
 * job queue, every attempt recorded, and switched off after repeated failures with a
 * notice to admins. The target's address is resolved and checked when connecting, the
 * connection goes to that checked address, and redirects are not followed — a webhook
 * cannot be aimed at internal services. Loopback and private addresses are allowed only
 * with WEBHOOK_ALLOW_PRIVATE=true (tests, local setups).
 */

export const DISABLE_AFTER = 5;

const Url = z.url("url must be an http(s) URL.").refine((u) => /^https?:\/\//.test(u), "url must be an http(s) URL.");

export async function createWebhook(actor: WorkspaceActor, input: { name: string; url: string }, meta: RequestMeta = {}) {
  const name = z.string().trim().min(1, "name is required.").max(60).parse(input.name);
  const url = Url.parse(input.url);
  const secret = `whsec_${randomBytes(24).toString("base64url")}`;
  const row = await mutate(
    actor,
    async (tx, audit) => {
      const [w] = await tx.insert(webhooks).values({ workspaceId: actor.workspaceId, name, url, secret, createdBy: actor.userId }).returning();
      audit({ action: "webhook.created", target: { type: "webhook", id: w!.id }, metadata: { name, url } });
      return w!;
    },
    meta,
  );
  return { id: row.id, name, url, secret };
}

export async function listWebhooks(actor: WorkspaceActor) {
  const rows = await getDb().select().from(webhooks).where(eq(webhooks.workspaceId, actor.workspaceId)).orderBy(webhooks.createdAt);
  const out = [];
  for (const w of rows) {
    const recent = await getDb().select().from(webhookDeliveries).where(eq(webhookDeliveries.webhookId, w.id)).orderBy(desc(webhookDeliveries.at)).limit(10);
    out.push({ id: w.id, name: w.name, url: w.url, enabled: w.enabled, consecutiveFailures: w.consecutiveFailures, disabledReason: w.disabledReason, createdAt: w.createdAt, recent: recent.map((d) => ({ at: d.at, event: d.event, attempt: d.attempt, status: d.status, ok: d.ok, error: d.error, durationMs: d.durationMs })) });
  }
  return out;
}

export async function setWebhookEnabled(actor: WorkspaceActor, input: { id: string; enabled: boolean }, meta: RequestMeta = {}) {
  await mutate(
    actor,
    async (tx, audit) => {
      const [w] = await tx.select().from(webhooks).where(and(eq(webhooks.id, input.id), eq(webhooks.workspaceId, actor.workspaceId))).for("update");
      if (!w) throw new AppError("NOT_FOUND", "That webhook does not exist.", { field: "id" });
      await tx.update(webhooks).set({ enabled: input.enabled, consecutiveFailures: 0, disabledReason: input.enabled ? null : "switched off" }).where(eq(webhooks.id, w.id));
      audit({ action: input.enabled ? "webhook.enabled" : "webhook.disabled", target: { type: "webhook", id: w.id }, metadata: { name: w.name } });
    },
    meta,
  );
}

/** Whether an address may be called: public unicast only, unless private targets are allowed. */
export function addressAllowed(ip: string, allowPrivate = env.WEBHOOK_ALLOW_PRIVATE) {
  if (allowPrivate) return true;
  const v4 = net.isIPv4(ip) ? ip : /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1];
  if (v4) {
    const [a, b] = v4.split(".").map(Number) as [number, number];
    return !(a === 0 || a === 10 || a === 127 || (a === 100 && b >= 64 && b <= 127) || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || a >= 224);
  }
  const x = ip.toLowerCase();
  return !(x === "::" || x === "::1" || x.startsWith("fc") || x.startsWith("fd") || x.startsWith("fe80") || x.startsWith("ff"));
}

export function sign(secret: string, timestamp: number, body: string) {
  return `t=${timestamp},v1=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

/**
 * One POST to the webhook: resolve, check, connect to the checked address (so a DNS answer
 * cannot change between the check and the connection), never follow redirects.
 */
async function post(url: string, body: string, headers: Record<string, string>, timeoutMs = 10_000): Promise<{ status: number }> {
  const u = new URL(url);
  const { address } = await dns.lookup(u.hostname);
  if (!addressAllowed(address)) throw new Error(`refused: ${u.hostname} resolves to ${address}, a private or internal address`);
  const mod = u.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      { host: address, servername: u.hostname, port: u.port || (u.protocol === "https:" ? 443 : 80), path: `${u.pathname}${u.search}`, method: "POST", headers: { ...headers, host: u.host, "content-length": Buffer.byteLength(body) }, timeout: timeoutMs },
      (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode ?? 0 }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
    req.on("error", reject);
    req.end(body);
  });
}

/**
 * Delivers one event to one webhook (a job: throwing makes the queue retry it with
 * backoff). Records the attempt; after DISABLE_AFTER consecutive failures the webhook is
 * switched off and the workspace's admins are told.
 */
export async function deliverWebhook(input: { webhookId: string; event: string; payload: unknown }) {
  const db = getDb();
  const [w] = await db.select().from(webhooks).where(eq(webhooks.id, input.webhookId));
  if (!w || !w.enabled) return { skipped: true };
  const [{ n }] = (await db.select({ n: sql<number>`count(*)::int` }).from(webhookDeliveries).where(and(eq(webhookDeliveries.webhookId, w.id), eq(webhookDeliveries.event, input.event)))) as [{ n: number }];
  const attempt = n + 1;
  const body = JSON.stringify({ event: input.event.split(":")[0], id: input.event, attempt, sentAt: new Date().toISOString(), data: input.payload });
  const ts = Math.floor(Date.now() / 1000);
  const t0 = performance.now();
  let status = 0;
  let error: string | null = null;
  try {
    status = (await post(w.url, body, { "content-type": "application/json", "user-agent": "Steward-Webhook/1", "steward-event": input.event, "steward-signature": sign(w.secret, ts, body) })).status;
    if (status >= 300) error = status < 400 ? `redirect (${status}) not followed` : `HTTP ${status}`;
  } catch (err) {
    error = (err as Error).message.slice(0, 300);
  }
  const ok = error === null;
  const durationMs = Math.round(performance.now() - t0);
  let toDeliver: { id: string; userId: string }[] = [];
  await db.transaction(async (tx) => {
    await tx.insert(webhookDeliveries).values({ webhookId: w.id, event: input.event, attempt, status: status || null, ok, error, durationMs });
    const [after] = await tx
      .update(webhooks)
      .set({ consecutiveFailures: ok ? 0 : sql`${webhooks.consecutiveFailures} + 1` })
      .where(eq(webhooks.id, w.id))
      .returning();
    if (!ok && after!.consecutiveFailures >= DISABLE_AFTER && after!.enabled) {
      await tx.update(webhooks).set({ enabled: false, disabledReason: `${DISABLE_AFTER} deliveries in a row failed (last: ${error})` }).where(eq(webhooks.id, w.id));
      await appendAuditEvents(tx, { type: "system", job: "webhooks", workspaceId: w.workspaceId }, [{ action: "webhook.disabled", target: { type: "webhook", id: w.id }, workspaceId: w.workspaceId, metadata: { name: w.name, reason: error, automatic: true } }]);
      const admins = await tx.select({ id: memberships.userId }).from(memberships).where(and(eq(memberships.workspaceId, w.workspaceId), sql`${memberships.role} in ('admin', 'owner')`));
      toDeliver = await notifyTx(tx, admins.map((a) => ({ userId: a.id, workspaceId: w.workspaceId, kind: "alert" as const, title: `Webhook "${w.name}" was switched off after ${DISABLE_AFTER} failed deliveries`, body: error ?? undefined, actorLabel: "Steward" })));
    }
  });
  deliver(toDeliver);
  if (!ok) throw new Error(`webhook ${w.name}: ${error}`);
  return { ok, status };
}

import "server-only";
import { z } from "zod";
import * as hooks from "~/server/monitoring/webhooks.service";
import { CreateWebhookInput, UpdateWebhookInput } from "~/server/shared/webhooks.schema";
import { route } from "./rest";

const Ws = z.object({ workspace: z.string().min(1).max(60) });
const WsHook = Ws.extend({ id: z.uuid("id must be a webhook's id.") });

/** Event webhooks (server/monitoring/webhooks.service.ts): admins and owners (workspace:update), the same services as tRPC. */
export const WEBHOOK_ROUTES = [
  route({
    method: "GET",
    path: "/workspaces/{workspace}/webhooks",
    trpc: "webhooks.list",
    tag: "webhooks",
    summary: "List the workspace's webhooks: URL, subscribed events (names or * patterns), model and deployment filters, on/off, and the last few deliveries.",
    permission: "workspace:update",
    params: Ws,
    handler: ({ actor }) => hooks.listWebhooks(actor),
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/webhooks/events",
    trpc: "webhooks.catalogue",
    tag: "webhooks",
    summary: "The event catalogue a webhook can subscribe to (audit action names), grouped by domain.",
    permission: "workspace:update",
    params: Ws,
    handler: async () => hooks.webhookCatalogue(),
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/webhooks",
    trpc: "webhooks.create",
    tag: "webhooks",
    summary:
      "Add a webhook: { name, url, events?, models?, deployments? }. events are audit action names or patterns with * (deployment.*), each matching at least one event (default: alert.fired and alert.resolved). Answers the signing secret, once. Audited (webhook.created).",
    permission: "workspace:update",
    params: Ws,
    body: CreateWebhookInput,
    status: 201,
    handler: ({ actor, body, meta }) => hooks.createWebhook(actor, body, meta),
  }),
  route({
    method: "PUT",
    path: "/workspaces/{workspace}/webhooks/{id}",
    trpc: "webhooks.update",
    tag: "webhooks",
    summary: "Change a webhook's name, url, events, models or deployments (fields left out are kept). Audited (webhook.updated, with the changes).",
    permission: "workspace:update",
    params: WsHook,
    body: UpdateWebhookInput.shape.data,
    handler: ({ actor, params, body, meta }) => hooks.updateWebhook(actor, { id: params.id, data: body }, meta),
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/webhooks/{id}/enabled",
    trpc: "webhooks.setEnabled",
    tag: "webhooks",
    summary: "Switch a webhook on or off: { enabled }. Switching on clears the failure count. Audited (webhook.enabled / webhook.disabled).",
    permission: "workspace:update",
    params: WsHook,
    body: z.object({ enabled: z.boolean() }),
    handler: async ({ actor, params, body, meta }) => {
      await hooks.setWebhookEnabled(actor, { id: params.id, enabled: body.enabled }, meta);
      return { id: params.id, enabled: body.enabled };
    },
  }),
  route({
    method: "DELETE",
    path: "/workspaces/{workspace}/webhooks/{id}",
    trpc: "webhooks.delete",
    tag: "webhooks",
    summary: "Delete a webhook and its delivery log; deliveries still queued are dropped. Audited (webhook.deleted).",
    permission: "workspace:update",
    params: WsHook,
    handler: ({ actor, params, meta }) => hooks.deleteWebhook(actor, { id: params.id }, meta),
  }),
  route({
    method: "GET",
    path: "/workspaces/{workspace}/webhooks/{id}/deliveries",
    trpc: "webhooks.deliveries",
    tag: "webhooks",
    summary:
      "A webhook's deliveries, newest first: event, audit sequence number, state (pending, delivered, failed, skipped), the payload, and every attempt with its HTTP status, error and the start of the receiver's answer. Paged: pass nextCursor as cursor.",
    permission: "workspace:update",
    params: WsHook,
    query: z.object({ cursor: z.string().max(200).optional(), limit: z.coerce.number().int().min(1).max(100).default(20) }),
    handler: ({ actor, params, query }) => hooks.listDeliveries(actor, { id: params.id, ...query }),
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/webhooks/{id}/test",
    trpc: "webhooks.sendTest",
    tag: "webhooks",
    summary:
      "Send a test event (webhook.test) to the webhook now, on or off, and answer what the receiver said: { deliveryId, ok, status, error, responseBody }. Recorded in the delivery log; never retried, never counts towards switching the webhook off.",
    permission: "workspace:update",
    params: WsHook,
    handler: ({ actor, params, meta }) => hooks.sendTestEvent(actor, { id: params.id }, meta),
  }),
  route({
    method: "POST",
    path: "/workspaces/{workspace}/webhooks/{id}/deliveries/{deliveryId}/redeliver",
    trpc: "webhooks.redeliver",
    tag: "webhooks",
    summary:
      "Queue a failed or skipped delivery again, with the same id (Steward-Delivery / Idempotency-Key): one more attempt, recorded as the next one. 409 if it is already queued; the webhook must be on.",
    permission: "workspace:update",
    params: WsHook.extend({ deliveryId: z.uuid("deliveryId must be a delivery's id.") }),
    handler: ({ actor, params, meta }) => hooks.redeliver(actor, { id: params.id, deliveryId: params.deliveryId }, meta),
  }),
];

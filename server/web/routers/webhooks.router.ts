import "server-only";
import type { TRPCRouterRecord } from "@trpc/server";
import { z } from "zod";
import { WorkspaceIdInput } from "~/server/shared/identity.schema";
import { CreateWebhookInput, RedeliverInput, UpdateWebhookInput, WebhookDeliveriesInput, WebhookIdInput } from "~/server/shared/webhooks.schema";
import { workspaceProcedure } from "~/server/web/trpc/procedures";
import * as hooks from "~/server/monitoring/webhooks.service";

/** Event webhooks (admins: workspace:update): CRUD, the event catalogue, the delivery log, a test event. */
export const webhooksRouter = {
  list: workspaceProcedure("workspace:update")
    .input(WorkspaceIdInput)
    .query(({ ctx }) => hooks.listWebhooks(ctx.actor)),
  catalogue: workspaceProcedure("workspace:update")
    .input(WorkspaceIdInput)
    .query(() => hooks.webhookCatalogue()),
  create: workspaceProcedure("workspace:update")
    .input(WorkspaceIdInput.extend(CreateWebhookInput.shape))
    .mutation(({ ctx, input }) => hooks.createWebhook(ctx.actor, input, ctx.meta)),
  update: workspaceProcedure("workspace:update")
    .input(WorkspaceIdInput.extend(UpdateWebhookInput.shape))
    .mutation(({ ctx, input }) => hooks.updateWebhook(ctx.actor, input, ctx.meta)),
  setEnabled: workspaceProcedure("workspace:update")
    .input(WorkspaceIdInput.extend({ id: z.uuid("id must be a webhook's id."), enabled: z.boolean() }))
    .mutation(({ ctx, input }) => hooks.setWebhookEnabled(ctx.actor, input, ctx.meta)),
  delete: workspaceProcedure("workspace:update")
    .input(WorkspaceIdInput.extend(WebhookIdInput.shape))
    .mutation(({ ctx, input }) => hooks.deleteWebhook(ctx.actor, input, ctx.meta)),
  deliveries: workspaceProcedure("workspace:update")
    .input(WorkspaceIdInput.extend(WebhookDeliveriesInput.shape))
    .query(({ ctx, input }) => hooks.listDeliveries(ctx.actor, input)),
  sendTest: workspaceProcedure("workspace:update")
    .input(WorkspaceIdInput.extend(WebhookIdInput.shape))
    .mutation(({ ctx, input }) => hooks.sendTestEvent(ctx.actor, input, ctx.meta)),
  redeliver: workspaceProcedure("workspace:update")
    .input(WorkspaceIdInput.extend(RedeliverInput.shape))
    .mutation(({ ctx, input }) => hooks.redeliver(ctx.actor, input, ctx.meta)),
} satisfies TRPCRouterRecord;

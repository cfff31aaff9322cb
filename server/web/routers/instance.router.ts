import "server-only";
import type { TRPCRouterRecord } from "@trpc/server";
import { z } from "zod";
import { instanceAdminProcedure } from "~/server/web/trpc/procedures";
import { UpdateInstanceSettingsInput } from "~/server/shared/instance.schema";
import * as settings from "~/server/instance/settings.service";

/** Settings › Instance: instance administrators only. */
export const instanceRouter = {
  settings: instanceAdminProcedure.input(z.void()).query(() => settings.getInstanceSettings()),
  update: instanceAdminProcedure.input(UpdateInstanceSettingsInput).mutation(({ ctx, input }) => settings.updateInstanceSettings(ctx.actor, input, ctx.meta)),
} satisfies TRPCRouterRecord;

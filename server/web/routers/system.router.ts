import "server-only";
import type { TRPCRouterRecord } from "@trpc/server";
import { z } from "zod";
import { instanceAdminProcedure } from "~/server/web/trpc/procedures";
import { systemStatus } from "~/server/system/system.service";

export const systemRouter = {
  /** Worker hosts, PIDs and job counts are the instance's, not a workspace's: administrators only. */
  status: instanceAdminProcedure.input(z.void()).query(() => systemStatus()),
} satisfies TRPCRouterRecord;

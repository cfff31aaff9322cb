import "server-only";
import type { TRPCRouterRecord } from "@trpc/server";
import { WorkspaceIdInput } from "~/server/identity/identity.schema";
import { workspaceProcedure } from "~/server/trpc/procedures";
import { systemStatus } from "./system.service";

export const systemRouter = {
  status: workspaceProcedure("system:read").input(WorkspaceIdInput).query(() => systemStatus()),
} satisfies TRPCRouterRecord;

import "server-only";
import { auditRouter } from "~/server/audit/audit.router";
import { accountsRouter, authRouter, invitationsRouter, membersRouter, workspacesRouter } from "~/server/identity/identity.router";
import { governanceRouter } from "~/server/governance/governance.router";
import { datasetsRouter, modelsRouter } from "~/server/registry/registry.router";
import { pipelinesRouter, runsRouter } from "~/server/pipelines/pipelines.router";
import { monitoringRouter } from "~/server/monitoring/monitoring.router";
import { notificationsRouter, policiesRouter, reviewsRouter } from "~/server/reviews/reviews.router";
import { deploymentsRouter } from "~/server/serving/serving.router";
import { systemRouter } from "~/server/system/system.router";
import { tokensRouter } from "~/server/tokens/tokens.router";
import { createCallerFactory, router } from "./procedures";

export const appRouter = router({
  auth: authRouter,
  accounts: accountsRouter,
  workspaces: workspacesRouter,
  members: membersRouter,
  invitations: invitationsRouter,
  audit: auditRouter,
  system: systemRouter,
  datasets: datasetsRouter,
  models: modelsRouter,
  tokens: tokensRouter,
  governance: governanceRouter,
  pipelines: pipelinesRouter,
  runs: runsRouter,
  deployments: deploymentsRouter,
  reviews: reviewsRouter,
  policies: policiesRouter,
  notifications: notificationsRouter,
  monitoring: monitoringRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);

import "server-only";
import { auditRouter } from "~/server/web/routers/audit.router";
import { accountsRouter, authRouter, invitationsRouter, membersRouter, workspacesRouter } from "~/server/web/routers/identity.router";
import { homeRouter } from "~/server/web/routers/home.router";
import { governanceRouter } from "~/server/web/routers/governance.router";
import { inventoryRouter } from "~/server/web/routers/inventory.router";
import { datasetsRouter, modelsRouter } from "~/server/web/routers/registry.router";
import { pipelinesRouter, runsRouter } from "~/server/web/routers/pipelines.router";
import { monitoringRouter } from "~/server/web/routers/monitoring.router";
import { notificationsRouter, policiesRouter, reviewsRouter } from "~/server/web/routers/reviews.router";
import { deploymentsRouter } from "~/server/web/routers/serving.router";
import { instanceRouter } from "~/server/web/routers/instance.router";
import { systemRouter } from "~/server/web/routers/system.router";
import { tokensRouter } from "~/server/web/routers/tokens.router";
import { webhooksRouter } from "~/server/web/routers/webhooks.router";
import { searchRouter } from "~/server/web/routers/search.router";
import { createCallerFactory, router } from "./procedures";

export const appRouter = router({
  auth: authRouter,
  accounts: accountsRouter,
  workspaces: workspacesRouter,
  members: membersRouter,
  invitations: invitationsRouter,
  audit: auditRouter,
  home: homeRouter,
  system: systemRouter,
  instance: instanceRouter,
  datasets: datasetsRouter,
  models: modelsRouter,
  tokens: tokensRouter,
  governance: governanceRouter,
  inventory: inventoryRouter,
  pipelines: pipelinesRouter,
  runs: runsRouter,
  deployments: deploymentsRouter,
  reviews: reviewsRouter,
  policies: policiesRouter,
  notifications: notificationsRouter,
  monitoring: monitoringRouter,
  webhooks: webhooksRouter,
  search: searchRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);

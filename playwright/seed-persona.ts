/*
 * Run by persona.spec.ts as a child process: the credit demo (datasets, two model versions,
 * credit-prod with a day of traffic, an open review of v2 for production) in a new workspace
 * where the given, already signed-up account holds the given role. For "ops" instead of the
 * review: v2 already in production and credit-prod's drift alert firing.
 *   node --import tsx --import ./bin/hooks/register.js playwright/seed-persona.ts <email> <slug> <role>
 */
import { eq } from "drizzle-orm";
import { closeDb, getDb } from "../db/client";
import { deployments, users } from "../db/schema";
import type { Role } from "../db/schema/identity";
import { seedCreditDemo } from "../db/seed/credit-demo";
import { createWorkspace, type CreatedUser } from "../db/seed/factories";
import { seedMonitoringHistory } from "../db/seed/monitoring-history";
import { closeEnqueuer } from "../server/jobs/enqueue";
import { evaluateAlerts } from "../server/monitoring/alerts.service";
import { seedAlias } from "../server/registry/models.service";
import { openReview } from "../server/reviews/requests.service";
import { computeDriftAll } from "../workers/worker/monitoring/drift-job";

const [email, slug, role] = process.argv.slice(2) as [string, string, Role];
const [user] = await getDb().select().from(users).where(eq(users.email, email));
if (!user) throw new Error(`no user ${email}`);
const person = { ...user, password: "", actor: { type: "user" as const, userId: user.id, email: user.email } } as unknown as CreatedUser;
const ws = await createWorkspace({ name: "Acme Lending", slug, members: [{ role: "ml_engineer" }, { role, user: person }], defaultPipeline: true });
const { served } = await seedCreditDemo(ws.owner.wsActor);
await seedMonitoringHistory(ws.workspace.id, served);
let review = 0;
if (role === "ops") {
  // An operator's morning: v2 went to production (credit-prod follows it), and the drift of
  // the last hours has fired the deployment's drift alert, as the worker's first minute would.
  await seedAlias(ws.owner.wsActor, { workspaceId: ws.workspace.id, name: "credit-risk", alias: "production", version: 2 });
  const [d] = await getDb().select().from(deployments).where(eq(deployments.workspaceId, ws.workspace.id));
  await computeDriftAll(new Date(), 60, d!.id);
  await evaluateAlerts(new Date(), d!.id);
} else {
  review = (
    await openReview(ws.members[0]!.wsActor, {
      model: "credit-risk",
      version: 2,
      alias: "production",
      summary: "v2 adds `history_years` and `late_payments`: ROC AUC up on the evaluation set.",
    })
  ).number;
}
await closeEnqueuer();
await closeDb();
console.log(JSON.stringify({ slug, review }));

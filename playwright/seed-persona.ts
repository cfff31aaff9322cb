/*
 * Run by persona.spec.ts as a child process: the credit demo (datasets, two model versions,
 * credit-prod with a day of traffic, an open review of v2 for production) in a new workspace
 * where the given, already signed-up account holds the given role.
 *   node --import tsx --import ./bin/hooks/register.js playwright/seed-persona.ts <email> <slug> <role>
 */
import { eq } from "drizzle-orm";
import { closeDb, getDb } from "../db/client";
import { users } from "../db/schema";
import type { Role } from "../db/schema/identity";
import { seedCreditDemo } from "../db/seed/credit-demo";
import { createWorkspace, type CreatedUser } from "../db/seed/factories";
import { seedMonitoringHistory } from "../db/seed/monitoring-history";
import { openReview } from "../server/reviews/requests.service";

const [email, slug, role] = process.argv.slice(2) as [string, string, Role];
const [user] = await getDb().select().from(users).where(eq(users.email, email));
if (!user) throw new Error(`no user ${email}`);
const person = { ...user, password: "", actor: { type: "user" as const, userId: user.id, email: user.email } } as unknown as CreatedUser;
const ws = await createWorkspace({ name: "Acme Lending", slug, members: [{ role: "ml_engineer" }, { role, user: person }], defaultPipeline: true });
const { served } = await seedCreditDemo(ws.owner.wsActor);
await seedMonitoringHistory(ws.workspace.id, served);
const review = await openReview(ws.members[0]!.wsActor, {
  model: "credit-risk",
  version: 2,
  alias: "production",
  summary: "v2 adds `history_years` and `late_payments`: ROC AUC up on the evaluation set.",
});
await closeDb();
console.log(JSON.stringify({ slug, review: review.number }));

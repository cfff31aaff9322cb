/*
 * Run by monitoring.spec.ts as a child process (specs do not import server modules):
 * gives the signed-up e-mail address a workspace with the credit demo — datasets, model
 * versions with lineage, the validate pipeline and the credit-prod deployment.
 *   node --import tsx --import ./bin/hooks/register.js playwright/seed-monitoring.ts <email> <slug>
 */
import { eq } from "drizzle-orm";
import { closeDb, getDb } from "../db/client";
import { users } from "../db/schema";
import { seedCreditDemo } from "../db/seed/credit-demo";
import { createWorkspace, type CreatedUser } from "../db/seed/factories";

const [email, slug] = process.argv.slice(2);
const [user] = await getDb().select().from(users).where(eq(users.email, email!));
if (!user) throw new Error(`no user ${email}`);
const owner = { ...user, password: "", actor: { type: "user" as const, userId: user.id, email: user.email } } as unknown as CreatedUser;
const { owner: ws } = await createWorkspace({ name: "Monitoring", slug, owner, defaultPipeline: false });
await seedCreditDemo(ws.wsActor);
await closeDb();
console.log(JSON.stringify({ slug }));

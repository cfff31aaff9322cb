/*
 * Run once by global-setup.ts before any web process: an instance administrator (on the
 * fresh database, the first account, which is what makes it one on any new instance), with
 * a workspace of its own to reach Settings › System and Settings › Instance from.
 *   node --import tsx --import ./bin/hooks/register.js playwright/seed-admin.ts
 * Prints {email, password, slug}.
 */
import { randomUUID } from "node:crypto";
import { eq } from "drizzle-orm";
import { closeDb, getDb } from "../db/client";
import { users } from "../db/schema";
import { createUser, createWorkspace } from "../db/seed/factories";
import { isInstanceAdmin } from "../server/instance/settings.service";

const id = randomUUID().slice(0, 8);
const admin = await createUser({ name: "Iris Admin", email: `iris-admin-${id}@e2e.steward.local` });
// A reused local database (DATABASE_URL) already has its first account: promote this one, as the tests do.
if (!(await isInstanceAdmin(admin.id))) await getDb().update(users).set({ instanceAdmin: true }).where(eq(users.id, admin.id));
const { workspace } = await createWorkspace({ name: "Instance admin", slug: `instance-admin-${id}`, owner: admin, defaultPipeline: false });
await closeDb();
console.log(JSON.stringify({ email: admin.email, password: admin.password, slug: workspace.slug }));

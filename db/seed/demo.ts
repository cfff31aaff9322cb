import { count } from "drizzle-orm";
import { getDb } from "~/db/client";
import { users } from "~/db/schema";
import type { Role } from "~/db/schema/identity";
import { seedCreditDemo } from "./credit-demo";
import { seedMonitoringHistory } from "./monitoring-history";
import { isInstanceAdmin } from "~/server/instance/settings.service";
import { openReview } from "~/server/reviews/requests.service";
import { createUser, createWorkspace, strongPassword } from "./factories";

const DEMO_PEOPLE: { name: string; email: string; role: Role }[] = [
  { name: "Ada Lovelace", email: "ada@demo.steward.local", role: "owner" },
  { name: "Grace Hopper", email: "grace@demo.steward.local", role: "ml_engineer" },
  { name: "Alan Turing", email: "alan@demo.steward.local", role: "reviewer" },
  { name: "Joan Clarke", email: "joan@demo.steward.local", role: "compliance_officer" },
  { name: "Linus Ops", email: "linus@demo.steward.local", role: "ops" },
  { name: "Vera Viewer", email: "vera@demo.steward.local", role: "viewer" },
];

/** On an empty database: the demo workspace and its people. Returns their credentials, or null if not empty. */
export async function seedDemoIfEmpty() {
  const [row] = await getDb().select({ n: count() }).from(users);
  if ((row?.n ?? 0) > 0) return null;
  const people = [];
  for (const p of DEMO_PEOPLE) {
    const password = strongPassword();
    const user = await createUser({ name: p.name, email: p.email, password });
    people.push({ ...p, password, user });
  }
  const [owner, ...rest] = people;
  // The demo owner administers the instance (Settings › Instance, System, Accounts) because
  // the first account of an instance does; fail loudly if the order above ever changes that.
  if (!(await isInstanceAdmin(owner!.user.id))) throw new Error("The demo owner must be the instance's first account (its administrator).");
  const {
    workspace,
    owner: ada,
    members,
  } = await createWorkspace({
    name: "Acme Credit Risk",
    slug: "acme",
    owner: owner!.user,
    members: rest.map((p) => ({ role: p.role, user: p.user })),
    defaultPipeline: true,
  });
  const { served } = await seedCreditDemo(ada.wsActor);
  // A day of traffic on credit-prod, drifting over the last hours, so Monitoring has a history.
  await seedMonitoringHistory(workspace.id, served);
  // A review in progress: Grace proposes v2 for production; Alan reviews, Joan signs for compliance.
  const grace = members.find((m) => m.email === "grace@demo.steward.local")!;
  const alan = members.find((m) => m.email === "alan@demo.steward.local")!;
  await openReview(grace.wsActor, {
    model: "credit-risk",
    version: 2,
    alias: "production",
    summary:
      "v2 adds `history_years` and `late_payments`: ROC AUC up on the evaluation set, and the gender gap in approval rates is smaller. Please check the fairness report and the limitations in the model card.",
    assignees: [alan.id],
  });
  return { workspace, people: people.map(({ name, email, role, password }) => ({ name, email, role, password })) };
}

import { count } from "drizzle-orm";
import { getDb } from "~/db/client";
import { users } from "~/db/schema";
import type { Role } from "~/db/schema/identity";
import { seedCreditDemo } from "./credit-demo";
import { seedMonitoringHistory } from "./monitoring-history";
import { isInstanceAdmin } from "~/server/instance/settings.service";
import { addComment } from "~/server/reviews/comments.service";
import { openReview, updateCard } from "~/server/reviews/requests.service";
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
  const review = await openReview(grace.wsActor, {
    model: "credit-risk",
    version: 2,
    alias: "production",
    summary:
      "v2 adds `history_years` and `late_payments`: ROC AUC up on the evaluation set, and the gender gap in approval rates is smaller. Please check the fairness report and the limitations in the model card.",
    assignees: [alan.id],
  });
  // Grace has written v2's model card (a review starts from the empty template).
  await updateCard(grace.wsActor, { number: review.number, markdown: CREDIT_RISK_V2_CARD, baseRevision: 1 });
  // Vera follows the fairness work from the business side: Grace points her to it.
  await addComment(grace.wsActor, {
    number: review.number,
    anchor: "card",
    body: "@vera the approval-rate gap you asked about is under *Ethical considerations*, and the per-gender numbers are in the fairness check of the validation report.",
  });
  return { workspace, people: people.map(({ name, email, role, password }) => ({ name, email, role, password })) };
}

/** The model card of the demo's credit-risk v2, as its author would write it. */
const CREDIT_RISK_V2_CARD = `## Intended use

Pre-screening of consumer loan applications up to €25,000 at Acme's retail branches. The model
scores the probability of default within 12 months; applications scoring **≥ 0.5 go to a credit
officer for manual review**. It never declines an application on its own, and it is not used for
pricing or credit limits.

## Limitations

- Not evaluated on applicants under 21 or over 75 (too few in the data), nor on business loans.
- Income is self-declared and capped at 250k; scores for higher incomes are extrapolated.
- Trained on 2,000 applications from one year: a change in lending policy or the economy shifts the
  default rate, so drift on \`debt_ratio\` and \`late_payments\` is monitored on credit-prod.

## Training data

\`credit-train@1\`: 2,000 applications with their 12-month outcome, five features (age, income_k,
debt_ratio, history_years, late_payments). Region and gender are kept for evaluation only and are
not model inputs. Duplicate applications were removed.

## Evaluation data

\`credit-eval@1\`: 600 held-out applications from the same period. Slices examined: region (north,
south, east, west) and gender. ROC AUC, log loss, calibration (ECE) and the approval-rate gap are in
the validation report.

## Ethical considerations

Gender is the sensitive attribute. v2's approval-rate gap between women and men is smaller than
v1's (see the fairness check); the remaining gap is reviewed each quarter by compliance. Applicants
can ask for a human decision and an explanation of the main factors (GDPR Art. 22).
`;

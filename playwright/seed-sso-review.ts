/*
 * Run by oidc.spec.ts as a child process: a workspace where the given single-sign-on account
 * is a reviewer, an engineer's model with two versions, production protected by a policy one
 * reviewer satisfies, and a review of v2 for production opened by the engineer.
 *   node --import tsx --import ./bin/hooks/register.js playwright/seed-sso-review.ts <email> <slug>
 */
import { Readable } from "node:stream";
import { eq } from "drizzle-orm";
import { closeDb, getDb } from "../db/client";
import { users } from "../db/schema";
import { createWorkspace, type CreatedUser } from "../db/seed/factories";
import { logisticRegressionOnnx } from "../db/seed/onnx-builder";
import { uploadModelVersion } from "../server/registry/models.service";
import { openReview } from "../server/reviews/requests.service";
import { applyPolicy } from "../test/reviews";

const [email, slug] = process.argv.slice(2);
const [user] = await getDb().select().from(users).where(eq(users.email, email!));
if (!user) throw new Error(`no user ${email}`);
const sso = { ...user, password: "", actor: { type: "user" as const, userId: user.id, email: user.email } } as unknown as CreatedUser;
const ws = await createWorkspace({ name: "Lending", slug, members: [{ role: "ml_engineer" }, { role: "reviewer", user: sso }] });
const eng = ws.members[0]!.wsActor;
for (const w of [1, 2])
  await uploadModelVersion(
    eng,
    { name: "risk", filename: "risk.onnx" },
    Readable.from([Buffer.from(logisticRegressionOnnx({ weights: [w, 1], bias: 0, featureNames: ["age", "income_k"] }))]),
  );
await applyPolicy(ws, "production", { requiredApprovals: [{ role: "reviewer", count: 1 }], minDistinctApprovers: 1 });
const review = await openReview(eng, { model: "risk", version: 2, alias: "production", summary: "Better calibrated on the north slice." });
await closeDb();
console.log(JSON.stringify({ slug, review: review.number }));

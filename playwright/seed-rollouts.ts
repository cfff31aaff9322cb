/*
 * Run by rollouts.spec.ts as a child process (specs do not import server modules): the
 * credit demo in a new workspace of the signed-up user, plus
 *   - production's policy allowing a canary of a version under review (up to 25%), and v2 under review;
 *   - v3, whose blob in the artifact store is then overwritten (it fails its sha256 check on a replica);
 *   - credit-dev, bound to the unprotected alias "dev", pinned to v1.
 *   node --import tsx --import ./bin/hooks/register.js playwright/seed-rollouts.ts <email> <slug>
 */
import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { eq } from "drizzle-orm";
import { closeDb, getDb } from "../db/client";
import { approvalPolicies, users } from "../db/schema";
import { seedCreditDemo } from "../db/seed/credit-demo";
import { createWorkspace, type CreatedUser } from "../db/seed/factories";
import { logisticRegressionOnnx } from "../db/seed/onnx-builder";
import { env } from "../env";
import { uploadModelVersion } from "../server/registry/models.service";
import { DEFAULT_POLICIES } from "../server/reviews/policy";
import { openReview } from "../server/reviews/requests.service";
import { createDeployment } from "../server/serving/deployments.service";

const [email, slug] = process.argv.slice(2);
const [user] = await getDb().select().from(users).where(eq(users.email, email!));
if (!user) throw new Error(`no user ${email}`);
const owner = { ...user, password: "", actor: { type: "user" as const, userId: user.id, email: user.email } } as unknown as CreatedUser;
const { owner: ws } = await createWorkspace({ name: "Rollouts", slug, owner, defaultPipeline: false });
const actor = ws.wsActor;
await seedCreditDemo(actor);
await getDb()
  .insert(approvalPolicies)
  .values({
    workspaceId: actor.workspaceId,
    alias: "production",
    version: 1,
    rules: { ...DEFAULT_POLICIES.production!, canaryBeforeApproval: { maxPercent: 25 } },
    createdBy: actor.userId,
  });
const review = await openReview(actor, { model: "credit-risk", version: 2, alias: "production", summary: "Adds credit history and late payments." });
const features = ["age", "income_k", "debt_ratio"];
const v3 = await uploadModelVersion(
  actor,
  { name: "credit-risk", filename: "credit-risk-v3.onnx" },
  Readable.from([Buffer.from(logisticRegressionOnnx({ weights: [Math.random(), -Math.random(), 2], bias: -1, featureNames: features }))]),
);
const blob = path.join(path.resolve(env.ARTIFACT_DIR), "sha256", v3.sha256.slice(0, 2), v3.sha256);
fs.chmodSync(blob, 0o600);
fs.writeFileSync(blob, Buffer.from("not the bytes that were registered"));
await createDeployment(actor, { name: "credit-dev", environment: "dev", model: "credit-risk", alias: "dev", follow: false, version: 1 });
await closeDb();
console.log(JSON.stringify({ slug, review: review.number, v3: v3.version }));

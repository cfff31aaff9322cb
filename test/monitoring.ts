import { eq } from "drizzle-orm";
import { getDb } from "~/db/client";
import { deployments, type PredictionLogRow } from "~/db/schema";
import { seedCreditDemo } from "~/db/seed/credit-demo";
import { createWorkspace } from "~/db/seed/factories";

/** Test helpers for monitoring: the credit demo's deployment, and rows of its prediction log. */

export async function servedCredit(opts: Parameters<typeof createWorkspace>[0] = {}) {
  const ws = await createWorkspace(opts);
  await seedCreditDemo(ws.owner.wsActor);
  const [d] = await getDb().select().from(deployments).where(eq(deployments.workspaceId, ws.workspace.id));
  if (!d) throw new Error("the credit demo deploys credit-prod");
  /** A logged prediction of the primary: one record, answered in 2 ms unless said otherwise. */
  const logRow = (
    fields: Pick<PredictionLogRow, "at" | "requestId" | "inputs" | "outputs"> & Partial<Pick<PredictionLogRow, "status" | "latencyMs" | "role" | "error">>,
  ): PredictionLogRow => ({
    workspaceId: ws.workspace.id,
    deploymentId: d.id,
    modelVersionId: d.primaryVersionId,
    role: "primary",
    status: "ok",
    latencyMs: 2,
    rows: 1,
    ...fields,
  });
  return { ...ws, d, logRow };
}

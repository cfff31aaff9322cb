import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { getDb } from "~/db/client";
import { createWorkspace } from "~/db/seed/factories";
import { logisticRegressionOnnx } from "~/db/seed/onnx-builder";
import { AppError } from "~/server/errors";
import { getModel, uploadModelVersion } from "./models.service";
import { modelByName } from "./lookup";

describe("modelByName", () => {
  it("finds a model of the workspace only, and refuses any other name with NOT_FOUND naming the field", async () => {
    const a = await createWorkspace({ members: [{ role: "ml_engineer" }] });
    const b = await createWorkspace({ members: [{ role: "ml_engineer" }] });
    await uploadModelVersion(
      a.members[0]!.wsActor,
      { name: "risk", filename: "risk.onnx" },
      Readable.from([Buffer.from(logisticRegressionOnnx({ weights: [0.5], bias: 0 }))]),
    );
    expect((await modelByName(getDb(), a.workspace.id, "risk")).name).toBe("risk");
    const other = await modelByName(getDb(), b.workspace.id, "risk").catch((e: unknown) => e);
    expect(other).toBeInstanceOf(AppError);
    expect(other).toMatchObject({ code: "NOT_FOUND", field: "model", message: 'There is no model "risk" in this workspace.' });
    // A service whose input calls it `name` gets the same refusal naming that field.
    await expect(getModel(b.members[0]!.wsActor, "risk")).rejects.toMatchObject({
      code: "NOT_FOUND",
      field: "name",
      message: 'There is no model "risk" in this workspace.',
    });
  });
});

import { randomUUID } from "node:crypto";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "~/db/client";
import { predictionLogs } from "~/db/schema";
import { servedCredit } from "~/test/monitoring";
import { PredictionLog } from "./prediction-log";

describe("prediction log", () => {
  it("writes every record exactly as pushed through COPY, whatever its text holds, and counts a record the database refuses", async () => {
    const { d, logRow } = await servedCredit();
    const hostile = [
      "quote \" and 'single'",
      "back\\slash \\N \\t",
      "new\nline\r\nand\ttab",
      "comma, semicolon; pipe |",
      "unicode é 漢字 🙂 \u2028",
      "\\.",
      "",
    ];
    const records = hostile.map((s, i) =>
      logRow({
        at: new Date(Date.now() - i * 1000),
        requestId: `req-${i}-${randomUUID().slice(0, 6)}`,
        status: i % 2 ? "error" : "ok",
        latencyMs: 1.25,
        inputs: { instances: [{ name: s, [s || "empty"]: i, nested: { list: [s, null, 1.5e-7, -0] } }] },
        outputs: i % 2 ? null : { label: [[s]], probability: [[0.25]] },
        error: i % 2 ? `failed: ${s}` : null,
      }),
    );
    // jsonb cannot hold \u0000: that record is refused, the others of its batch still land.
    const refused = logRow({ at: new Date(), requestId: `nul-${randomUUID().slice(0, 6)}`, inputs: { instances: [{ x: "a\u0000b" }] }, outputs: null });
    const log = new PredictionLog(1000, 60_000);
    for (const r of [...records, refused]) expect(log.push(r)).toBe(true);
    await log.close();
    expect(log.written).toBe(records.length);
    expect(log.dropped).toBe(1);

    const rows = await getDb().select().from(predictionLogs).where(eq(predictionLogs.deploymentId, d.id));
    expect(rows).toHaveLength(records.length);
    for (const r of records) {
      const got = rows.find((x) => x.requestId === r.requestId)!;
      expect(got).toMatchObject({ status: r.status, latencyMs: 1.25, rows: 1, error: r.error, outputs: r.outputs });
      expect(got.inputs).toEqual(JSON.parse(JSON.stringify(r.inputs)));
      expect(got.at.getTime()).toBe(r.at.getTime());
    }
  });
});

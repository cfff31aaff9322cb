import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { getDb } from "~/db/client";
import { datasets, datasetVersions } from "~/db/schema";
import { createWorkspace } from "~/db/seed/factories";
import { env } from "~/env";
import { createToken } from "~/server/tokens/tokens.service";
import { form, rest } from "~/test/rest-client";
import { PROFILE_LIMITS } from "./profile";

const DEFAULTS = { ...PROFILE_LIMITS };
afterEach(() => Object.assign(PROFILE_LIMITS, DEFAULTS));

/** A CSV `cols` wide: numbers, text and dates in turn, so every kind of column is profiled. */
function wideCsv(cols: number, rows: number) {
  const lines = [Array.from({ length: cols }, (_, i) => `col_${i}`).join(",")];
  for (let r = 0; r < rows; r++) {
    lines.push(
      Array.from({ length: cols }, (_, i) =>
        i % 3 === 0 ? String(r * i) : i % 3 === 1 ? `t${(r + i) % 7}` : `2024-01-${String(1 + (r % 28)).padStart(2, "0")}`,
      ).join(","),
    );
  }
  return `${lines.join("\n")}\n`;
}

async function setup() {
  const ws = await createWorkspace({ members: [{ role: "ml_engineer" }] });
  const member = ws.members[0]!;
  const { token } = await createToken(member.wsActor, { workspaceId: ws.workspace.id, name: "ci", role: "ml_engineer" });
  return { ...ws, token, base: `/workspaces/${ws.workspace.slug}` };
}

/** Whether the store holds a blob with these bytes (looked up by its own hash, not by counting a shared store). */
function blobStored(content: string) {
  const sha = createHash("sha256").update(content).digest("hex");
  const dir = path.join(path.resolve(env.ARTIFACT_DIR), "sha256");
  if (!fs.existsSync(dir)) return false;
  return (fs.readdirSync(dir, { recursive: true }) as string[]).some((f) => f.endsWith(sha));
}

async function nothingStored(workspaceId: string, content: string) {
  expect(await getDb().select().from(datasetVersions).where(eq(datasetVersions.workspaceId, workspaceId))).toEqual([]);
  expect(await getDb().select().from(datasets).where(eq(datasets.workspaceId, workspaceId))).toEqual([]);
  expect(blobStored(content)).toBe(false);
}

describe("dataset profiling, out of the web process", () => {
  it("refuses 2,000 columns × 30 rows by the header alone, naming the limit and the count", async () => {
    const { base, token, workspace } = await setup();
    const csv = wideCsv(2000, 30);
    // A profiler child could not even start within 1 ms: the refusal must come before it.
    PROFILE_LIMITS.timeoutMs = 1;
    const r = await rest("POST", `${base}/datasets/wide/versions`, { token, form: form(csv, "wide.csv") });
    expect(r.status).toBe(400);
    expect(r.data.error).toMatchObject({
      field: "file",
      message:
        "The file has 2,000 columns; Steward profiles at most 500 (DATASET_MAX_COLUMNS). Split it into narrower files, or ask the administrator to raise the limit.",
    });
    await nothingStored(workspace.id, csv);
  });

  it("profiles 400 columns within the budget", async () => {
    const { base, token } = await setup();
    const r = await rest("POST", `${base}/datasets/four-hundred/versions`, { token, form: form(wideCsv(400, 30), "w.csv") });
    expect(r.status, JSON.stringify(r.data)).toBe(201);
    const v = await rest("GET", `${base}/datasets/four-hundred/versions/1`, { token });
    const profile = (
      v.data as {
        profile: {
          rows: number;
          columns: { name: string; logical: string; count: number; distinct: number; top?: unknown[]; histogram?: { counts: number[] } }[];
        };
      }
    ).profile;
    expect(profile.rows).toBe(30);
    expect(profile.columns).toHaveLength(400);
    // Every kind, every column: the one-pass batches lose none.
    expect(profile.columns[0]).toMatchObject({ logical: "numeric", count: 30, distinct: 1 }); // r * 0
    expect(profile.columns[3]).toMatchObject({ logical: "numeric", count: 30, distinct: 30 });
    expect(profile.columns[3]!.histogram!.counts.reduce((a, b) => a + b, 0)).toBe(30);
    expect(profile.columns[399]).toMatchObject({ logical: "numeric", count: 30 });
    expect(profile.columns[1]).toMatchObject({ logical: "categorical", count: 30, distinct: 7 });
    expect(profile.columns[1]!.top).toHaveLength(7);
    expect(profile.columns[398]).toMatchObject({ logical: "temporal", count: 30, distinct: 28 });
  }, 60_000);

  it("kills a profiler past its time budget: the upload fails with the reason and stores nothing", async () => {
    const { base, token, workspace } = await setup();
    const csv = wideCsv(50, 30);
    PROFILE_LIMITS.timeoutMs = 200;
    const r = await rest("POST", `${base}/datasets/slow/versions`, { token, form: form(csv, "slow.csv") });
    expect(r.status).toBe(400);
    expect(r.data.error!.message).toMatch(
      /^Profiling the dataset took longer than its budget of 0\.2 s \(DATASET_PROFILE_TIMEOUT_SECONDS\) and was stopped; nothing was stored\./,
    );
    await nothingStored(workspace.id, csv);
    // The web process is unharmed and the next upload of the same bytes profiles.
    Object.assign(PROFILE_LIMITS, DEFAULTS);
    expect((await rest("POST", `${base}/datasets/slow/versions`, { token, form: form(csv, "slow.csv") })).status).toBe(201);
  }, 60_000);
});

import { execFileSync } from "node:child_process";
import { Readable } from "node:stream";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { and, eq, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { getDb } from "~/db/client";
import { deployments, modelVersions, models, pipelineRuns, predictionFeedback, predictionLogs, rollouts, type PredictionLogRow } from "~/db/schema";
import { FEATURES, generateCredit } from "~/db/seed/credit-data";
import { logisticRegressionOnnx } from "~/db/seed/onnx-builder";
import { seedCreditDemo } from "~/db/seed/credit-demo";
import { createWorkspace } from "~/db/seed/factories";
import { seedMonitoringHistory } from "~/db/seed/monitoring-history";
import { signCheckpoint } from "~/server/audit/checkpoints.service";
import { rollUpAll } from "~/server/monitoring/monitoring.service";
import { computePerformance } from "~/server/monitoring/performance.service";
import { savePipeline } from "~/server/pipelines/definitions.service";
import { CARD_TEMPLATE } from "~/server/reviews/requests.service";
import { seedAlias, uploadModelVersion } from "~/server/registry/models.service";
import { createDeployment, rollback } from "~/server/serving/deployments.service";
import { settleRollouts } from "~/server/serving/rollouts.service";
import { createToken } from "~/server/tokens/tokens.service";
import { callerFor } from "~/test/helpers";
import { creditFixture, creditModel, drive, pushModel } from "~/test/pipelines";
import { rest } from "~/test/rest-client";
import { computeDriftAll } from "~/workers/worker/monitoring/drift-job";
import { EVIDENCE, type EvidenceKey } from "~/server/shared/frameworks";
import type { Report } from "./report.service";

/*
 * The report may call an item "missing" only when its evidence is missing. Evidence is
 * derived here a second time, straight from the tables, one query per kind, and compared
 * with what the report says; and fixtures that each lack one kind of evidence (audit
 * events are append-only, so "removing" means a version that never had it) must change
 * exactly the items that rely on it.
 */

type Key = EvidenceKey;
const KEYS = Object.keys(EVIDENCE) as Key[];

/** Evidence straight from the tables, without the report's code. */
async function evidenceFromTables(workspaceId: string, versionId: string): Promise<Record<Key, boolean>> {
  const one = async (q: ReturnType<typeof sql>) => Boolean((await getDb().execute<{ x: boolean }>(sql`select (${q}) as x`))[0]?.x);
  const v = sql`${versionId}::uuid`;
  const ws = (
    await getDb().execute<{ frameworks: string[]; days: number }>(
      sql`select frameworks, prediction_retention_days as days from workspaces where id = ${workspaceId}`,
    )
  )[0]!;
  // With no choice made, a report maps to every framework in force, the EU AI Act (184 days) among them.
  const floorDays = ws.frameworks.length === 0 || ws.frameworks.includes("eu-ai-act") ? 184 : null;
  return {
    model_description: await one(sql`select coalesce(trim(description), '') <> '' from model_versions where id = ${v}`),
    intended_use: await one(
      sql`select exists (select 1 from model_card_revisions where model_version_id = ${v} and btrim(markdown, E' \n\r\t') not in ('', ${CARD_TEMPLATE.trim()}))`,
    ),
    version_control: await one(sql`select git_commit is not null from model_versions where id = ${v}`),
    parent_version: await one(sql`select parent_version_id is not null from model_versions where id = ${v}`),
    params: await one(sql`select params <> '{}'::jsonb from model_versions where id = ${v}`),
    model_signature: await one(sql`select (signature -> 'runtime' ->> 'loadable')::boolean from model_versions where id = ${v}`),
    training_data: await one(sql`select exists (select 1 from model_version_datasets where model_version_id = ${v} and role = 'train')`),
    evaluation_data: await one(sql`select exists (select 1 from model_version_datasets where model_version_id = ${v} and role = 'eval')`),
    data_profiles: await one(sql`select exists (select 1 from model_version_datasets where model_version_id = ${v})`),
    metrics: await one(sql`select metrics <> '{}'::jsonb from model_versions where id = ${v}`),
    validation_checks: await one(sql`select exists (select 1 from checks where model_version_id = ${v})`),
    fairness: await one(
      sql`select exists (select 1 from checks c join step_runs s on s.id = c.step_run_id where c.model_version_id = ${v} and s.type = 'fairness')`,
    ),
    robustness: await one(
      sql`select exists (select 1 from checks c join step_runs s on s.id = c.step_run_id where c.model_version_id = ${v} and s.type = 'robustness')`,
    ),
    explainability: await one(
      sql`select exists (select 1 from step_runs s join pipeline_runs r on r.id = s.run_id where r.model_version_id = ${v} and s.type = 'explain' and s.status in ('passed', 'warned') and s.outputs ? 'importance')`,
    ),
    review_signatures: await one(
      sql`select exists (select 1 from review_signatures s join review_requests r on r.id = s.request_id where r.model_version_id = ${v})`,
    ),
    deployment_history: await one(
      sql`select exists (select 1 from rollouts where ${v} in (primary_version_id, canary_version_id, shadow_version_id)) or exists (select 1 from deployments where ${v} in (primary_version_id, canary_version_id, shadow_version_id))`,
    ),
    monitoring: await one(
      sql`select exists (select 1 from drift_results where model_version_id = ${v}) or exists (select 1 from performance_windows w join prediction_rollups r on r.deployment_id = w.deployment_id and r.minute >= w.window_start and r.minute < w.window_start + interval '1 hour' where r.model_version_id = ${v} and r.role = 'primary')`,
    ),
    log_retention: floorDays !== null && ws.days >= floorDays,
    integrity_hashes: await one(sql`select sha256 ~ '^[0-9a-f]{64}$' from model_versions where id = ${v}`),
    untrusted_file_inspection: await one(sql`select signature ? 'runtime' from model_versions where id = ${v}`),
    audit_events: await one(sql`select exists (select 1 from audit_events where workspace_id = ${workspaceId} and target_id = ${versionId})`),
    signed_checkpoint: await one(
      sql`select exists (select 1 from audit_checkpoints where workspace_id = ${workspaceId} and seq >= (select coalesce(max(seq), 0) from audit_events where workspace_id = ${workspaceId} and (target_id = ${versionId} or (action = 'model.alias_moved' and (changes -> (metadata ->> 'alias')) ->> 1 = (select version::text from model_versions where id = ${v})))))`,
    ),
    lineage: await one(
      sql`select exists (select 1 from model_version_datasets where model_version_id = ${v}) or (select parent_version_id is not null from model_versions where id = ${v})`,
    ),
  };
}

/** What the report says about each evidence key, and that items follow from it and nothing else. */
function assertItemsFollowEvidence(report: Report, fromTables: Record<Key, boolean>) {
  for (const k of KEYS)
    expect(report.evidence[k].present, `evidence ${k}: report says ${report.evidence[k].present}, tables say ${fromTables[k]}`).toBe(fromTables[k]);
  for (const f of report.frameworks) {
    for (const i of f.items) {
      const present = i.evidence.filter((e) => fromTables[e.key as Key]);
      const expected = present.length === i.evidence.length ? "complete" : present.length ? "partial" : "missing";
      expect(i.status, `${f.id}/${i.id}`).toBe(expected);
    }
  }
}

const versionId = async (workspaceId: string, name: string, version: number) => {
  const [row] = await getDb()
    .select({ id: modelVersions.id })
    .from(modelVersions)
    .innerJoin(models, eq(models.id, modelVersions.modelId))
    .where(and(eq(models.workspaceId, workspaceId), eq(models.name, name), eq(modelVersions.version, version)));
  return row!.id;
};
const runOf = async (modelVersionId: string) => (await getDb().select().from(pipelineRuns).where(eq(pipelineRuns.modelVersionId, modelVersionId)))[0]!;

/** The PDF of a version's report, through the REST route, as text (layout and drawing order). */
async function pdfText(owner: Awaited<ReturnType<typeof createWorkspace>>["owner"], workspace: { id: string; slug: string }, name: string, version: number) {
  const { token } = await createToken(owner.wsActor, { workspaceId: workspace.id, name: `pdf-${version}`, role: "owner" });
  const res = await rest("GET", `/workspaces/${workspace.slug}/models/${name}/versions/${version}/report?format=pdf`, { token, raw: true });
  expect(res.status).toBe(200);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "steward-report-"));
  const file = path.join(dir, "r.pdf");
  fs.writeFileSync(file, res.bytes!);
  if (process.env.REPORT_PDF_OUT) fs.copyFileSync(file, process.env.REPORT_PDF_OUT.replace(/\.pdf$/, `-${name}-v${version}.pdf`));
  const layout = execFileSync("pdftotext", ["-layout", "-enc", "UTF-8", file, "-"], { encoding: "utf8" });
  const flat = execFileSync("pdftotext", ["-raw", "-enc", "UTF-8", file, "-"], { encoding: "utf8" }).replace(/\s+/g, " ");
  fs.rmSync(dir, { recursive: true, force: true });
  return { layout, flat, hash: res.headers.get("x-steward-manifest-sha256")! };
}

describe("compliance report", () => {
  // The demo as `npm run dev` seeds it, plus what its worker would have done by now: the
  // validation run of the deployed version (v1) and the drift of the last hour.
  let demo: Awaited<ReturnType<typeof createWorkspace>> & { v1: string; v2: string };
  beforeAll(async () => {
    const ws = await createWorkspace({ members: [{ role: "reviewer" }, { role: "compliance_officer" }] });
    const { served } = await seedCreditDemo(ws.owner.wsActor);
    const v1 = await versionId(ws.workspace.id, "credit-risk", 1);
    const v2 = await versionId(ws.workspace.id, "credit-risk", 2);
    await drive((await runOf(v1)).id);
    const now = new Date();
    await seedMonitoringHistory(ws.workspace.id, served, now);
    const [d] = await getDb().select().from(deployments).where(eq(deployments.workspaceId, ws.workspace.id));
    await computeDriftAll(now, 60, d!.id);
    await signCheckpoint(ws.owner.wsActor, ws.workspace.id);
    demo = { ...ws, v1, v2 };
  }, 90_000);

  it("calls nothing missing that the demo's deployed, monitored version has evidence for", async () => {
    const caller = callerFor(demo.owner);
    for (const [version, id] of [
      [1, demo.v1],
      [2, demo.v2],
    ] as const) {
      const report = await caller.governance.report({ workspaceId: demo.workspace.id, name: "credit-risk", version });
      assertItemsFollowEvidence(report, await evidenceFromTables(demo.workspace.id, id));
    }
    const r1 = await caller.governance.report({ workspaceId: demo.workspace.id, name: "credit-risk", version: 1 });
    // v1 is validated, deployed and monitored: those items are not missing.
    for (const k of ["validation_checks", "fairness", "robustness", "explainability", "deployment_history", "monitoring"] as const)
      expect(r1.evidence[k].present, k).toBe(true);
    const eu = r1.frameworks.find((f) => f.id === "eu-ai-act")!;
    for (const id of ["annex-iv-2g", "art-10-bias", "art-15", "annex-iv-3", "annex-iv-4", "art-13"])
      expect(eu.items.find((i) => i.id === id)!.status, id).not.toBe("missing");
    expect(r1.validation.checks.length).toBeGreaterThan(5);
    expect(new Set(r1.validation.checks.map((c) => c.name)).size).toBe(r1.validation.checks.length);
    expect(r1.deployments.map((d) => [d.name, d.primary])).toEqual([["credit-prod", 1]]);
    expect(r1.rollouts.length).toBeGreaterThan(0);
    expect(r1.monitoring.traffic.find((t) => t.role === "primary")!.requests).toBeGreaterThan(24 * 60 * 2);
    expect(r1.monitoring.drift.windows).toBeGreaterThan(0);
    expect(r1.monitoring.performance.windows).toBeGreaterThanOrEqual(23);
    // The report maps to the current frameworks by default, and says which versions.
    expect(r1.frameworks.map((f) => f.id)).toEqual(["eu-ai-act", "us-mrm-2026"]);
    expect(r1.manifest.frameworks.map((f) => f.version)).toEqual(r1.frameworks.map((f) => f.version));
    expect(eu.items.find((i) => i.id === "art-14")!.appliesFrom).toMatchObject({
      date: "2027-12-02",
      originalDate: "2026-08-02",
      status: "agreed_not_yet_published",
    });
    // The demo keeps prediction logs 90 days: the Act's six months are not met, and the report says so.
    expect(r1.evidence.log_retention).toMatchObject({ present: false, detail: expect.stringContaining("184 days (EU AI Act)") });
  });

  it("prints a PDF an auditor can read: the manifest hash on every page, each check once, non-ASCII as itself", async () => {
    const { workspace, owner, members } = demo;
    const reviewer = members.find((m) => m.role === "reviewer")!;
    // A review of v1 for staging: its card written (with characters outside ASCII), a reviewer signs.
    const { number } = await callerFor(owner).reviews.open({
      workspaceId: workspace.id,
      model: "credit-risk",
      version: 1,
      alias: "staging",
      summary: "v1 to staging",
    });
    const card =
      "## Intended use\n\nPre-screening of consumer loans · scores ≥ 0.5 → manual review by Zoë Müller — “never automatic”.\n\n## Limitations\n\nNot evaluated on applicants under 21 (σ unknown).";
    await callerFor(owner).reviews.updateCard({ workspaceId: workspace.id, number, markdown: card, baseRevision: 1 });
    await callerFor(reviewer).reviews.sign({
      workspaceId: workspace.id,
      number,
      decision: "approve",
      meaning: "Approved for staging · technical review",
      password: reviewer.password,
    });
    await signCheckpoint(owner.wsActor, workspace.id);
    // The model's inventory entry (the inventory's own tests cover how it is edited).
    await getDb()
      .update(models)
      .set({
        ownerId: owner.id,
        intendedUse: "Pre-screening of consumer loans.",
        riskTier: "high",
        riskRationale: "Creditworthiness of natural persons (EU AI Act Annex III 5(b)).",
        revalidationDays: 365,
      })
      .where(and(eq(models.workspaceId, workspace.id), eq(models.name, "credit-risk")));
    const report = await callerFor(owner).governance.report({ workspaceId: workspace.id, name: "credit-risk", version: 1 });
    assertItemsFollowEvidence(report, await evidenceFromTables(workspace.id, demo.v1));
    expect(report.evidence.intended_use.present).toBe(true);
    expect(report.inventory).toMatchObject({ riskTier: "high", revalidationDays: 365, owner: { id: owner.id } });
    expect(report.manifest.inventory).toMatchObject({ riskTier: "high", revalidationDays: 365 });
    expect(report.signatures.map((s) => [s.signerName, s.decision, s.aliasHolderVersion])).toEqual([[reviewer.name, "approve", null]]);

    const { token } = await createToken(owner.wsActor, { workspaceId: workspace.id, name: "r", role: "owner" });
    const res = await rest("GET", `/workspaces/${workspace.slug}/models/credit-risk/versions/1/report?format=pdf`, { token, raw: true });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/pdf");
    const hash = res.headers.get("x-steward-manifest-sha256")!;
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "steward-report-"));
    const file = path.join(dir, "r.pdf");
    fs.writeFileSync(file, res.bytes!);
    if (process.env.REPORT_PDF_OUT) fs.copyFileSync(file, process.env.REPORT_PDF_OUT);
    const text = execFileSync("pdftotext", ["-layout", "-enc", "UTF-8", file, "-"], { encoding: "utf8" });
    // In drawing order, so a wrapped table cell reads as one sentence.
    const flat = execFileSync("pdftotext", ["-raw", "-enc", "UTF-8", file, "-"], { encoding: "utf8" }).replace(/\s+/g, " ");
    fs.rmSync(dir, { recursive: true, force: true });

    // Every page carries the manifest hash (pdftotext separates pages with form feeds).
    const pages = text.split("\f").filter((p) => p.trim());
    expect(pages.length).toBeGreaterThan(3);
    expect(flat).toContain("Model inventory");
    expect(flat).toMatch(/Risk tier high/);
    expect(flat).toMatch(/every 365 days/);
    pages.forEach((p, i) => expect(p, `page ${i + 1}`).toContain(`manifest sha256 ${hash}`));
    // Each check exactly once in the checks section.
    const section = text.slice(text.indexOf("Validation checks"), text.indexOf("Reviews and e-signatures"));
    expect(section.length).toBeGreaterThan(100);
    for (const c of report.validation.checks) {
      const n = section.match(new RegExp(`(?<![\\w.])${c.name.replace(/\./g, "\\.")}(?![\\w.])`, "g"))?.length ?? 0;
      expect(n, c.name).toBe(1);
    }
    // Characters outside ASCII print as themselves; one the font lacks is named, never "?".
    expect(flat).toContain("Pre-screening of consumer loans · scores ≥ 0.5 → manual review by Zoë Müller — “never automatic”.");
    expect(flat).toContain("(σ unknown)".replace("σ", "[U+03C3]"));
    expect(flat).toContain("Approved for staging · technical review");
    expect(text).not.toContain("?");
    // Figures carry their units; dates are UTC ISO 8601.
    expect(flat).toMatch(/\d+(\.\d+)? ms/);
    expect(flat).toMatch(/\d+(\.\d+)? %/);
    expect(flat).toContain(`Size ${report.version.sizeBytes} bytes`);
    expect(flat).toMatch(/fail > 250 ms · warn > 50 ms/);
    expect(flat).toContain(`Generated ${report.generatedAt.toISOString().slice(0, 10)}`);
    expect(flat).toMatch(/Generated \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/);
    // It names the framework versions it maps to, with their status and dates.
    expect(flat).toContain("SR 26-2, OCC Bulletin 2026-13, FDIC FIL-15-2026");
    expect(flat).toContain("2027-12-02 (was 2026-08-02)");
    // The manifest is a table, not one long line: the hash of its model row is on a line of its own.
    expect(text).toMatch(/model\.sha256\s+[0-9a-f]{64}/);
    expect(flat).toContain(report.signatures[0]!.recordHash);
  });

  it("changes exactly the items that rely on the kind of evidence a version lacks", async () => {
    const { workspace, owner, members } = await createWorkspace({ members: [{ role: "reviewer" }] });
    const a = owner.wsActor;
    const reviewer = members[0]!;
    // Reporting against the EU AI Act and the 2026 US guidance; retention raised to the Act's minimum.
    await callerFor(owner).governance.setFrameworks({ workspaceId: workspace.id, frameworks: ["eu-ai-act", "us-mrm-2026"], raiseRetention: true });
    // A short validation pipeline: the analyses whose checks and outputs are evidence.
    await savePipeline(a, {
      name: "validate",
      yaml: `on:\n  model_version: true\ninputs:\n  dataset: eval\n  label: default\n  sensitive: gender\nsteps:\n  fairness:\n    type: fairness\n  robustness:\n    type: robustness\n  explain:\n    type: explain\n    required: false\n`,
    });
    const { train } = await creditFixture(a, { trainRows: 600, evalRows: 250 });
    const meta = (i: number) => ({
      description: `Candidate ${i}.`,
      gitCommit: `abc${i}def`,
      params: { epochs: 100 + i },
      metrics: { roc_auc: 0.8 },
      parent: 1,
    });
    await pushModel(a, "credit-risk", creditModel(train, FEATURES, 100), { description: "Parent." });
    const KINDS = ["full", "checks", "card", "signatures", "rollouts", "monitoring"] as const;
    type Kind = (typeof KINDS)[number];
    const v: Record<Kind, { version: number; id: string }> = {} as never;
    for (const [i, k] of KINDS.entries()) {
      const r = await pushModel(a, "credit-risk", creditModel(train, FEATURES, 101 + i), meta(i));
      v[k] = { version: r.version, id: await versionId(workspace.id, "credit-risk", r.version) };
    }
    const lacks = (k: Kind, kind: Kind) => k !== "full" && k === kind;
    // Checks: the validation run of every version but the one without checks (left queued).
    await Promise.all(KINDS.filter((k) => !lacks(k, "checks")).map(async (k) => drive((await runOf(v[k].id)).id)));
    // Card and e-signatures: a review per version, each for an alias of its own.
    for (const k of KINDS) {
      const alias = `qa-${k}`;
      await callerFor(owner).policies.save({
        workspaceId: workspace.id,
        alias,
        rules: {
          requiredApprovals: [{ role: "reviewer", count: 1 }],
          minDistinctApprovers: 1,
          requiredChecks: [],
          allowRequesterApproval: false,
          approvalValidDays: 30,
        },
      });
      const { number } = await callerFor(owner).reviews.open({ workspaceId: workspace.id, model: "credit-risk", version: v[k].version, alias, summary: k });
      if (!lacks(k, "card"))
        await callerFor(owner).reviews.updateCard({ workspaceId: workspace.id, number, markdown: `## Intended use\n\nFixture ${k}.`, baseRevision: 1 });
      if (!lacks(k, "signatures"))
        await callerFor(reviewer).reviews.sign({ workspaceId: workspace.id, number, decision: "approve", meaning: "Approved", password: reviewer.password });
    }
    // Rollouts: a deployment pinned to each version (bound to an unprotected alias), but one.
    const now = new Date();
    for (const k of KINDS.filter((x) => !lacks(x, "rollouts"))) {
      await createDeployment(a, { name: `fx-${k}`, environment: "test", model: "credit-risk", alias: "dev", follow: false, version: v[k].version });
    }
    // Monitoring: labelled traffic, rolled up, performance and drift computed — for the deployed versions but one.
    const people = generateCredit(160, 99);
    for (const k of KINDS.filter((x) => !lacks(x, "rollouts") && !lacks(x, "monitoring"))) {
      const [d] = await getDb()
        .select()
        .from(deployments)
        .where(and(eq(deployments.workspaceId, workspace.id), eq(deployments.name, `fx-${k}`)));
      const rows: PredictionLogRow[] = people.map((p, i) => {
        const probability = 1 / (1 + Math.exp(-(p.debt_ratio * 4 - 2)));
        return {
          at: new Date(now.getTime() - 90 * 60_000 + i * 20_000),
          requestId: `fx-${k}-${i}`,
          workspaceId: workspace.id,
          deploymentId: d!.id,
          modelVersionId: v[k].id,
          role: "primary",
          status: "ok",
          latencyMs: 1 + (i % 7),
          rows: 1,
          inputs: { instances: [Object.fromEntries(FEATURES.map((f) => [f, p[f]]))] },
          outputs: { probability: [[probability]], is_positive: [[probability > 0.5]] },
        };
      });
      await getDb().insert(predictionLogs).values(rows);
      await getDb()
        .insert(predictionFeedback)
        .values(people.map((p, i) => ({ requestId: `fx-${k}-${i}`, workspaceId: workspace.id, deploymentId: d!.id, label: p.default })));
    }
    await rollUpAll(now);
    await computePerformance(now, 3);
    for (const k of KINDS.filter((x) => !lacks(x, "rollouts") && !lacks(x, "monitoring"))) {
      const [d] = await getDb()
        .select()
        .from(deployments)
        .where(and(eq(deployments.workspaceId, workspace.id), eq(deployments.name, `fx-${k}`)));
      await computeDriftAll(now, 120, d!.id);
    }
    await signCheckpoint(a, workspace.id);

    const reportOf = (k: Kind) => callerFor(owner).governance.report({ workspaceId: workspace.id, name: "credit-risk", version: v[k].version });
    const full = await reportOf("full");
    assertItemsFollowEvidence(full, await evidenceFromTables(workspace.id, v.full.id));
    // With every kind of evidence, every item of every framework is complete.
    for (const f of full.frameworks)
      for (const i of f.items)
        expect(
          i.status,
          `${f.id}/${i.id}: ${i.evidence
            .filter((e) => !e.present)
            .map((e) => e.key)
            .join(", ")}`,
        ).toBe("complete");

    // Which evidence keys each kind provides. A version never rolled out cannot have been monitored either.
    const PROVIDES: Record<Exclude<Kind, "full">, Key[]> = {
      checks: ["validation_checks", "fairness", "robustness", "explainability"],
      card: ["intended_use"],
      signatures: ["review_signatures"],
      rollouts: ["deployment_history", "monitoring"],
      monitoring: ["monitoring"],
    };
    for (const kind of KINDS.filter((k): k is Exclude<Kind, "full"> => k !== "full")) {
      const r = await reportOf(kind);
      assertItemsFollowEvidence(r, await evidenceFromTables(workspace.id, v[kind].id));
      const gone = new Set<Key>(PROVIDES[kind]);
      for (const k of KEYS) expect(r.evidence[k].present, `${kind} lacks ${k}?`).toBe(!gone.has(k));
      for (const f of r.frameworks) {
        for (const i of f.items) {
          const left = i.evidence.filter((e) => !gone.has(e.key as Key)).length;
          const expected = left === i.evidence.length ? "complete" : left ? "partial" : "missing";
          expect(i.status, `${kind}: ${f.id}/${i.id}`).toBe(expected);
        }
      }
      // The sections say so in words too.
      if (kind === "checks") expect(r.validation.checks).toEqual([]);
      if (kind === "card") expect(r.card?.written).toBe(false);
      if (kind === "signatures") expect(r.signatures).toEqual([]);
      if (kind === "rollouts") expect([r.rollouts.length, r.deployments.length]).toEqual([0, 0]);
      if (kind === "monitoring") expect([r.monitoring.traffic.length, r.monitoring.drift.windows, r.monitoring.performance.windows]).toEqual([0, 0, 0]);
    }
    expect(full.retention).toEqual({ days: 184, floors: [{ framework: "EU AI Act", days: 184 }] });
  }, 90_000);

  it("shows a failed rollout and an emergency rollback with their reasons", async () => {
    const { workspace, owner } = await createWorkspace();
    const a = owner.wsActor;
    for (const w of [[1], [2]])
      await uploadModelVersion(
        a,
        { name: "m", filename: `m${w[0]}.onnx`, meta: { description: `Version ${w[0]}.` } },
        Readable.from([Buffer.from(logisticRegressionOnnx({ weights: w, bias: 0, featureNames: ["a"] }))]),
      );
    await seedAlias(a, { workspaceId: workspace.id, name: "m", alias: "dev", version: 1 });
    const follower = await createDeployment(a, { name: "m-follow", environment: "test", model: "m", alias: "dev" });
    // dev moves to v2; no replica reports serving it in time, so the rollout fails and v1 keeps serving.
    await seedAlias(a, { workspaceId: workspace.id, name: "m", alias: "dev", version: 2 });
    const [pending] = await getDb()
      .select()
      .from(rollouts)
      .where(and(eq(rollouts.deploymentId, follower.id), eq(rollouts.status, "pending")))
      .orderBy(sql`revision desc`)
      .limit(1);
    await settleRollouts({ deploymentId: follower.id, now: new Date(pending!.createdAt.getTime() + 3600_000) });
    // A deployment pinned to v2 is rolled back to v1 in an emergency.
    const pinned = await createDeployment(a, { name: "m-pinned", environment: "test", model: "m", alias: "dev", follow: false, version: 2 });
    await rollback(a, { name: "m-pinned", version: 1, reason: "v2 answers “yes” to everyone — stop it", expectedRevision: pinned.revision });

    const r2 = await callerFor(owner).governance.report({ workspaceId: workspace.id, name: "m", version: 2 });
    expect(r2.rollouts.map((x) => [x.deployment, x.cause, x.status, x.role])).toEqual([
      ["m-follow", "alias_followed", "failed", "primary"],
      // A rollout still pending when the next change starts is superseded by it.
      ["m-pinned", "deployed", "superseded", "primary"],
      ["m-pinned", "rolled_back", "pending", "replaced"],
    ]);
    expect(r2.rollouts.find((x) => x.status === "failed")!.reason).toMatch(/no replica reported/);
    expect(r2.emergencyRollbacks.map((x) => [x.deployment, x.primary, x.fromPrimary, x.emergencyReason])).toEqual([
      ["m-pinned", 1, 2, "v2 answers “yes” to everyone — stop it"],
    ]);
    expect(r2.deploymentEvents.map((e) => e.kind)).toEqual(expect.arrayContaining(["rollout_failed", "rolled_back"]));
    const { flat } = await pdfText(owner, workspace, "m", 2);
    expect(flat).toContain("Emergency rollback: v2 answers “yes” to everyone — stop it");
    expect(flat).toMatch(/m-follow · \d+ alias_followed v2 \(was v1\) failed/);
    expect(flat).toContain("1 emergency rollback in the period");
    // The only "?" is the runtime's own question in the failure reason, quoted as recorded.
    expect(flat.replace(/is the inference process running\?/g, "")).not.toContain("?");
  });
});

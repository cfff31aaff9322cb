import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { seedCreditDemo } from "~/db/seed/credit-demo";
import { createWorkspace } from "~/db/seed/factories";
import { signCheckpoint } from "~/server/audit/checkpoints.service";
import { createToken } from "~/server/tokens/tokens.service";
import { callerFor } from "~/test/helpers";
import { rest } from "~/test/rest-client";

describe("compliance report", () => {
  it("covers the demo version: data, metrics, model card, e-signatures, framework checklists, audit events and a manifest; the PDF says the same", async () => {
    const { workspace, owner, members } = await createWorkspace({ members: [{ role: "reviewer" }, { role: "compliance_officer" }] });
    await seedCreditDemo(owner.wsActor);
    const before = await callerFor(owner).governance.report({ workspaceId: workspace.id, name: "credit-risk", version: 2 });
    expect(before.frameworks.find((f) => f.id === "eu-ai-act")!.items.find((i) => i.id === "art-14")!.status).toBe("missing");
    // Review v2 for production: the card is written, a reviewer and a compliance officer sign.
    await callerFor(owner).policies.save({ workspaceId: workspace.id, alias: "production", rules: { requiredApprovals: [{ role: "reviewer", count: 1 }, { role: "compliance_officer", count: 1 }], minDistinctApprovers: 2, requiredChecks: [], allowRequesterApproval: false, approvalValidDays: 30 } });
    const { number } = await callerFor(owner).reviews.open({ workspaceId: workspace.id, model: "credit-risk", version: 2, alias: "production", summary: "v2" });
    await callerFor(owner).reviews.updateCard({ workspaceId: workspace.id, number, markdown: "## Intended use\n\nPre-screening of consumer loans.", baseRevision: 1 });
    for (const m of members) await callerFor(m).reviews.sign({ workspaceId: workspace.id, number, decision: "approve", meaning: "Approved for production release", password: m.password });
    await signCheckpoint(owner.wsActor, workspace.id);
    const report = await callerFor(owner).governance.report({ workspaceId: workspace.id, name: "credit-risk", version: 2 });
    expect(report.data.map((d) => `${d.role}:${d.name}@${d.version}`).sort()).toEqual(["eval:credit-eval@1", "train:credit-train@1"]);
    expect(report.events.map((e) => e.action)).toEqual(["model.version_registered", "model.alias_moved"]);
    expect(report.card).toMatchObject({ revision: 2, markdown: expect.stringContaining("Pre-screening") });
    expect(report.signatures.map((x) => [x.signerName, x.role, x.decision])).toEqual(members.map((m) => [m.name, m.role, "approve"]));
    expect(report.manifest.signatures.map((x) => x.recordHash)).toEqual(report.signatures.map((x) => x.recordHash));
    expect(report.checkpoint).not.toBeNull();
    expect(report.manifest.model.sha256).toBe(report.version.sha256);
    expect(report.manifestHash).toMatch(/^[0-9a-f]{64}$/);
    const eu = report.frameworks.find((f) => f.id === "eu-ai-act")!;
    expect(eu.items.find((i) => i.id === "art-12")!.status).toBe("complete");
    expect(eu.items.find((i) => i.id === "annex-iv-2d")!.status).toBe("complete");
    expect(eu.items.find((i) => i.id === "art-14")!.status).toBe("complete");

    const { token } = await createToken(owner.wsActor, { workspaceId: workspace.id, name: "r", role: "owner" });
    const res = await rest("GET", `/workspaces/${workspace.slug}/models/credit-risk/versions/2/report?format=pdf`, { token, raw: true });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/pdf");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "steward-report-"));
    expect(res.headers.get("x-steward-manifest-sha256")).toMatch(/^[0-9a-f]{64}$/);
    fs.writeFileSync(path.join(dir, "r.pdf"), res.bytes!);
    const text = execFileSync("pdftotext", ["-layout", path.join(dir, "r.pdf"), "-"], { encoding: "utf8" });
    expect(text).toContain("Model report: credit-risk version 2");
    expect(text).toContain("train: credit-train@1 - 2000 rows");
    expect(text).toMatch(/\[COMPLETE\] Article 12/);
    expect(text).toMatch(/\[COMPLETE\] Article 14/);
    expect(text).toContain("Pre-screening of consumer loans.");
    expect(text).toMatch(new RegExp(`Review #1 -> production: APPROVED by ${members[1]!.name} \\(compliance_officer`));
    expect(text.replace(/\s+/g, "")).toContain(report.signatures[1]!.recordHash);
    expect(text).toContain(report.version.sha256);
    expect(text).toMatch(/manifest sha256 [0-9a-f]{64}/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

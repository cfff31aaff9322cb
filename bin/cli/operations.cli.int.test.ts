import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getDb } from "~/db/client";
import { deployments, rollouts } from "~/db/schema";
import type { PolicyRules } from "~/db/schema/reviews";
import { createWorkspace } from "~/db/seed/factories";
import { logisticRegressionOnnx } from "~/db/seed/onnx-builder";
import { mutate } from "~/server/audit/mutate";
import { fireSystemIncidentTx } from "~/server/monitoring/alerts.service";
import { uploadModelVersion } from "~/server/registry/models.service";
import { createDeployment, setFollow } from "~/server/serving/deployments.service";
import { createToken } from "~/server/tokens/tokens.service";
import { restServer, runCli } from "~/test/cli";
import { expectAudit } from "~/test/helpers";
import { applyPolicy } from "~/test/reviews";

/*
 * Each command is a child process (about a second on a busy machine): 90 s per test.
 * The operator's command families over real HTTP — deployment keys, alert rules, incidents,
 * review decisions and login — with their exit codes: 0 ok, 1 usage, 2 not allowed or a
 * wrong password, 3 not found, 4 refused input (the message names it).
 */

let server: Awaited<ReturnType<typeof restServer>>;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "steward-ops-cli-"));
let ws: Awaited<ReturnType<typeof createWorkspace>>;
const env = {} as Record<"ops" | "ml" | "reviewer" | "compliance", Record<string, string>>;
const run = (who: keyof typeof env, args: string[], input?: string) => runCli(dir, args, env[who], input);

beforeAll(async () => {
  server = await restServer();
  ws = await createWorkspace({ members: [{ role: "ops" }, { role: "ml_engineer" }, { role: "reviewer" }, { role: "compliance_officer" }] });
  const [ops, ml, reviewer, compliance] = ws.members;
  for (const [k, m] of [
    ["ops", ops!],
    ["ml", ml!],
    ["reviewer", reviewer!],
    ["compliance", compliance!],
  ] as const) {
    const { token } = await createToken(m.wsActor, { workspaceId: ws.workspace.id, name: k, role: m.role });
    env[k] = { STEWARD_URL: server.url, STEWARD_TOKEN: token, STEWARD_WORKSPACE: ws.workspace.slug };
  }
  const onnx = (w: number) => Readable.from([Buffer.from(logisticRegressionOnnx({ weights: [w, 1], bias: 0, featureNames: ["a", "b"] }))]);
  await uploadModelVersion(ml!.wsActor, { name: "m", filename: "m.onnx" }, onnx(1));
  await uploadModelVersion(ml!.wsActor, { name: "m", filename: "m.onnx" }, onnx(2));
  await createDeployment(ops!.wsActor, { name: "m-prod", environment: "prod", model: "m", alias: "dev", follow: false, version: 1 });
});
afterAll(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("steward deployments keys", { timeout: 90_000 }, () => {
  it("creates a key printed once, lists it by prefix, revokes it; an ML engineer is refused (2), an unknown key is 3", async () => {
    const created = await run("ops", ["--json", "deployments", "keys", "create", "m-prod", "--name", "checkout"]);
    expect(created.code, created.stderr).toBe(0);
    const key = JSON.parse(created.stdout) as { id: string; key: string };
    expect(key.key).toMatch(/^stwd_/);
    const [list, refused] = await Promise.all([
      run("ml", ["deployments", "keys", "list", "m-prod"]),
      run("ml", ["deployments", "keys", "create", "m-prod", "--name", "x"]),
    ]);
    expect(list.stdout).toContain(`${key.id}  checkout`);
    expect(list.stdout).not.toContain(key.key);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/deployment:manage/);
    expect((await run("ops", ["deployments", "keys", "revoke", "m-prod", key.id])).stdout).toMatch(/Revoked key/);
    expect((await run("ops", ["deployments", "keys", "revoke", "m-prod", key.id])).code).toBe(3);
  });
});

describe("steward alerts and incidents", { timeout: 90_000 }, () => {
  it("adds, lists and deletes a rule; a bad metric is 4 naming it, a bad threshold 1", async () => {
    const [bad, badNumber] = await Promise.all([
      run("ops", ["alerts", "create", "m-prod", "--name", "Vibes", "--metric", "vibes", "--threshold", "1"]),
      run("ops", ["alerts", "create", "m-prod", "--name", "Slow", "--metric", "latency_p99", "--threshold", "high"]),
    ]);
    expect(bad.code).toBe(4);
    expect(bad.stderr).toMatch(/metric must be one of/);
    expect(badNumber.code).toBe(1);
    const created = await run("ops", ["--json", "alerts", "create", "m-prod", "--name", "Slow", "--metric", "latency_p99", "--threshold", "300"]);
    expect(created.code, created.stderr).toBe(0);
    const { id } = JSON.parse(created.stdout) as { id: string };
    const list = await run("ml", ["alerts", "list", "m-prod"]);
    expect(list.stdout).toMatch(new RegExp(`${id}  Slow\\s+latency_p99 threshold 300 over 15 min  warning`));
    expect((await run("ml", ["alerts", "delete", "m-prod", id])).code).toBe(2);
    expect((await run("ops", ["alerts", "delete", "m-prod", id])).code).toBe(0);
    await expectAudit(ws.workspace.id, { action: "alert.rule_deleted", targetId: id });
  });

  it("lists open incidents, acknowledges and resolves one with a note", async () => {
    const [d] = await getDb()
      .select()
      .from(deployments)
      .where(and(eq(deployments.workspaceId, ws.workspace.id), eq(deployments.name, "m-prod")));
    await mutate({ type: "system", job: "test", workspaceId: ws.workspace.id }, (tx, audit) =>
      fireSystemIncidentTx(tx, audit, { deploymentId: d!.id, metric: "rollout_failed", message: "m-prod: the rollout failed" }),
    );
    const listed = await run("ml", ["--json", "incidents", "list"]);
    const [incident] = JSON.parse(listed.stdout) as { id: string; status: string; rule: string }[];
    expect(incident).toMatchObject({ status: "firing", rule: "Rollout failed" });
    expect((await run("ops", ["incidents", "ack", incident!.id])).stdout).toMatch(/Acknowledged/);
    const [noNote, notAllowed] = await Promise.all([
      run("ops", ["incidents", "resolve", incident!.id]),
      run("ml", ["incidents", "resolve", incident!.id, "--note", "x"]),
    ]);
    expect(noNote.code).toBe(1);
    expect(noNote.stderr).toMatch(/--note/);
    expect(notAllowed.code).toBe(2);
    const resolved = await run("ops", ["incidents", "resolve", incident!.id, "--note", "Rolled back by hand."]);
    expect(resolved.code, resolved.stderr).toBe(0);
    const again = await run("ops", ["incidents", "resolve", incident!.id, "--note", "again"]);
    expect(again.code).toBe(4);
    expect(again.stderr).toMatch(/already resolved/);
    const [open, past, badStatus] = await Promise.all([
      run("ml", ["incidents", "list"]),
      run("ml", ["incidents", "list", "--status", "resolved"]),
      run("ml", ["incidents", "list", "--status", "closed"]),
    ]);
    expect(open.stdout).toMatch(/No open incidents/);
    expect(past.stdout).toMatch(/resolved: Rolled back by hand\./);
    expect(badStatus.code).toBe(4);
    const reopened = await run("ops", ["incidents", "reopen", incident!.id, "--note", "It is back."]);
    expect(reopened.code, reopened.stderr).toBe(0);
    expect(reopened.stdout).toMatch(/Reopened incident/);
    expect((await run("ml", ["incidents", "list"])).stdout).not.toMatch(/No open incidents/);
    expect((await run("ops", ["incidents", "reopen", incident!.id, "--note", "again"])).code).toBe(4);
  });
});

const POLICY: PolicyRules = {
  requiredApprovals: [
    { role: "reviewer", count: 1 },
    { role: "compliance_officer", count: 1 },
  ],
  minDistinctApprovers: 2,
  requiredChecks: [],
  allowRequesterApproval: false,
  approvalValidDays: 30,
};

describe("steward reviews: comment, approve, reject, withdraw, list", { timeout: 90_000 }, () => {
  it("signs with the password from stdin (a wrong one is 2), refuses without one off a terminal, and the approval moves the alias", async () => {
    await applyPolicy(ws, "production", POLICY);
    // A request for staging, withdrawn beside the approval of the one for production.
    const withdrawn = (async () => {
      const third = await run("ml", ["--json", "reviews", "open", "m@1", "staging", "-m", "For staging."]);
      const n3 = String((JSON.parse(third.stdout) as { number: number }).number);
      expect((await run("ml", ["reviews", "withdraw", n3])).stdout).toMatch(`Withdrew #${n3}.`);
      return n3;
    })();
    const opened = await run("ml", ["--json", "reviews", "open", "m@2", "production", "-m", "Better."]);
    expect(opened.code, opened.stderr).toBe(0);
    const n = String((JSON.parse(opened.stdout) as { number: number }).number);
    const [reviewer, compliance] = [ws.members[2]!, ws.members[3]!];

    const [notANumber, commented, listed, noPassword, noReason, noMeaning] = await Promise.all([
      run("ml", ["reviews", "withdraw", "nine"]),
      run("reviewer", ["reviews", "comment", n, "-m", "Slices look fine."]),
      run("ml", ["reviews", "list"]),
      run("reviewer", ["reviews", "approve", n, "--meaning", "Approved for production release"]),
      run("reviewer", ["reviews", "reject", n, "--password-stdin"], reviewer.password),
      run("reviewer", ["reviews", "approve", n, "--password-stdin"], reviewer.password),
    ]);
    expect(notANumber.code).toBe(1);
    expect(commented.code, commented.stderr).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`#${n}\\s+m@2 → production\\s+open`));
    expect([noPassword.code, noPassword.stderr]).toEqual([1, expect.stringMatching(/--password-stdin/)]);
    expect([noReason.code, noReason.stderr]).toEqual([1, expect.stringMatching(/--reason is required/)]);
    expect([noMeaning.code, noMeaning.stderr]).toEqual([1, expect.stringMatching(/--meaning is required/)]);

    const approve = (who: "reviewer" | "compliance", password: string) =>
      run(who, ["reviews", "approve", n, "--meaning", "Approved for production release", "--password-stdin"], `${password}\n`);
    const [wrong, notASigner] = await Promise.all([
      approve("reviewer", "not-my-password"),
      run("ml", ["reviews", "approve", n, "--meaning", "Mine", "--password-stdin"], "x"),
    ]);
    expect([wrong.code, wrong.stderr]).toEqual([2, expect.stringMatching(/password is incorrect/)]);
    expect(notASigner.code).toBe(2);
    expect((await approve("reviewer", reviewer.password)).stdout).toMatch(/policy still needs more signatures/);
    const done = await approve("compliance", compliance.password);
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toMatch(/approved — the alias moved/);
    await expectAudit(ws.workspace.id, { action: "review.approved" });

    // Reject, on a request of its own.
    const second = await run("ml", ["--json", "reviews", "open", "m@1", "production", "-m", "Back to v1?"]);
    const n2 = String((JSON.parse(second.stdout) as { number: number }).number);
    const rejected = await run("reviewer", ["reviews", "reject", n2, "--reason", "v2 is better.", "--password-stdin"], reviewer.password);
    expect(rejected.code, rejected.stderr).toBe(0);
    expect(rejected.stdout).toMatch(/rejected/);
    const n3 = await withdrawn;
    const closed = JSON.parse((await run("ml", ["--json", "reviews", "list", "--status", "closed"])).stdout) as { number: number; status: string }[];
    expect(closed.map((r) => [String(r.number), r.status]).sort()).toEqual(
      [
        [n, "approved"],
        [n2, "rejected"],
        [n3, "withdrawn"],
      ].sort(),
    );
  });
});

describe("steward deployments wait", { timeout: 90_000 }, () => {
  it("exits 7 when the rollout is still pending at its timeout, 0 once it is live, 6 with the reason when it failed", async () => {
    const ops = ws.members[0]!;
    const created = await createDeployment(ops.wsActor, { name: "m-wait", environment: "staging", model: "m", alias: "dev", follow: false, version: 1 });
    // No inference replica runs here: the rollout stays pending until the test settles it.
    const timedOut = await run("ops", ["deployments", "wait", "m-wait", "--timeout", "0"]);
    expect(timedOut.code, timedOut.stderr).toBe(7);
    expect(timedOut.stderr).toMatch(
      /m-wait: still waiting for revision \d+ after 0 s \(rollout of v1 is pending: waiting for the inference replicas to report\)/,
    );

    const live = run("ops", ["--json", "deployments", "wait", "m-wait", created.rolloutId, "--timeout", "600"]);
    await getDb()
      .update(rollouts)
      .set({ status: "live", reports: { "replica-a": "ok" }, settledAt: new Date() })
      .where(eq(rollouts.id, created.rolloutId));
    const liveOut = await live;
    expect(liveOut.code, liveOut.stderr).toBe(0);
    expect(JSON.parse(liveOut.stdout)).toMatchObject({ id: created.rolloutId, status: "live", primary: 1, replicas: ["replica-a"] });

    const change = await setFollow(ops.wsActor, { name: "m-wait", follow: false, version: 2 });
    const failed = run("ops", ["deployments", "wait", "m-wait", "--timeout", "600"]);
    await getDb()
      .update(rollouts)
      .set({ status: "failed", reason: "v2's artifact failed its sha256 check", failedReplica: "replica-a", settledAt: new Date() })
      .where(eq(rollouts.id, change.rolloutId));
    const failedOut = await failed;
    expect(failedOut.code, failedOut.stderr).toBe(6);
    expect(failedOut.stdout).toContain("m-wait: rollout of v2 failed: v2's artifact failed its sha256 check");

    const unknown = await run("ops", ["deployments", "wait", "nope", "--timeout", "0"]);
    expect(unknown.code).toBe(3);
  });
});

describe("steward login", { timeout: 90_000 }, () => {
  it("with a workspace you are not a member of, names the workspaces you are in (exit 3)", async () => {
    const ml = ws.members[1]!;
    const other = await createWorkspace({ members: [{ role: "viewer", user: ml }] });
    const r = await runCli(dir, ["login", "--url", server.url, "--email", ml.email, "--password", ml.password, "--workspace", "nowhere"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('You are not a member of a workspace "nowhere". Your workspaces: ');
    for (const slug of [ws.workspace.slug, other.workspace.slug]) expect(r.stderr).toContain(slug);
  });
});

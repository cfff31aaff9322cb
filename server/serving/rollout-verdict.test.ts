import { describe, expect, it } from "vitest";
import { decideRollout, type ReplicaReport } from "./rollout-verdict";

const t0 = new Date("2026-11-30T12:00:00Z");
const at = (s: number) => new Date(t0.getTime() + s * 1000);
const rollout = { revision: 7, createdAt: t0, fromRevision: 6 };
const serves = (replica: string, revision: number, s = 1): ReplicaReport => ({ replica, revision, failedRevision: null, error: null, reportedAt: at(s) });
const decide = (ready: string[], reports: ReplicaReport[], nowS = 2) => decideRollout({ rollout, ready, reports, now: at(nowS), timeoutMs: 60_000 });

describe("decideRollout", () => {
  it("is live only when every ready replica serves the revision", () => {
    expect(decide(["a", "b"], [serves("a", 7), serves("b", 6)])).toBeNull();
    expect(decide(["a", "b"], [serves("a", 7), serves("b", 7)])).toMatchObject({ status: "live", reports: { a: at(1).toISOString(), b: at(1).toISOString() } });
    // A later revision counts as having passed this one.
    expect(decide(["a"], [serves("a", 8)])).toMatchObject({ status: "live" });
  });

  it("completes on the replicas that remain when one dies mid-rollout (its heartbeat went stale, so it is no longer ready)", () => {
    const reports = [serves("a", 7), serves("b", 6)];
    expect(decide(["a", "b"], reports)).toBeNull();
    expect(decide(["a"], reports)).toMatchObject({ status: "live", reports: { a: expect.any(String) as unknown } });
  });

  it("never goes live on a guess: with no ready replica it stays pending, then fails with 'no replica reported' after the timeout, without reverting", () => {
    expect(decide([], [serves("gone", 7)], 59)).toBeNull();
    expect(decide([], [], 61)).toEqual({
      status: "failed",
      reason: "no replica reported within 60 s (is the inference process running?)",
      replica: null,
      revert: false,
    });
  });

  it("names the ready replicas that stayed silent past the timeout", () => {
    expect(decide(["b", "a", "c"], [serves("a", 7)], 61)).toMatchObject({
      status: "failed",
      replica: "b",
      reason: "replica b, c did not report serving revision 7 within 60 s",
    });
  });

  it("fails at once with the replica's reason when one could not load the revision, and reverts", () => {
    const failed: ReplicaReport = { replica: "b", revision: 6, failedRevision: 7, error: "v20's artifact failed its sha256 check", reportedAt: at(1) };
    expect(decide(["a", "b"], [serves("a", 7), failed])).toEqual({
      status: "failed",
      reason: "v20's artifact failed its sha256 check",
      replica: "b",
      revert: true,
    });
    // A failure reported before this rollout began is someone else's.
    expect(decide(["a", "b"], [serves("a", 7), { ...failed, reportedAt: at(-5) }])).toBeNull();
    // The first rollout of a deployment has nothing to revert to.
    expect(decideRollout({ rollout: { ...rollout, fromRevision: null }, ready: ["b"], reports: [failed], now: at(2), timeoutMs: 60_000 })).toMatchObject({
      status: "failed",
      revert: false,
    });
  });
});

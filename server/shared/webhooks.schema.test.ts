import { describe, expect, it } from "vitest";
import { AUDIT_ACTIONS } from "./audit-actions";
import { eventsMatching, matchesAny, patternProblem, WEBHOOK_EVENTS, WebhookSubscription, webhookEventGroups } from "./webhooks.schema";

describe("webhook event patterns", () => {
  it("matches exact names and * over any characters, dots included", () => {
    expect(matchesAny(["model.version_registered"], "model.version_registered")).toBe(true);
    expect(matchesAny(["model.version_registered"], "model.version_downloaded")).toBe(false);
    expect(matchesAny(["deployment.*"], "deployment.rollout_failed")).toBe(true);
    expect(matchesAny(["deployment.*"], "model.created")).toBe(false);
    expect(matchesAny(["*.rollout_*"], "deployment.rollout_live")).toBe(true);
    expect(matchesAny(["*"], "alert.fired")).toBe(true);
    // A dot is a dot, not "any character".
    expect(matchesAny(["model.created"], "modelxcreated")).toBe(false);
    expect(eventsMatching("deployment.rollout_*")).toEqual(["deployment.rollout_live", "deployment.rollout_failed", "deployment.rollout_reverted"]);
  });

  it("refuses a pattern that matches nothing, with the near names", () => {
    expect(patternProblem("review.approved")).toBeNull();
    expect(patternProblem("rollout.*")).toMatch(
      /^"rollout\.\*" matches no event; did you mean deployment\.rollout_live, deployment\.rollout_failed, deployment\.rollout_reverted\?/,
    );
    expect(patternProblem("alias.moved")).toMatch(/did you mean model\.alias_moved, model\.alias_removed\?/);
    expect(patternProblem("Model.Created")).toMatch(/is not an event name or pattern/);
    expect(patternProblem("user.*")).toMatch(/matches no event/);
    const r = WebhookSubscription.safeParse({ events: ["alert.fired", "nothing.*"] });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.path).toEqual(["events", 1]);
  });

  it("offers every workspace action, grouped by domain, and no sign-in or instance events", () => {
    const grouped = webhookEventGroups().flatMap((g) => g.events);
    expect([...grouped].sort()).toEqual([...WEBHOOK_EVENTS].sort());
    expect(WEBHOOK_EVENTS).toContain("model.version_registered");
    expect(WEBHOOK_EVENTS.some((e) => e.startsWith("user.") || e.startsWith("instance."))).toBe(false);
    expect(AUDIT_ACTIONS.length - WEBHOOK_EVENTS.length).toBe(AUDIT_ACTIONS.filter((a) => /^(user|instance)\./.test(a)).length);
  });
});

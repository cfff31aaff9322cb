import { dropIsolatedDatabase } from "~/test/isolated-database";
import { eq } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { closeDb, getDb } from "~/db/client";
import { deployments, users } from "~/db/schema";
import { seedDemoIfEmpty } from "~/db/seed/demo";
import { closeEnqueuer } from "~/server/jobs/enqueue";
import { evaluateAlerts } from "~/server/monitoring/alerts.service";
import { computeDriftAll } from "~/workers/worker/monitoring/drift-job";
import { listActivity, needsYou } from "./home.queries";

/*
 * The demo workspace is what a newcomer meets first: each of its six people signs in to a
 * home page with something on it that is theirs to act on (or, for the viewer, to read).
 * The demo is seeded in a database of its own (it only seeds an empty one), then the
 * worker's first minute is played: the last hour's drift, then the alert rules.
 */
afterAll(async () => {
  await closeEnqueuer();
  await closeDb();
  await dropIsolatedDatabase();
});

describe("the demo workspace", () => {
  it("gives each of its six people a home with something of theirs on it", async () => {
    const seeded = (await seedDemoIfEmpty())!;
    const [d] = await getDb().select().from(deployments).where(eq(deployments.workspaceId, seeded.workspace.id));
    await computeDriftAll(new Date(), 60, d!.id);
    await evaluateAlerts(new Date(), d!.id);

    const home = async (email: string) => {
      const p = seeded.people.find((x) => x.email === email)!;
      const [u] = await getDb().select().from(users).where(eq(users.email, email));
      const actor = { type: "user" as const, userId: u!.id, email, workspaceId: seeded.workspace.id, role: p.role };
      return { needs: await needsYou(actor, "acme"), activity: await listActivity(actor, "acme", { workspaceId: seeded.workspace.id }) };
    };
    const kinds = (items: { kind: string; title: string }[]) => items.map((i) => `${i.kind}: ${i.title}`);

    // Alan (reviewer) is assigned the review; Joan (compliance officer) is the role the policy still needs.
    const alan = await home("alan@demo.steward.local");
    expect(kinds(alan.needs)).toContain("review_to_sign: Review #1: credit-risk v2 → production");
    expect(alan.needs.find((i) => i.kind === "review_to_sign")!.detail).toContain("assigned to you");
    const joan = await home("joan@demo.steward.local");
    expect(kinds(joan.needs)).toContain("review_to_sign: Review #1: credit-risk v2 → production");
    expect(joan.needs.find((i) => i.kind === "review_to_sign")!.detail).toContain("needs 1 compliance officer approval");

    // Grace asked for it: her home says what it waits for and from whom.
    const grace = await home("grace@demo.steward.local");
    const waiting = grace.needs.find((i) => i.kind === "review_waiting")!;
    expect(waiting.title).toBe("Your review #1 waits for approval");
    expect(waiting.detail).toContain("assigned to Alan Turing");

    // The drift of the last hours fires credit-prod's drift alert: on the homes of those who run deployments.
    for (const email of ["linus@demo.steward.local", "ada@demo.steward.local"]) {
      const incident = (await home(email)).needs.find((i) => i.kind === "incident");
      expect(incident?.title, email).toBe("Firing: Input drift on credit-prod");
      expect(incident!.href).toBe("/w/acme/monitoring/credit-prod");
    }
    expect(kinds(grace.needs).some((k) => k.startsWith("incident"))).toBe(false);

    // Vera (viewer) cannot act, but was mentioned by name: the note says who, not an address.
    const vera = await home("vera@demo.steward.local");
    expect(vera.needs.map((i) => [i.kind, i.title])).toEqual([["notification", "Grace Hopper mentioned you in review #1"]]);
    expect(vera.needs[0]!.href).toBe("/w/acme/reviews/1");

    // Everyone's activity feed tells the story across areas: models, deployments, reviews, alerts.
    const areas = new Set(vera.activity.map((a) => a.area));
    for (const area of ["registry", "deployments", "reviews", "alerts"] as const) expect(areas, area).toContain(area);
  }, 300_000);
});

import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "~/db/client";
import { notifications, webhookDeliveries, webhooks } from "~/db/schema";
import { createWorkspace } from "~/db/seed/factories";
import { callerFor, expectAudit, expectTrpcError } from "~/test/helpers";
import { addressAllowed, deliverWebhook, DISABLE_AFTER, sign } from "./webhooks.service";

/** A real receiver on loopback (the third party), answering what `reply` says. */
async function receiver(reply: (req: IncomingMessage, body: string) => { status: number; location?: string }) {
  const got: { path: string; headers: IncomingMessage["headers"]; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      got.push({ path: req.url ?? "", headers: req.headers, body });
      const r = reply(req, body);
      res.writeHead(r.status, r.location ? { location: r.location } : {}).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, got, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe("alert webhooks", () => {
  it("refuses private and internal addresses unless configured", () => {
    for (const ip of ["127.0.0.1", "10.1.2.3", "172.16.0.9", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "::1", "fd00::1", "fe80::1", "::ffff:127.0.0.1", "224.0.0.1"]) expect(addressAllowed(ip, false), ip).toBe(false);
    for (const ip of ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111"]) expect(addressAllowed(ip, false), ip).toBe(true);
    expect(addressAllowed("127.0.0.1", true)).toBe(true);
  });

  it("signs every delivery with HMAC-SHA256 over timestamp and body, records it, does not follow redirects, and switches off after repeated failures", async () => {
    const { workspace, owner } = await createWorkspace({ members: [{ role: "ops" }] });
    const api = callerFor(owner).monitoring;
    const ok = await receiver(() => ({ status: 204 }));
    try {
      await expectTrpcError(api.createWebhook({ workspaceId: workspace.id, name: "x", url: "ftp://example.com" }), "BAD_REQUEST", /url must be an http\(s\) URL/);
      const hook = await api.createWebhook({ workspaceId: workspace.id, name: "pager", url: `${ok.url}/hook` });
      expect(hook.secret).toMatch(/^whsec_/);
      await expectAudit(workspace.id, { action: "webhook.created" });
      await deliverWebhook({ webhookId: hook.id, event: "alert.fired:inc-1", payload: { rule: "Input drift", value: 0.4 } });
      expect(ok.got).toHaveLength(1);
      const { headers, body } = ok.got[0]!;
      const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(headers["steward-signature"]))!;
      expect(sign(hook.secret, Number(t), body)).toBe(`t=${t},v1=${v1}`);
      expect(Math.abs(Date.now() / 1000 - Number(t))).toBeLessThan(60);
      expect(JSON.parse(body)).toMatchObject({ event: "alert.fired", id: "alert.fired:inc-1", attempt: 1, data: { rule: "Input drift", value: 0.4 } });
      const [delivery] = await getDb().select().from(webhookDeliveries).where(eq(webhookDeliveries.webhookId, hook.id));
      expect(delivery).toMatchObject({ ok: true, status: 204, attempt: 1 });
    } finally {
      await ok.close();
    }

    // A redirect is a failure, and its target is never called.
    const redirecting = await receiver((req) => (req.url === "/hook" ? { status: 302, location: "/elsewhere" } : { status: 200 }));
    const bad = await receiver(() => ({ status: 500 }));
    try {
      const hop = await api.createWebhook({ workspaceId: workspace.id, name: "hop", url: `${redirecting.url}/hook` });
      await expect(deliverWebhook({ webhookId: hop.id, event: "alert.fired:inc-2", payload: {} })).rejects.toThrow(/redirect \(302\) not followed/);
      expect(redirecting.got.map((g) => g.path)).toEqual(["/hook"]);

      // Failing deliveries are retried by the queue (each attempt recorded); after DISABLE_AFTER in a row the webhook is switched off and admins are told.
      const broken = await api.createWebhook({ workspaceId: workspace.id, name: "broken", url: bad.url });
      for (let i = 0; i < DISABLE_AFTER; i++) await expect(deliverWebhook({ webhookId: broken.id, event: "alert.fired:inc-3", payload: {} })).rejects.toThrow(/HTTP 500/);
      const [w] = await getDb().select().from(webhooks).where(eq(webhooks.id, broken.id));
      expect(w).toMatchObject({ enabled: false, consecutiveFailures: DISABLE_AFTER, disabledReason: expect.stringContaining("5 deliveries in a row failed") });
      const attempts = await getDb().select({ attempt: webhookDeliveries.attempt }).from(webhookDeliveries).where(eq(webhookDeliveries.webhookId, broken.id));
      expect(attempts.map((a) => a.attempt).sort()).toEqual([1, 2, 3, 4, 5]);
      expect(await deliverWebhook({ webhookId: broken.id, event: "alert.fired:inc-4", payload: {} })).toEqual({ skipped: true });
      expect(bad.got).toHaveLength(DISABLE_AFTER);
      const ev = await expectAudit(workspace.id, { action: "webhook.disabled" });
      expect(ev.metadata).toMatchObject({ automatic: true, name: "broken" });
      const notes = await getDb().select().from(notifications).where(and(eq(notifications.userId, owner.id), eq(notifications.kind, "alert")));
      expect(notes.map((n) => n.title)).toContain('Webhook "broken" was switched off after 5 failed deliveries');
      const list = await api.webhooks({ workspaceId: workspace.id });
      expect(list.find((x) => x.name === "broken")!.recent).toHaveLength(5);
      await api.setWebhookEnabled({ workspaceId: workspace.id, id: broken.id, enabled: true });
      expect((await getDb().select().from(webhooks).where(eq(webhooks.id, broken.id)))[0]).toMatchObject({ enabled: true, consecutiveFailures: 0 });
    } finally {
      await redirecting.close();
      await bad.close();
    }
  });
});

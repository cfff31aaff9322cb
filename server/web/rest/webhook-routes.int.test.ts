import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { createWorkspace } from "~/db/seed/factories";
import { createToken } from "~/server/tokens/tokens.service";
import { expectAudit } from "~/test/helpers";
import { handleRest } from "./rest";
import { WEBHOOK_ROUTES } from "./webhook-routes";

/** The webhook routes alone, as the REST entry dispatches them (until routes.ts spreads them). */
async function call(method: string, path: string, token: string, json?: unknown) {
  const headers = new Headers({ authorization: `Bearer ${token}` });
  if (json !== undefined) headers.set("content-type", "application/json");
  const req = new Request(`http://localhost/api/v1${path}`, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
  const res = await handleRest(req, WEBHOOK_ROUTES, new URL(req.url).pathname, () => Promise.resolve(null));
  return { status: res.status, data: (await res.json()) as Record<string, unknown> & { error?: { code: string; message: string; field?: string } } };
}

describe("REST /workspaces/{workspace}/webhooks", () => {
  it("creates, changes, tests, lists deliveries and deletes a webhook as an admin; names the field at fault; refuses other roles", async () => {
    const { workspace, owner } = await createWorkspace();
    const { token } = await createToken(owner.wsActor, { workspaceId: workspace.id, name: "ci", role: "admin" });
    const { token: engineer } = await createToken(owner.wsActor, { workspaceId: workspace.id, name: "eng", role: "ml_engineer" });
    const base = `/workspaces/${workspace.slug}/webhooks`;
    const server = createServer((req, res) => {
      req.resume();
      req.on("end", () => res.writeHead(200, { "content-type": "text/plain" }).end("got it"));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/cd`;
    try {
      const bad = await call("POST", base, token, { name: "cd", url, events: ["model.version_registered", "alias.moved"] });
      expect(bad.status).toBe(400);
      expect(bad.data.error).toMatchObject({
        field: "events.1",
        message: expect.stringContaining('"alias.moved" matches no event; did you mean model.alias_moved'),
      });
      expect((await call("POST", base, engineer, { name: "cd", url })).status).toBe(403);

      const created = await call("POST", base, token, { name: "cd", url, events: ["review.approved", "model.alias_moved"], models: ["credit"] });
      expect(created.status).toBe(201);
      expect(created.data).toMatchObject({ name: "cd", events: ["review.approved", "model.alias_moved"], secret: expect.stringMatching(/^whsec_/) });
      const id = created.data.id as string;
      await expectAudit(workspace.id, { action: "webhook.created", targetId: id });

      const changed = await call("PUT", `${base}/${id}`, token, { deployments: ["credit-prod"] });
      expect(changed.data).toMatchObject({ models: ["credit"], deployments: ["credit-prod"] });
      const catalogue = await call("GET", `${base}/events`, token);
      expect(JSON.stringify(catalogue.data)).toContain("deployment.rollout_failed");

      const sent = await call("POST", `${base}/${id}/test`, token);
      expect(sent.data).toMatchObject({ ok: true, status: 200, responseBody: "got it" });
      const log = await call("GET", `${base}/${id}/deliveries?limit=5`, token);
      expect(log.data).toMatchObject({
        items: [{ id: sent.data.deliveryId, event: "webhook.test", state: "delivered", attempts: [{ status: 200, responseBody: "got it" }] }],
        nextCursor: null,
      });
      expect((await call("GET", `${base}/${id}/deliveries?cursor=nope`, token)).data.error).toMatchObject({ field: "cursor" });
      const again = await call("POST", `${base}/${id}/deliveries/${String(sent.data.deliveryId)}/redeliver`, token);
      expect(again.status).toBe(400);
      expect(again.data.error).toMatchObject({ field: "deliveryId", message: expect.stringContaining("send a new one") });

      expect((await call("POST", `${base}/${id}/enabled`, token, { enabled: false })).data).toEqual({ id, enabled: false });
      expect((await call("GET", base, token)).data).toMatchObject([{ id, enabled: false }]);
      expect((await call("DELETE", `${base}/${id}`, engineer)).status).toBe(403);
      expect((await call("DELETE", `${base}/${id}`, token)).status).toBe(200);
      await expectAudit(workspace.id, { action: "webhook.deleted", targetId: id });
      expect((await call("GET", `${base}/${id}/deliveries`, token)).status).toBe(404);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

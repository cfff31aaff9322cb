import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import { Readable } from "node:stream";
import { and, eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "~/db/client";
import { notifications, webhookDeliveries, webhookOutbox, webhooks } from "~/db/schema";
import { createWorkspace } from "~/db/seed/factories";
import { logisticRegressionOnnx } from "~/db/seed/onnx-builder";
import type { WorkspaceActor } from "~/server/audit/actor";
import { hashEvent } from "~/server/audit/chain";
import { mutate } from "~/server/audit/mutate";
import { uploadModelVersion } from "~/server/registry/models.service";
import { auditFor, callerFor, expectAudit, expectTrpcError } from "~/test/helpers";
import { addressAllowed, deliverWebhook, DISABLE_AFTER, MAX_ATTEMPTS, pruneWebhookHistory, recordedUrl, sign } from "./webhooks.service";

type Delivered = {
  event: string;
  occurredAt: string;
  workspace: { id: string };
  actor: { type: string; id: string | null; label: string | null };
  target: { type: string; id: string | null };
  changes: Record<string, [unknown, unknown]> | null;
  metadata: Record<string, unknown> | null;
  audit: { seq: number; hash: string; prevHash: string; requestId: string | null };
};

type Got = { path: string; headers: IncomingMessage["headers"]; body: string };

/**
 * A real receiver (the third party, on loopback unless told), answering what `reply` says;
 * `next(n)` resolves once it has received n requests in all.
 */
async function receiver(reply: (req: IncomingMessage, body: string, n: number) => { status: number; location?: string; body?: string }, host = "127.0.0.1") {
  const got: Got[] = [];
  const waiting: { n: number; resolve: () => void }[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      got.push({ path: req.url ?? "", headers: req.headers, body });
      const r = reply(req, body, got.length);
      res.writeHead(r.status, r.location ? { location: r.location } : {}).end(r.body ?? "");
      for (const w of waiting.filter((x) => got.length >= x.n)) w.resolve();
    });
  });
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    got,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

type Job = { id: string; data: { webhookId: string; deliveryIds?: string[]; event?: string; payload?: unknown } };

/** The webhook's delivery jobs queued so far (as the worker would take them: oldest first). */
async function jobsFor(webhookId: string) {
  return getDb().execute<Job>(
    sql`select id, data from pgboss.job where name = 'webhook.deliver' and data->>'webhookId' = ${webhookId} order by created_on, id`,
  );
}

/** Plays the worker for one webhook: runs each queued job not run yet, once (a failure is the queue's cue to retry). */
async function runJobs(webhookId: string, done = new Set<string>()) {
  const outcomes: unknown[] = [];
  for (const j of await jobsFor(webhookId)) {
    if (done.has(j.id)) continue;
    done.add(j.id);
    outcomes.push(await deliverWebhook(j.data).catch((e: Error) => e));
  }
  return outcomes;
}

const onnx = (bias: number) => Readable.from([Buffer.from(logisticRegressionOnnx({ weights: [1, 2], bias, featureNames: ["a", "b"] }))]);
const push = (actor: WorkspaceActor, name: string, bias = 0) => uploadModelVersion(actor, { name, filename: `${name}.onnx` }, onnx(bias));
const parse = (g: Got) => JSON.parse(g.body) as Record<string, unknown> & { event: string; audit: { seq: number; hash: string; id: string } };

describe("event webhooks", () => {
  it("refuses private and internal addresses unless configured", () => {
    for (const ip of [
      "127.0.0.1",
      "10.1.2.3",
      "172.16.0.9",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "::1",
      "fd00::1",
      "fe80::1",
      "::ffff:127.0.0.1",
      "224.0.0.1",
    ])
      expect(addressAllowed(ip, false), ip).toBe(false);
    for (const ip of ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111"]) expect(addressAllowed(ip, false), ip).toBe(true);
    expect(addressAllowed("127.0.0.1", true)).toBe(true);
  });

  it("validates event patterns against the catalogue and names the field; create, update and delete are audited", async () => {
    const { workspace, owner, members } = await createWorkspace({ members: [{ role: "ml_engineer" }] });
    const api = callerFor(owner).webhooks;
    const ws = workspace.id;
    await expectTrpcError(api.create({ workspaceId: ws, name: "x", url: "ftp://example.com" }), "BAD_REQUEST", /url must be an http\(s\) URL/);
    const e1 = await expectTrpcError(api.create({ workspaceId: ws, name: "x", url: "https://example.com/h", events: ["rollout.*"] }), "BAD_REQUEST");
    expect(e1.message).toMatch(/^events\.0: "rollout\.\*" matches no event; did you mean deployment\.rollout_live/);
    await expectTrpcError(
      api.create({ workspaceId: ws, name: "x", url: "https://example.com/h", events: ["model.registered"] }),
      "BAD_REQUEST",
      /events\.0: "model\.registered" matches no event/,
    );
    await expectTrpcError(api.create({ workspaceId: ws, name: "x", url: "https://example.com/h", events: [] }), "BAD_REQUEST", /events: choose at least one/);
    await expectTrpcError(callerFor(members[0]!).webhooks.create({ workspaceId: ws, name: "x", url: "https://example.com/h" }), "FORBIDDEN");

    const hook = await api.create({
      workspaceId: ws,
      name: "cd",
      url: "https://example.com/h",
      events: ["deployment.*", "review.approved"],
      models: ["credit"],
    });
    expect(hook).toMatchObject({ events: ["deployment.*", "review.approved"], models: ["credit"], deployments: [], secret: expect.stringMatching(/^whsec_/) });
    expect((await expectAudit(ws, { action: "webhook.created", targetId: hook.id })).metadata).toMatchObject({ events: ["deployment.*", "review.approved"] });
    // Without events: the alert events, as webhooks always received.
    expect((await api.create({ workspaceId: ws, name: "pager", url: "https://example.com/p" })).events).toEqual(["alert.fired", "alert.resolved"]);

    await api.update({ workspaceId: ws, id: hook.id, data: { events: ["*.rollout_*"], deployments: ["credit-prod"] } });
    const updated = await expectAudit(ws, { action: "webhook.updated", targetId: hook.id });
    expect(updated.changes).toEqual({ events: [["deployment.*", "review.approved"], ["*.rollout_*"]], deployments: [[], ["credit-prod"]] });
    await expectTrpcError(api.update({ workspaceId: ws, id: hook.id, data: { events: ["nothing.*"] } }), "BAD_REQUEST", /events\.0/);

    const catalogue = await api.catalogue({ workspaceId: ws });
    expect(catalogue.groups.find((g) => g.domain === "model")!.events).toContain("model.version_registered");
    expect(catalogue.groups.some((g) => g.domain === "user")).toBe(false);

    // The address is recorded without its path or query, where services put their secrets.
    const secretUrl = "https://hooks.example.com/services/T0001/B0002/s3cr3tT0k3n?token=abc";
    await api.update({ workspaceId: ws, id: hook.id, data: { url: secretUrl } });
    const moved = (await auditFor(ws, "webhook.updated")).find((e) => e.changes && "url" in e.changes)!;
    expect(moved.changes).toEqual({
      url: [
        expect.stringMatching(/^https:\/\/example\.com\/… \(sha256:[0-9a-f]{12}\)$/),
        expect.stringMatching(/^https:\/\/hooks\.example\.com\/… \(sha256:[0-9a-f]{12}\)$/),
      ],
    });
    await api.delete({ workspaceId: ws, id: hook.id });
    expect((await expectAudit(ws, { action: "webhook.deleted", targetId: hook.id })).metadata).toMatchObject({ name: "cd" });
    expect(JSON.stringify(await auditFor(ws))).not.toMatch(/s3cr3tT0k3n|token=abc/);
    expect(recordedUrl("https://example.com")).toBe("https://example.com");
    expect((await api.list({ workspaceId: ws })).map((w) => w.name)).toEqual(["pager"]);
    await expectTrpcError(api.delete({ workspaceId: ws, id: hook.id }), "NOT_FOUND");
  });

  it("delivers matching events in sequence order, signed, with the audit seq and hash; unrelated events and other models do not fire", async () => {
    const { workspace, owner } = await createWorkspace();
    const api = callerFor(owner).webhooks;
    const ws = workspace.id;
    const rx = await receiver(() => ({ status: 200, body: "ok" }));
    try {
      const registered = await api.create({ workspaceId: ws, name: "registered", url: `${rx.url}/registered`, events: ["model.version_registered"] });
      const creditOnly = await api.create({ workspaceId: ws, name: "credit", url: `${rx.url}/credit`, events: ["model.*"], models: ["credit"] });
      const deploys = await api.create({ workspaceId: ws, name: "deploys", url: `${rx.url}/deploys`, events: ["deployment.*"] });

      await push(owner.wsActor, "credit"); // model.created + model.version_registered, one transaction
      await push(owner.wsActor, "churn"); // another model
      await push(owner.wsActor, "credit", 1); // credit v2

      expect(await jobsFor(deploys.id)).toHaveLength(0);
      for (const h of [registered, creditOnly]) await runJobs(h.id);
      const at = (p: string) => rx.got.filter((g) => g.path === p).map(parse);
      const trail = await auditFor(ws);
      const bySeq = new Map(trail.map((e) => [e.seq, e]));

      // Every registered version, of any model; nothing else.
      expect(at("/registered").map((b) => [b.event, (b.metadata as { name: string }).name, (b.metadata as { version: number }).version])).toEqual([
        ["model.version_registered", "credit", 1],
        ["model.version_registered", "churn", 1],
        ["model.version_registered", "credit", 2],
      ]);
      // model.* about credit only: created, v1, v2 — in sequence order, churn left out.
      const credit = at("/credit");
      expect(credit.map((b) => b.event)).toEqual(["model.created", "model.version_registered", "model.version_registered"]);
      expect(credit.every((b) => (b.subject as { model: string }).model === "credit")).toBe(true);
      const seqs = credit.map((b) => b.audit.seq);
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
      expect(seqs[1]).toBe(seqs[0]! + 1);
      // The seq and hash are the trail's (what an export shows), and so is everything else.
      for (const b of [...credit, ...at("/registered")]) {
        const e = bySeq.get(b.audit.seq)!;
        expect(b).toMatchObject({ event: e.action, audit: { id: e.id, hash: e.hash }, target: { type: e.targetType, id: e.targetId }, workspace: { id: ws } });
        expect(b.actor).toEqual({ type: "user", id: owner.id, label: owner.email });
        // A receiver can recompute the hash from the delivery alone (docs/WEBHOOKS.md).
        const d = b as unknown as Delivered;
        const fields = {
          workspaceId: d.workspace.id,
          seq: d.audit.seq,
          prevHash: d.audit.prevHash,
          occurredAt: new Date(d.occurredAt),
          actorType: d.actor.type,
          actorId: d.actor.id,
          actorLabel: d.actor.label,
          action: d.event,
          targetType: d.target.type,
          targetId: d.target.id,
          changes: d.changes,
          metadata: d.metadata,
          requestId: d.audit.requestId,
        };
        expect(hashEvent(fields)).toBe(d.audit.hash);
      }
      expect(rx.got.filter((g) => g.path === "/deploys")).toHaveLength(0);

      // Signed over "<t>.<body>" with the webhook's secret; the delivery id is the idempotency key.
      for (const g of rx.got.filter((x) => x.path === "/credit")) {
        const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(g.headers["steward-signature"]))!;
        expect(sign(creditOnly.secret, Number(t), g.body)).toBe(`t=${t},v1=${v1}`);
        expect(sign(registered.secret, Number(t), g.body)).not.toBe(`t=${t},v1=${v1}`);
        expect(g.headers["steward-delivery"]).toBe(parse(g).id);
        expect(g.headers["idempotency-key"]).toBe(parse(g).id);
        expect(g.headers["steward-event"]).toBe(parse(g).event);
      }
      const log = await api.deliveries({ workspaceId: ws, id: creditOnly.id, limit: 2 });
      expect(log.items.map((d) => d.state)).toEqual(["delivered", "delivered"]);
      expect(log.items[0]!.attempts).toMatchObject([{ attempt: 1, ok: true, status: 200, responseBody: "ok" }]);
      const rest = await api.deliveries({ workspaceId: ws, id: creditOnly.id, limit: 2, cursor: log.nextCursor! });
      expect(rest.items).toHaveLength(1);
      expect(rest.nextCursor).toBeNull();
      expect(new Set([...log.items, ...rest.items].map((d) => d.seq))).toEqual(new Set(seqs));
    } finally {
      await rx.close();
    }
  });

  it("writes the delivery in the event's transaction: a mutation that rolls back after its events were appended delivers nothing", async () => {
    const { workspace, owner } = await createWorkspace();
    const hook = await callerFor(owner).webhooks.create({ workspaceId: workspace.id, name: "all", url: "https://example.com/h", events: ["model.*"] });
    const event = (tx: Parameters<Parameters<typeof mutate>[1]>[0], audit: Parameters<Parameters<typeof mutate>[1]>[1], failAtCommit: boolean) => {
      audit({ action: "model.created", target: { type: "model", id: randomUUID() }, metadata: { name: "ghost" } });
      if (!failAtCommit) return Promise.resolve();
      // A deferred constraint trigger fails at COMMIT, after mutate() appended the event and queued its delivery.
      return tx
        .execute(
          sql`
        create function pg_temp.refuse() returns trigger language plpgsql as $$ begin raise exception 'refused at commit'; end $$;
        create temp table commit_gate (x int);
        create constraint trigger commit_gate_refuse after insert on commit_gate deferrable initially deferred for each row execute function pg_temp.refuse();
        insert into commit_gate values (1);
      `,
        )
        .then(() => undefined);
    };
    await expect(mutate(owner.wsActor, (tx, audit) => event(tx, audit, true))).rejects.toThrow(/refused at commit/);
    expect(await auditFor(workspace.id, "model.created")).toHaveLength(0);
    expect(await getDb().select().from(webhookOutbox).where(eq(webhookOutbox.webhookId, hook.id))).toHaveLength(0);
    expect(await jobsFor(hook.id)).toHaveLength(0);
    // The same mutation committed: its delivery and job are there.
    await mutate(owner.wsActor, (tx, audit) => event(tx, audit, false));
    const [e] = await auditFor(workspace.id, "model.created");
    const owed = await getDb().select().from(webhookOutbox).where(eq(webhookOutbox.webhookId, hook.id));
    expect(owed).toMatchObject([{ auditEventId: e!.id, seq: e!.seq, state: "pending", action: "model.created" }]);
    expect((await jobsFor(hook.id)).map((j) => j.data.deliveryIds)).toEqual([[owed[0]!.id]]);
  });

  it("retries with the same idempotency key, records every attempt with the answer, and switches off after repeated failures", async () => {
    const { workspace, owner } = await createWorkspace({ members: [{ role: "ops" }] });
    const api = callerFor(owner).webhooks;
    const ws = workspace.id;
    const flaky = await receiver((_req, _body, n) => (n <= 2 ? { status: 503, body: `busy ${n}` } : { status: 202, body: "thanks" }));
    const broken = await receiver(() => ({ status: 500, body: "x".repeat(5000) }));
    try {
      const a = await api.create({ workspaceId: ws, name: "flaky", url: flaky.url, events: ["model.version_registered"] });
      await push(owner.wsActor, "credit");
      const [job] = await jobsFor(a.id);
      await expect(deliverWebhook(job!.data)).rejects.toThrow(/HTTP 503/);
      await expect(deliverWebhook(job!.data)).rejects.toThrow(/HTTP 503/);
      expect(await deliverWebhook(job!.data)).toEqual({ skipped: false, delivered: 1 });
      // Run again (at-least-once: the queue may): nothing is sent twice once delivered.
      expect(await deliverWebhook(job!.data)).toEqual({ skipped: false, delivered: 0 });
      const keys = new Set(flaky.got.map((g) => g.headers["idempotency-key"]));
      expect(keys.size).toBe(1);
      expect(flaky.got.map((g) => parse(g).attempt)).toEqual([1, 2, 3]);
      const [d] = (await api.deliveries({ workspaceId: ws, id: a.id })).items;
      expect(d).toMatchObject({ state: "delivered", id: [...keys][0] });
      expect(d!.attempts.map((x) => [x.attempt, x.status, x.responseBody])).toEqual([
        [1, 503, "busy 1"],
        [2, 503, "busy 2"],
        [3, 202, "thanks"],
      ]);

      const b = await api.create({ workspaceId: ws, name: "broken", url: `${broken.url}/hook`, events: ["model.*"] });
      await push(owner.wsActor, "churn");
      const [bj] = await jobsFor(b.id);
      expect(bj!.data.deliveryIds).toHaveLength(2); // model.created, model.version_registered
      for (let i = 1; i < MAX_ATTEMPTS; i++) await expect(deliverWebhook(bj!.data)).rejects.toThrow(/HTTP 500$/);
      // The last attempt switches it off (DISABLE_AFTER failures in a row): the rest of the job is skipped.
      expect(MAX_ATTEMPTS).toBe(DISABLE_AFTER);
      await expect(deliverWebhook(bj!.data)).rejects.toThrow(/switched off/);
      expect(broken.got.map((g) => parse(g).event)).toEqual(Array(DISABLE_AFTER).fill("model.created"));
      const [w] = await getDb().select().from(webhooks).where(eq(webhooks.id, b.id));
      expect(w).toMatchObject({
        enabled: false,
        consecutiveFailures: DISABLE_AFTER,
        disabledReason: expect.stringContaining("5 deliveries in a row failed (last: HTTP 500)"),
      });
      const log = await api.deliveries({ workspaceId: ws, id: b.id });
      expect(log.items.map((x) => [x.event, x.state])).toEqual([
        ["model.version_registered", "skipped"],
        ["model.created", "failed"],
      ]);
      expect(log.items[1]!.attempts.map((x) => x.responseBody!.length)).toEqual(Array(DISABLE_AFTER).fill(2048));
      expect((await expectAudit(ws, { action: "webhook.disabled", targetId: b.id })).metadata).toMatchObject({ automatic: true, name: "broken" });
      const notes = await getDb()
        .select()
        .from(notifications)
        .where(and(eq(notifications.userId, owner.id), eq(notifications.kind, "alert")));
      expect(notes.map((n) => n.title)).toContain('Webhook "broken" was switched off after 5 failed deliveries');
      // Off: nothing more is owed to it; switched on again, the count starts afresh.
      await push(owner.wsActor, "churn", 1);
      expect(await jobsFor(b.id)).toHaveLength(1);
      await api.setEnabled({ workspaceId: ws, id: b.id, enabled: true });
      expect((await getDb().select().from(webhooks).where(eq(webhooks.id, b.id)))[0]).toMatchObject({ enabled: true, consecutiveFailures: 0 });
      expect(broken.got).toHaveLength(DISABLE_AFTER);
    } finally {
      await flaky.close();
      await broken.close();
    }
  });

  it("keeps finished deliveries and their attempts for 30 days, pending ones whatever their age, and audits each removal", async () => {
    const { workspace, owner } = await createWorkspace();
    const other = await createWorkspace();
    const api = callerFor(owner).webhooks;
    const ws = workspace.id;
    const hook = await api.create({ workspaceId: ws, name: "old", url: "https://example.com/h", events: ["model.*"] });
    const theirs = await callerFor(other.owner).webhooks.create({ workspaceId: other.workspace.id, name: "theirs", url: "https://example.com/t" });
    const now = new Date();
    const ago = (days: number) => new Date(now.getTime() - days * 86_400_000);
    const row = (webhookId: string, workspaceId: string, state: "pending" | "delivered" | "failed", days: number) => ({
      webhookId,
      workspaceId,
      action: "model.created",
      payload: {},
      state,
      createdAt: ago(days),
      finishedAt: state === "pending" ? null : ago(days),
    });
    const outbox = await getDb()
      .insert(webhookOutbox)
      .values([
        row(hook.id, ws, "delivered", 40),
        row(hook.id, ws, "failed", 31),
        row(hook.id, ws, "pending", 60),
        row(hook.id, ws, "delivered", 5),
        row(theirs.id, other.workspace.id, "delivered", 10),
      ])
      .returning();
    await getDb()
      .insert(webhookDeliveries)
      .values(
        outbox.map((o) => ({ webhookId: o.webhookId, outboxId: o.id, event: o.action, attempt: 1, status: 200, ok: true, durationMs: 3, at: o.createdAt })),
      );
    // An attempt from before the outbox, 45 days old.
    await getDb()
      .insert(webhookDeliveries)
      .values({ webhookId: hook.id, event: "alert.fired", attempt: 1, status: 200, ok: true, durationMs: 3, at: ago(45) });

    const pruned = await pruneWebhookHistory(now);
    expect(pruned).toEqual([{ workspaceId: ws, deliveries: 2, attempts: 3 }]);
    const left = await getDb().select().from(webhookOutbox).where(eq(webhookOutbox.webhookId, hook.id));
    expect(left.map((o) => [o.state, Math.round((now.getTime() - o.createdAt.getTime()) / 86_400_000)]).sort()).toEqual([
      ["delivered", 5],
      ["pending", 60],
    ]);
    expect(await getDb().select().from(webhookDeliveries).where(eq(webhookDeliveries.webhookId, hook.id))).toHaveLength(2);
    expect(await getDb().select().from(webhookOutbox).where(eq(webhookOutbox.webhookId, theirs.id))).toHaveLength(1);
    expect((await expectAudit(ws, { action: "webhook.history_pruned" })).metadata).toMatchObject({ deliveries: 2, attempts: 3, days: 30 });
    // Idempotent: nothing more to remove, nothing recorded.
    expect(await pruneWebhookHistory(now)).toEqual([]);
    expect(await auditFor(ws, "webhook.history_pruned")).toHaveLength(1);
  });

  it("settles every delivery of a job on the queue's last run, none left pending", async () => {
    const { workspace, owner } = await createWorkspace();
    let up = false;
    const rx = await receiver(() => (up ? { status: 200, body: "back" } : { status: 500, body: "down" }));
    try {
      const api = callerFor(owner).webhooks;
      const hook = await api.create({ workspaceId: workspace.id, name: "down", url: rx.url, events: ["model.*"] });
      await push(owner.wsActor, "credit");
      const [job] = await jobsFor(hook.id);
      await expect(deliverWebhook(job!.data, { lastRun: true })).rejects.toThrow("webhook down: 2 of 2 deliveries failed for good");
      expect(rx.got.map((g) => parse(g).event)).toEqual(["model.created", "model.version_registered"]);
      const rows = await getDb().select().from(webhookOutbox).where(eq(webhookOutbox.webhookId, hook.id));
      expect(rows.map((r) => [r.state, r.attempts])).toEqual([
        ["failed", 1],
        ["failed", 1],
      ]);
      // Redelivered by hand once the receiver is back: the same id, the next attempt, through the queue.
      up = true;
      const created = rows.find((r) => r.action === "model.created")!;
      expect(await api.redeliver({ workspaceId: workspace.id, id: hook.id, deliveryId: created.id })).toEqual({ deliveryId: created.id, state: "pending" });
      await expectTrpcError(api.redeliver({ workspaceId: workspace.id, id: hook.id, deliveryId: created.id }), "CONFLICT", /already queued/);
      await runJobs(hook.id, new Set([job!.id]));
      expect(rx.got.map((g) => [g.headers["idempotency-key"], parse(g).attempt])).toContainEqual([created.id, 2]);
      const [after] = await getDb().select().from(webhookOutbox).where(eq(webhookOutbox.id, created.id));
      expect(after).toMatchObject({ state: "delivered", attempts: 2 });
    } finally {
      await rx.close();
    }
  });

  it("sends a test event on demand and answers what the receiver said, without counting a failure", async () => {
    const { workspace, owner } = await createWorkspace();
    const api = callerFor(owner).webhooks;
    const rx = await receiver((_r, _b, n) => (n === 1 ? { status: 200, body: '{"received":true}' } : { status: 410, body: "gone" }));
    try {
      const hook = await api.create({ workspaceId: workspace.id, name: "t", url: `${rx.url}/t`, events: ["review.approved"] });
      const r = await api.sendTest({ workspaceId: workspace.id, id: hook.id });
      expect(r).toMatchObject({ ok: true, status: 200, responseBody: '{"received":true}', error: null });
      const body = parse(rx.got[0]!);
      expect(body).toMatchObject({
        id: r.deliveryId,
        event: "webhook.test",
        test: true,
        audit: null,
        actor: { id: owner.id },
        target: { type: "webhook", id: hook.id },
      });
      const [, t] = /^t=(\d+),/.exec(String(rx.got[0]!.headers["steward-signature"]))!;
      expect(sign(hook.secret, Number(t), rx.got[0]!.body)).toBe(rx.got[0]!.headers["steward-signature"]);
      const failed = await api.sendTest({ workspaceId: workspace.id, id: hook.id });
      expect(failed).toMatchObject({ ok: false, status: 410, error: "HTTP 410", responseBody: "gone" });
      const log = await api.deliveries({ workspaceId: workspace.id, id: hook.id });
      expect(log.items.map((d) => [d.event, d.state, d.test])).toEqual([
        ["webhook.test", "failed", true],
        ["webhook.test", "delivered", true],
      ]);
      expect((await getDb().select().from(webhooks).where(eq(webhooks.id, hook.id)))[0]!.consecutiveFailures).toBe(0);
      // Nothing queued for a retry.
      expect(await jobsFor(hook.id)).toHaveLength(0);
    } finally {
      await rx.close();
    }
  });

  it("keeps alert webhooks made before subscriptions: alert events reach them once, and an alert job queued before the upgrade is still sent", async () => {
    const { workspace, owner } = await createWorkspace();
    const rx = await receiver(() => ({ status: 204 }));
    try {
      // As the migration leaves an existing webhook: no events given, the column's default.
      const [old] = await getDb()
        .insert(webhooks)
        .values({ workspaceId: workspace.id, name: "pager", url: `${rx.url}/old`, secret: "whsec_old", createdBy: owner.id })
        .returning();
      expect(old!.events).toEqual(["alert.fired", "alert.resolved"]);
      const incident = randomUUID();
      await mutate({ type: "system", job: "alerts", workspaceId: workspace.id }, async (_tx, audit) => {
        audit({
          action: "alert.fired",
          target: { type: "alert_incident", id: incident },
          metadata: { rule: "Error rate", deployment: "m-prod", severity: "critical" },
        });
        audit({ action: "alert.acknowledged", target: { type: "alert_incident", id: incident } });
      });
      await runJobs(old!.id);
      expect(rx.got.map(parse).map((b) => [b.event, b.data])).toEqual([
        ["alert.fired", { rule: "Error rate", deployment: "m-prod", severity: "critical", incident }],
      ]);
      // The old alert path's job for the same incident is covered: not sent twice.
      expect(await deliverWebhook({ webhookId: old!.id, event: `alert.fired:${incident}`, payload: { rule: "Error rate" } })).toEqual({ skipped: true });
      // A job from before the upgrade (no outbox row) is sent in the old shape.
      expect(await deliverWebhook({ webhookId: old!.id, event: "alert.fired:before", payload: { rule: "Latency" } })).toEqual({ ok: true, status: 204 });
      expect(JSON.parse(rx.got[1]!.body)).toMatchObject({ event: "alert.fired", id: "alert.fired:before", attempt: 1, data: { rule: "Latency" } });
      const attempts = await getDb().select().from(webhookDeliveries).where(eq(webhookDeliveries.webhookId, old!.id));
      expect(attempts).toHaveLength(2);
      // Once the webhook is filtered, alerts reach it only through its subscription.
      await callerFor(owner).webhooks.update({ workspaceId: workspace.id, id: old!.id, data: { deployments: ["other-prod"] } });
      expect(await deliverWebhook({ webhookId: old!.id, event: "alert.fired:later", payload: { rule: "Latency" } })).toEqual({ skipped: true });
      expect(rx.got).toHaveLength(2);
    } finally {
      await rx.close();
    }
  });

  it("refuses this machine's own non-loopback addresses, at creation and at delivery, even with private targets allowed", async () => {
    const { workspace, owner } = await createWorkspace();
    const api = callerFor(owner).webhooks;
    // Every interface, both families ("::" accepts IPv4 too): the receiver stands for the host's own web and inference ports.
    const host = await receiver(() => ({ status: 204 }), "::");
    try {
      const own = Object.entries(os.networkInterfaces()).flatMap(([name, xs]) =>
        (xs ?? []).filter((a) => !a.internal && !a.address.startsWith("fe80")).map((a) => ({ name, ...a })),
      );
      if (!own.length) console.log("[webhooks] this machine has no non-loopback address: nothing to replay");
      for (const a of own) {
        const url = `http://${a.family === "IPv6" ? `[${a.address}]` : a.address}:${host.port}/hook`;
        // The finding: such an address reaches the host's own port…
        expect((await fetch(url, { method: "POST", body: "{}" })).status, url).toBe(204);
        const before = host.got.length;
        // …so a webhook may not be created for it,
        await expectTrpcError(
          api.create({ workspaceId: workspace.id, name: "self", url }),
          "BAD_REQUEST",
          new RegExp(`url points at ${a.address.replace(/[.:]/g, "\\$&")}, an address of this host \\(${a.name}\\)`),
        );
        // …nor delivered if one exists (created before the host took the address, or by a name resolving there).
        const [w] = await getDb()
          .insert(webhooks)
          .values({ workspaceId: workspace.id, name: `self ${a.address}`, url, secret: "whsec_x", createdBy: owner.id })
          .returning();
        await expect(deliverWebhook({ webhookId: w!.id, event: "alert.fired:self", payload: {} })).rejects.toThrow(
          `refused: ${a.address} is an address of this host (${a.name}), which would reach its own services`,
        );
        expect(host.got.length).toBe(before);
        const [delivery] = await getDb().select().from(webhookDeliveries).where(eq(webhookDeliveries.webhookId, w!.id));
        expect(delivery).toMatchObject({ ok: false, status: null, error: expect.stringContaining("an address of this host") });
      }
    } finally {
      await host.close();
    }
  });

  it("delivers to an IPv6 literal ([::1]) when private targets are allowed, and refuses it otherwise", async () => {
    const v6 = await receiver(() => ({ status: 204 }), "::1").catch((e: NodeJS.ErrnoException) => e);
    if (v6 instanceof Error) {
      console.log(`[webhooks] IPv6 loopback unavailable here (${v6.code}): the IPv6 delivery test is skipped`);
      return;
    }
    try {
      const { workspace, owner } = await createWorkspace();
      const hook = await callerFor(owner).webhooks.create({ workspaceId: workspace.id, name: "v6", url: `http://[::1]:${v6.port}/hook?x=1` });
      expect(await deliverWebhook({ webhookId: hook.id, event: "alert.fired:v6", payload: { ok: 1 } })).toEqual({ ok: true, status: 204 });
      expect(v6.got).toHaveLength(1);
      expect(v6.got[0]).toMatchObject({ path: "/hook?x=1", headers: expect.objectContaining({ host: `[::1]:${v6.port}` }) });
      await expect(deliverWebhook({ webhookId: hook.id, event: "alert.fired:v6b", payload: {} }, { allowPrivate: false })).rejects.toThrow(
        "refused: ::1 is an address of this host (lo)",
      );
      expect(v6.got).toHaveLength(1);
    } finally {
      await v6.close();
    }
  });
});

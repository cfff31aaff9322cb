import { Readable } from "node:stream";
import { and, eq, sql } from "drizzle-orm";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { freePort } from "~/bin/lib/embedded-pg";
import { getDb } from "~/db/client";
import { reviewSignatures, signingChallenges, users } from "~/db/schema";
import type { PolicyRules } from "~/db/schema/reviews";
import { createWorkspace } from "~/db/seed/factories";
import { logisticRegressionOnnx } from "~/db/seed/onnx-builder";
import { startOidcIssuer } from "~/playwright/oidc-issuer";
import { uploadModelVersion } from "~/server/registry/models.service";
import { createToken } from "~/server/tokens/tokens.service";
import { restServer, runCli } from "~/test/cli";
import { auditFor, callerFor, expectAudit, expectTrpcError } from "~/test/helpers";
import { applyPolicy } from "~/test/reviews";
import type * as EnvModule from "~/env";
import { checkFreshLogin, completeSsoSignature, confirmSsoSignature } from "./sso-signing.service";

// The instance's single-sign-on settings point at a real OpenID Connect issuer started below
// (panva's oidc-provider on loopback); read at call time, so the port can be chosen first.
const oidc = vi.hoisted(() => ({ issuer: "", enabled: true }));
vi.mock("~/env", async (original) => {
  const m = await original<typeof EnvModule>();
  const over: Record<string, () => unknown> = {
    OIDC_ISSUER: () => (oidc.enabled ? oidc.issuer : undefined),
    OIDC_CLIENT_ID: () => "steward-e2e",
    OIDC_CLIENT_SECRET: () => "steward-e2e-secret",
    OIDC_NAME: () => "Acme SSO",
    NEXTAUTH_URL: () => APP,
  };
  return { ...m, env: new Proxy(m.env, { get: (t, k) => (typeof k === "string" && k in over ? over[k]!() : (t as Record<string | symbol, unknown>)[k]) }) };
});
const APP = "http://localhost:39391";
const CALLBACK = `${APP}/api/esign/callback`;

let issuer: Awaited<ReturnType<typeof startOidcIssuer>>;
beforeAll(async () => {
  issuer = await startOidcIssuer(await freePort(), [CALLBACK]);
  oidc.issuer = issuer.issuer;
});
afterAll(async () => issuer?.close());

/**
 * What a browser does at the issuer: follows its redirects with its cookies, fills its login
 * form (any password; the login name is the e-mail) and its consent form, and stops at the
 * redirect back to Steward, whose query it returns.
 */
async function loginAtIssuer(authorizeUrl: string, email: string): Promise<Record<string, string>> {
  const jar = new Map<string, string>();
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
  let url = authorizeUrl;
  let init: RequestInit = {};
  for (let hop = 0; hop < 20; hop++) {
    const res = await fetch(url, { ...init, redirect: "manual", headers: { ...(init.headers as object), cookie: cookie() } });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const i = pair!.indexOf("=");
      jar.set(pair!.slice(0, i), pair!.slice(i + 1));
    }
    const location = res.headers.get("location");
    if (location) {
      const next = new URL(location, url);
      if (next.href.startsWith(CALLBACK)) return Object.fromEntries(next.searchParams);
      url = next.href;
      init = {};
      continue;
    }
    const html = await res.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    if (!action) throw new Error(`The issuer answered ${res.status} without a form or a redirect: ${html.slice(0, 300)}`);
    const fields = new URLSearchParams();
    for (const [input] of html.matchAll(/<input[^>]*>/g)) {
      const name = /name="([^"]+)"/.exec(input)?.[1];
      if (name) fields.set(name, /value="([^"]*)"/.exec(input)?.[1] ?? "");
    }
    if (fields.has("login")) fields.set("login", email);
    if (fields.has("password")) fields.set("password", "anything");
    url = new URL(action, url).href;
    init = { method: "POST", body: fields.toString(), headers: { "content-type": "application/x-www-form-urlencoded" } };
  }
  throw new Error("The issuer never sent the browser back to Steward.");
}

const RULES: PolicyRules = {
  requiredApprovals: [
    { role: "reviewer", count: 1 },
    { role: "compliance_officer", count: 1 },
  ],
  minDistinctApprovers: 2,
  requiredChecks: [],
  allowRequesterApproval: false,
  approvalValidDays: 30,
};

async function setup() {
  const ws = await createWorkspace({ members: [{ role: "ml_engineer" }, { role: "reviewer" }, { role: "compliance_officer" }] });
  const [eng, rev, comp] = ws.members;
  for (const w of [1, 2])
    await uploadModelVersion(
      eng!.wsActor,
      { name: "risk", filename: "risk.onnx" },
      Readable.from([Buffer.from(logisticRegressionOnnx({ weights: [w, 1], bias: 0, featureNames: ["a", "b"] }))]),
    );
  await applyPolicy(ws, "production", RULES);
  // The reviewer's account came through single sign-on: it has no password to sign with.
  await getDb().update(users).set({ passwordHash: null }).where(eq(users.id, rev!.id));
  const wsId = ws.workspace.id;
  const { number } = await callerFor(eng!).reviews.open({ workspaceId: wsId, model: "risk", version: 2, alias: "production", summary: "Better." });
  const start = (u: { id: string; email: string }, extra: { returnTo?: string; decision?: "approve" | "reject" } = {}) =>
    callerFor(u).reviews.startSsoSignature({
      workspaceId: wsId,
      number,
      decision: extra.decision ?? "approve",
      meaning: "Approved for production release",
      returnTo: extra.returnTo,
    });
  const signatures = () =>
    getDb().select().from(reviewSignatures).innerJoin(users, eq(users.id, reviewSignatures.signerId)).where(eq(reviewSignatures.workspaceId, wsId));
  return { ...ws, eng: eng!, rev: rev!, comp: comp!, wsId, number, start, signatures };
}

describe("e-signatures confirmed by a fresh single-sign-on login", () => {
  it("signs after the identity provider asked for the signer's credentials again, and the approval completes", async () => {
    const s = await setup();
    await expectTrpcError(
      callerFor(s.rev).reviews.sign({ workspaceId: s.wsId, number: s.number, decision: "approve", meaning: "Approved", password: "x" }),
      "PRECONDITION_FAILED",
      /single sign-on and has no password/,
    );
    const started = await s.start(s.rev, { returnTo: `/w/${s.workspace.slug}/reviews/${s.number}` });
    const url = new URL(started.authorizeUrl);
    // A fresh login is demanded of the provider, for this person, with PKCE.
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      prompt: "login",
      max_age: "0",
      login_hint: s.rev.email,
      code_challenge_method: "S256",
      redirect_uri: CALLBACK,
      client_id: "steward-e2e",
    });
    expect(started.provider).toBe("Acme SSO");
    const status = () => callerFor(s.rev).reviews.ssoSignatureStatus({ workspaceId: s.wsId, number: s.number, challengeId: started.challengeId });
    expect((await status()).status).toBe("pending");

    const back = await loginAtIssuer(started.authorizeUrl, s.rev.email);
    const login = await completeSsoSignature(back, { ip: "203.0.113.9" });
    // The login is proven; Steward shows what is about to be signed and waits for the browser that logged in.
    expect(login).toMatchObject({
      kind: "confirm",
      challengeId: started.challengeId,
      summary: {
        number: s.number,
        model: "risk",
        version: 2,
        alias: "production",
        decision: "approve",
        meaning: "Approved for production release",
        signerEmail: s.rev.email,
      },
    });
    if (login.kind !== "confirm") throw new Error("no confirmation");
    expect(await status()).toMatchObject({ status: "confirming" });
    expect(await s.signatures()).toEqual([]);
    // Another browser (no cookie, or a guessed one) cannot confirm it.
    for (const confirmToken of [undefined, "guessed"])
      expect(await confirmSsoSignature({ challengeId: started.challengeId, confirmToken })).toMatchObject({
        kind: "refused",
        message: expect.stringMatching(/browser that logged in/),
      });
    const done = await confirmSsoSignature({ challengeId: started.challengeId, confirmToken: login.confirmToken }, { ip: "203.0.113.9" });
    expect(done).toMatchObject({ kind: "signed", challengeId: started.challengeId });
    expect(done.redirect).toBe(`${APP}/w/${s.workspace.slug}/reviews/${s.number}?esign=${started.challengeId}`);
    expect(await status()).toMatchObject({ status: "signed", outcome: "signed", error: null });
    // Confirming twice signs once.
    expect(await confirmSsoSignature({ challengeId: started.challengeId, confirmToken: login.confirmToken })).toMatchObject({ kind: "refused" });

    const sigs = await s.signatures();
    expect(sigs.map((r) => [r.review_signatures.signerId, r.review_signatures.method, r.review_signatures.decision])).toEqual([[s.rev.id, "oidc", "approve"]]);
    const signed = await expectAudit(s.wsId, { action: "review.signed" });
    expect(signed.metadata).toMatchObject({ method: "oidc", issuer: issuer.issuer, signerId: s.rev.id, meaning: "Approved for production release" });
    const authTime = Date.parse((signed.metadata as { authTime: string }).authTime);
    const [c] = await getDb().select().from(signingChallenges).where(eq(signingChallenges.id, started.challengeId));
    expect(authTime).toBeGreaterThanOrEqual(Math.floor(c!.createdAt.getTime() / 1000) * 1000 - 5000);

    // The same callback again (a replay, a second tab): nothing more is signed.
    expect(await completeSsoSignature(back)).toMatchObject({ kind: "refused", message: expect.stringMatching(/already used/) });
    expect(await s.signatures()).toHaveLength(1);

    // The compliance officer signs with a password; the policy is satisfied and the alias moves.
    expect(
      (await callerFor(s.comp).reviews.sign({ workspaceId: s.wsId, number: s.number, decision: "approve", meaning: "Approved", password: s.comp.password }))
        .outcome,
    ).toBe("approved");
    await expectAudit(s.wsId, { action: "model.alias_moved" });
  });

  it("refuses a login as someone else, a login older than the request, and a bad state; each refusal is on the record", async () => {
    const s = await setup();
    // Someone else logs in at the provider (a colleague's browser session).
    const a = await s.start(s.rev);
    const other = await completeSsoSignature(await loginAtIssuer(a.authorizeUrl, s.comp.email));
    expect(other).toMatchObject({ kind: "refused", redirect: null });
    if (other.kind !== "refused") throw new Error("signed");
    expect(other.message).toContain(`as ${s.comp.email}, which is not the account that started this signature`);
    expect(other.message).not.toContain(s.rev.email);
    const refused = await expectAudit(s.wsId, { action: "review.signature_refused" });
    expect(refused.metadata).toMatchObject({ number: s.number, reason: "sso_other_person", method: "oidc" });
    expect(await callerFor(s.rev).reviews.ssoSignatureStatus({ workspaceId: s.wsId, number: s.number, challengeId: a.challengeId })).toMatchObject({
      status: "refused",
      error: expect.stringMatching(/nothing was signed/),
    });

    // A provider that did not ask again: its auth_time is before the signing started.
    const b = await s.start(s.rev);
    await getDb()
      .update(signingChallenges)
      .set({ createdAt: sql`now() + interval '1 hour'` })
      .where(eq(signingChallenges.id, b.challengeId));
    const stale = await completeSsoSignature(await loginAtIssuer(b.authorizeUrl, s.rev.email));
    expect(stale).toMatchObject({ kind: "refused", message: expect.stringMatching(/did not ask for your credentials again/) });
    expect(
      (
        await getDb().execute<{ reason: string }>(
          sql`select metadata->>'reason' as reason from audit_events where workspace_id = ${s.wsId} and action = 'review.signature_refused' order by seq`,
        )
      ).map((r) => r.reason),
    ).toEqual(["sso_other_person", "sso_stale_login"]);

    // The signer cancels on the confirmation page: nothing signed, on the record (not counted as a failed login).
    const d = await s.start(s.rev);
    const shown = await completeSsoSignature(await loginAtIssuer(d.authorizeUrl, s.rev.email));
    if (shown.kind !== "confirm") throw new Error("no confirmation");
    expect(await confirmSsoSignature({ challengeId: d.challengeId, confirmToken: shown.confirmToken, cancel: true })).toMatchObject({
      kind: "refused",
      message: expect.stringMatching(/cancelled/),
    });
    // The provider's own error text is not repeated on Steward's page, only its code.
    const e = await s.start(s.rev);
    const state = new URL(e.authorizeUrl).searchParams.get("state")!;
    const denied = await completeSsoSignature({ state, error: "server_error", error_description: "Call +1 555 0100 to restore your account" });
    expect(denied).toMatchObject({ kind: "refused", message: "The identity provider did not confirm your identity (server_error): nothing was signed." });

    // A state Steward never issued, and a challenge that ran out of time.
    expect(await completeSsoSignature({ code: "x", state: "forged" })).toMatchObject({
      kind: "refused",
      message: expect.stringMatching(/not a signing request/),
    });
    const c = await s.start(s.rev);
    await getDb()
      .update(signingChallenges)
      .set({ expiresAt: sql`now() - interval '1 second'` })
      .where(eq(signingChallenges.id, c.challengeId));
    expect(await callerFor(s.rev).reviews.ssoSignatureStatus({ workspaceId: s.wsId, number: s.number, challengeId: c.challengeId })).toMatchObject({
      status: "expired",
    });
    expect(await completeSsoSignature(await loginAtIssuer(c.authorizeUrl, s.rev.email))).toMatchObject({
      kind: "refused",
      message: expect.stringMatching(/longer than 10 minutes/),
    });
    expect(await s.signatures()).toEqual([]);
  });

  it("keeps every signing rule: who may sign, where the browser may go back to, whose challenge is read", async () => {
    const s = await setup();
    await expectTrpcError(s.start(s.eng), "FORBIDDEN", /review:sign/);
    await expectTrpcError(s.start(s.rev, { returnTo: "https://evil.example/steal" }), "BAD_REQUEST", /returnTo must be a path of this app/);
    // Browsers drop tabs and newlines from URLs, so these would leave the app: refused as written.
    for (const returnTo of ["//evil.example/x", "/\t/evil.example", "/\n/evil.example", "/\\evil.example", "http://127.0.0.1:45123/elsewhere"])
      await expectTrpcError(s.start(s.rev, { returnTo }), "BAD_REQUEST", /returnTo/);
    const loop = await s.start(s.rev, { returnTo: "http://127.0.0.1:45123/esign" });
    // Only the person who started it reads it.
    await expectTrpcError(callerFor(s.comp).reviews.ssoSignatureStatus({ workspaceId: s.wsId, number: s.number, challengeId: loop.challengeId }), "NOT_FOUND");
    // The request closes before the login finishes: the signature is refused by the same rules as a password one.
    await callerFor(s.eng).reviews.withdraw({ workspaceId: s.wsId, number: s.number });
    const shown = await completeSsoSignature(await loginAtIssuer(loop.authorizeUrl, s.rev.email));
    if (shown.kind !== "confirm") throw new Error("no confirmation");
    const late = await confirmSsoSignature({ challengeId: loop.challengeId, confirmToken: shown.confirmToken });
    expect(late).toMatchObject({ kind: "refused", redirect: `http://127.0.0.1:45123/esign?esign=${loop.challengeId}` });
    expect(late.message).toMatch(/already withdrawn/);
    expect(await auditFor(s.wsId, "review.signature_refused")).toMatchObject([{ metadata: { reason: "refused_by_policy" } }]);
    // Without single sign-on configured there is nothing to start.
    oidc.enabled = false;
    try {
      await expectTrpcError(s.start(s.comp), "PRECONDITION_FAILED", /not configured/);
      expect(await callerFor(s.comp).reviews.signingMethods({ workspaceId: s.wsId })).toEqual({ sso: { enabled: false, provider: null } });
    } finally {
      oidc.enabled = true;
    }
    expect(await s.signatures()).toEqual([]);
    expect(
      await getDb()
        .select()
        .from(signingChallenges)
        .where(and(eq(signingChallenges.workspaceId, s.wsId), eq(signingChallenges.status, "signed"))),
    ).toEqual([]);
  });
});

describe("steward reviews approve --sso (loopback flow)", { timeout: 90_000 }, () => {
  it("prints the provider's address, waits for the login, and exits 0 once Steward signed; a login as someone else exits 2", async () => {
    const s = await setup();
    const server = await restServer();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "steward-sso-cli-"));
    try {
      const { token } = await createToken(s.rev.wsActor, { workspaceId: s.wsId, name: "laptop", role: "reviewer" });
      const env = { STEWARD_URL: server.url, STEWARD_TOKEN: token, STEWARD_WORKSPACE: s.workspace.slug };
      /** Runs the command; plays the browser when the address appears: logs in as `who`, lands on Steward's callback, follows its redirect. */
      const approve = async (who: string, extra: string[] = []) => {
        let landed: Promise<unknown> | undefined;
        const r = await runCli(
          dir,
          ["reviews", "approve", String(s.number), "--sso", "--no-browser", "--meaning", "Approved for production release", ...extra],
          env,
          undefined,
          {
            onStderr: (sofar) => {
              const url = /(http:\/\/localhost:\d+\/auth\?\S+)/.exec(sofar)?.[1];
              if (url && !landed)
                landed = loginAtIssuer(url, who).then(async (back) => {
                  const login = await completeSsoSignature(back);
                  const done =
                    login.kind === "confirm" ? await confirmSsoSignature({ challengeId: login.challengeId, confirmToken: login.confirmToken }) : login;
                  expect(done.redirect).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/esign\?esign=/);
                  // The CLI also asks Steward every 2 s: when its question comes first it exits and its
                  // listener is gone (refused); when the browser comes first it gets the page.
                  const page = await fetch(done.redirect!).catch((err: Error) => err);
                  if (page instanceof Response) expect(await page.text()).toContain("Back to the terminal");
                  else expect((page.cause as { code?: string } | undefined)?.code).toBe("ECONNREFUSED");
                });
            },
          },
        );
        await landed;
        return r;
      };
      const wrong = await approve(s.comp.email);
      expect(wrong.code, wrong.stderr).toBe(2);
      expect(wrong.stderr).toContain(`as ${s.comp.email}, which is not the account that started this signature`);
      expect(await s.signatures()).toEqual([]);

      const ok = await approve(s.rev.email, ["--json"]);
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stderr).toMatch(/To sign, log in again at Acme SSO/);
      expect(JSON.parse(ok.stdout)).toMatchObject({ outcome: "signed", method: "oidc" });
      const sigs = await s.signatures();
      expect(sigs.map((r) => [r.users.email, r.review_signatures.method])).toEqual([[s.rev.email, "oidc"]]);
    } finally {
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("checkFreshLogin", () => {
  const createdAt = new Date("2026-12-01T10:00:00Z");
  const at = (iso: string) => Date.parse(iso) / 1000;
  it("accepts a login at or after the start (within the clock skew) by the same verified e-mail", () => {
    expect(checkFreshLogin({ auth_time: at("2026-12-01T09:59:56Z"), email: "Grace@x.io", email_verified: true }, { createdAt, email: "grace@x.io" }).ok).toBe(
      true,
    );
    expect(checkFreshLogin({ auth_time: at("2026-12-01T09:59:54Z"), email: "grace@x.io" }, { createdAt, email: "grace@x.io" })).toMatchObject({
      ok: false,
      reason: "sso_stale_login",
    });
    expect(checkFreshLogin({ email: "grace@x.io" }, { createdAt, email: "grace@x.io" })).toMatchObject({ ok: false, reason: "sso_no_auth_time" });
    expect(
      checkFreshLogin({ auth_time: at("2026-12-01T10:00:01Z"), email: "grace@x.io", email_verified: false }, { createdAt, email: "grace@x.io" }),
    ).toMatchObject({
      ok: false,
      reason: "sso_no_email",
    });
  });
});

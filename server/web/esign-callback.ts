import "server-only";
import { randomUUID } from "node:crypto";
import { env } from "~/env";
import { completeSsoSignature, confirmSsoSignature, type SsoConfirmation } from "~/server/reviews/sso-signing.service";
import { CLIENT_IP_HEADER } from "./auth/constants";

const COOKIE = "steward_esign";
const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const NO_STORE = { "cache-control": "no-store", "referrer-policy": "no-referrer" };

const STYLE = `body{font:15px/1.5 system-ui,sans-serif;margin:0;display:grid;place-items:center;min-height:100vh;background:#f6f7f9;color:#16181d}
main{max-width:34rem;margin:1rem;padding:1.5rem 1.75rem;border-radius:12px;background:#fff;border:1px solid #e2e5ea}
h1{font-size:1.15rem;margin:0 0 .5rem}.ok{color:#116329}.no{color:#b42318}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1rem;margin:1rem 0}dt{color:#5b6270}dd{margin:0;font-weight:600}
.actions{display:flex;gap:.75rem;justify-content:flex-end;margin-top:1.25rem}
button{font:inherit;font-weight:600;border-radius:8px;padding:.55rem 1rem;border:1px solid #d0d5dd;background:#fff;cursor:pointer}
button.sign{background:#4f46e5;border-color:#4f46e5;color:#fff}button.reject{background:#b42318;border-color:#b42318;color:#fff}
button:focus-visible{outline:3px solid #a5b4fc;outline-offset:2px}`;

function page(title: string, body: string) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escape(title)} · Steward</title><style>${STYLE}</style></head><body><main>${body}</main></body></html>`;
}

/** A page for a signer who came without a page to go back to. */
export function esignResultPage(title: string, message: string, ok: boolean) {
  return page(title, `<div role="${ok ? "status" : "alert"}"><h1 class="${ok ? "ok" : "no"}">${escape(title)}</h1><p>${escape(message)}</p></div>`);
}

/** What the signer is about to sign, and the two buttons; posts back to this origin only (CSP form-action 'self'). */
function confirmationPage(c: SsoConfirmation) {
  const s = c.summary;
  const approve = s.decision === "approve";
  const rows: [string, string][] = [
    ["Review", `#${s.number}: ${s.model} v${s.version} → ${s.alias}`],
    ["Decision", approve ? "Approve" : "Reject"],
    ["Meaning", `“${s.meaning}”`],
    ...(s.reason ? ([["Reason", s.reason]] as [string, string][]) : []),
    ["Signer", `${s.signer} (${s.signerEmail})`],
  ];
  return page(
    "Confirm your signature",
    `<h1>Confirm your signature</h1>
<p>${escape(s.provider)} confirmed who you are. Your signature binds the model version and the evidence of this review; it cannot be changed afterwards.</p>
<dl>${rows.map(([k, v]) => `<dt>${escape(k)}</dt><dd>${escape(v)}</dd>`).join("")}</dl>
<form method="post" action="/api/esign/confirm">
<input type="hidden" name="challenge" value="${escape(c.challengeId)}">
<div class="actions"><button type="submit" name="action" value="cancel">Cancel</button>
<button type="submit" name="action" value="sign" class="${approve ? "sign" : "reject"}" autofocus>Sign and ${approve ? "approve" : "reject"}</button></div>
</form>`,
  );
}

const metaOf = (req: Request) => ({ requestId: req.headers.get("x-request-id") ?? randomUUID(), ip: req.headers.get(CLIENT_IP_HEADER) ?? undefined });
const secure = () => (env.NEXTAUTH_URL ?? "").startsWith("https:");

function finish(r: { kind: "refused" | "signed"; message: string; redirect: string | null }, headers: Record<string, string> = {}) {
  if (r.redirect) return new Response(null, { status: 303, headers: { ...NO_STORE, ...headers, location: r.redirect } });
  const ok = r.kind === "signed";
  return new Response(esignResultPage(ok ? "Signed" : "Not signed", `${r.message}${ok ? " You can close this window." : ""}`, ok), {
    status: ok ? 200 : 400,
    headers: { ...NO_STORE, ...headers, "content-type": "text/html; charset=utf-8" },
  });
}

/**
 * GET /api/esign/callback: where the identity provider sends the signer back after the fresh
 * login (server/reviews/sso-signing.service.ts). A verified login gets the confirmation page and
 * a cookie that only this browser holds; a refused one goes back where it came from, or is shown.
 */
export async function esignCallback(req: Request): Promise<Response> {
  const params = Object.fromEntries(new URL(req.url).searchParams);
  const r = await completeSsoSignature(params, metaOf(req));
  if (r.kind === "refused") return finish(r);
  const maxAge = Math.max(1, Math.floor((r.expiresAt.getTime() - Date.now()) / 1000));
  const cookie = `${COOKIE}=${r.confirmToken}; Path=/api/esign; HttpOnly; SameSite=Lax; Max-Age=${maxAge}${secure() ? "; Secure" : ""}`;
  return new Response(confirmationPage(r), {
    status: 200,
    headers: { ...NO_STORE, "content-type": "text/html; charset=utf-8", "set-cookie": cookie, "x-frame-options": "DENY" },
  });
}

/** POST /api/esign/confirm: the signer's Sign or Cancel on the confirmation page, from the browser holding the cookie. */
export async function esignConfirm(req: Request): Promise<Response> {
  const form = await req.formData().catch(() => null);
  const token = /(?:^|;\s*)steward_esign=([A-Za-z0-9_-]+)/.exec(req.headers.get("cookie") ?? "")?.[1];
  const r = await confirmSsoSignature(
    {
      challengeId: typeof form?.get("challenge") === "string" ? (form.get("challenge") as string) : "",
      confirmToken: token,
      cancel: form?.get("action") === "cancel",
    },
    metaOf(req),
  );
  return finish(r, { "set-cookie": `${COOKIE}=; Path=/api/esign; HttpOnly; SameSite=Lax; Max-Age=0${secure() ? "; Secure" : ""}` });
}

import "server-only";
import { randomUUID } from "node:crypto";
import { completeSsoSignature } from "~/server/reviews/sso-signing.service";
import { CLIENT_IP_HEADER } from "./auth/constants";

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A page for a signer who came without a page to go back to. */
export function esignResultPage(title: string, message: string, ok: boolean) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escape(title)} · Steward</title>
<style>body{font:15px/1.5 system-ui,sans-serif;margin:0;display:grid;place-items:center;min-height:100vh;background:#f6f7f9;color:#16181d}
main{max-width:32rem;margin:1rem;padding:1.5rem 1.75rem;border-radius:12px;background:#fff;border:1px solid #e2e5ea}
h1{font-size:1.15rem;margin:0 0 .5rem;color:${ok ? "#116329" : "#b42318"}}</style></head>
<body><main role="${ok ? "status" : "alert"}"><h1>${escape(title)}</h1><p>${escape(message)}</p></main></body></html>`;
}

/**
 * GET /api/esign/callback: where the identity provider sends the signer back after the fresh
 * login (server/reviews/sso-signing.service.ts). Redirects to the page or the CLI's loopback
 * address the signature was started from, or shows the outcome.
 */
export async function esignCallback(req: Request): Promise<Response> {
  const url = new URL(req.url);
  const params = Object.fromEntries(url.searchParams);
  const meta = { requestId: req.headers.get("x-request-id") ?? randomUUID(), ip: req.headers.get(CLIENT_IP_HEADER) ?? undefined };
  const r = await completeSsoSignature(params, meta);
  const headers = { "cache-control": "no-store", "referrer-policy": "no-referrer" };
  if (r.redirect) return new Response(null, { status: 303, headers: { ...headers, location: r.redirect } });
  const ok = r.status === "signed";
  return new Response(esignResultPage(ok ? "Signed" : "Not signed", `${r.message}${ok ? " You can close this window." : ""}`, ok), {
    status: ok ? 200 : 400,
    headers: { ...headers, "content-type": "text/html; charset=utf-8" },
  });
}

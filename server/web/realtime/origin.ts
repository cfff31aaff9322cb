import "server-only";

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);

function originOf(url: string): string | null {
  try {
    const u = new URL(url);
    return u.protocol === "http:" || u.protocol === "https:" ? u.origin : null;
  } catch {
    return null;
  }
}

/**
 * The origins a browser may open a socket from: the app's own (NEXTAUTH_URL), plus any
 * configured extra ones. A loopback app URL also admits the other loopback names on the
 * same scheme and port (`npm start` prints localhost; people type 127.0.0.1).
 */
export function allowedOrigins(appUrl: string | undefined, extra: readonly string[] | string = []): Set<string> {
  const out = new Set<string>();
  // A plain string when env validation is skipped (SKIP_ENV_VALIDATION): still comma-separated.
  const list = typeof extra === "string" ? extra.split(",") : extra;
  for (const raw of [appUrl, ...list]) {
    const o = raw ? originOf(raw.trim()) : null;
    if (!o) continue;
    out.add(o);
    const u = new URL(o);
    if (LOOPBACK.has(u.hostname)) for (const h of LOOPBACK) out.add(`${u.protocol}//${h}${u.port ? `:${u.port}` : ""}`);
  }
  return out;
}

/**
 * Whether a socket.io handshake may proceed, judged by its Origin header. Browsers always
 * send Origin on a WebSocket upgrade and on cross-origin requests, so a page on any other
 * origin is refused (cross-site WebSocket hijacking). This matters even with SameSite=Lax
 * cookies: a sibling subdomain is the same *site*, so the browser sends our cookie along.
 * No Origin at all means a same-origin polling request or a non-browser client, which has
 * to present the session cookie itself. Without a configured app URL, the Origin must
 * match the Host the handshake was sent to.
 */
export function originAllowed(origin: string | undefined, allowed: ReadonlySet<string>, host?: string): boolean {
  if (origin === undefined) return true;
  const o = originOf(origin);
  if (!o) return false; // "null" (sandboxed frames, file:), or garbage
  if (allowed.size > 0) return allowed.has(o);
  return !!host && new URL(o).host === host.toLowerCase();
}

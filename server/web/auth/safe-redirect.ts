import "server-only";

// Any origin we own would do: only paths that stay on it survive.
const BASE = "http://steward.invalid";

/**
 * The one check for every redirect target a client can choose (`callbackUrl` on the
 * sign-in and sign-up pages, next-auth's redirect callback, invitation links): it returns
 * a same-origin path ("/…") or "/".
 *
 * Browsers strip tabs and newlines from URLs and read `\` as `/`, so `/\t/evil.example`
 * becomes `//evil.example`: a prefix test on the raw string is not enough. The input is
 * refused outright when it holds a control character or a backslash, then parsed by the
 * same WHATWG URL algorithm browsers use; only a path on our own origin is kept, and it is
 * returned in its serialised form (percent-encoded ASCII, so it can always go in a
 * Location header), never the raw input. An absolute URL counts only when it is on
 * `ownUrl`'s origin (next-auth sends its own callbacks absolute), and becomes its path.
 */
export function safeRedirectPath(raw: unknown, ownUrl?: string): string {
  if (typeof raw !== "string" || raw.length === 0 || raw.length > 2048) return "/";
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(raw)) return "/";
  let input: string = raw;
  if (!input.startsWith("/")) {
    if (!ownUrl) return "/";
    try {
      const abs = new URL(input);
      if (abs.origin !== new URL(ownUrl).origin) return "/";
      input = `${abs.pathname}${abs.search}${abs.hash}`;
    } catch {
      return "/";
    }
  }
  let url: URL;
  try {
    url = new URL(input, BASE);
  } catch {
    return "/";
  }
  if (url.origin !== BASE) return "/";
  const path = `${url.pathname}${url.search}${url.hash}`;
  // "/.//evil.example" normalises to "//evil.example": protocol-relative, another host.
  if (!path.startsWith("/") || path.startsWith("//")) return "/";
  return path;
}

/**
 * next-auth's `redirect` callback: absolute URLs on our own base URL are accepted as their
 * path; everything else goes through safeRedirectPath.
 */
export function safeAuthRedirect({ url, baseUrl }: { url: string; baseUrl: string }): string {
  return `${baseUrl.replace(/\/+$/, "")}${safeRedirectPath(url, baseUrl)}`;
}

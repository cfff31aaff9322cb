import { describe, expect, it } from "vitest";
import { safeAuthRedirect, safeRedirectPath } from "./safe-redirect";

/** What a browser does with a Location value: resolve it against the page it is on. */
const landsOn = (location: string) => new URL(location, "http://localhost:3000/signin").origin;

describe("safeRedirectPath", () => {
  // Each raw value is what the sign-in page receives after URL-decoding `callbackUrl`.
  const hostile: [string, string][] = [
    ["the review's tab: /signin?callbackUrl=%2F%09%2Fevil.example", "/\t/evil.example"],
    ["newline", "/\n/evil.example"],
    ["carriage return", "/\r/evil.example"],
    ["CR LF header injection", "/\r\nSet-Cookie: x=1"],
    ["protocol-relative", "//evil.example"],
    ["backslash", "/\\evil.example"],
    ["backslash after slash", "\\/evil.example"],
    ["dot segment to protocol-relative", "/.//evil.example"],
    ["encoded dot segment", "/%2e//evil.example"],
    ["absolute URL", "https://evil.example/"],
    ["javascript:", "javascript:alert(1)"],
    ["data:", "data:text/html,<script>alert(1)</script>"],
    ["NUL", "/\u0000/evil.example"],
    ["leading space", " /evil"],
    ["empty", ""],
  ];
  it.each(hostile)("keeps %s on our origin", (_name, raw) => {
    const out = safeRedirectPath(raw);
    expect(out.startsWith("/")).toBe(true);
    expect(out.startsWith("//")).toBe(false);
    expect(landsOn(out)).toBe("http://localhost:3000");
  });

  it("refuses control characters outright instead of letting the parser strip them", () => {
    expect(safeRedirectPath("/\t/evil.example")).toBe("/");
    expect(safeRedirectPath("/w/demo\r\n")).toBe("/");
  });

  it("returns non-ASCII as percent-encoded ASCII, so a Location header can always carry it (no 500)", () => {
    const out = safeRedirectPath("/w/démo?q=ü#ß");
    expect(out).toBe("/w/d%C3%A9mo?q=%C3%BC#%C3%9F");
    expect(/^[\x21-\x7e]+$/.test(out)).toBe(true);
  });

  it("keeps ordinary same-site paths with their query and fragment", () => {
    expect(safeRedirectPath("/w/acme/models?tab=versions#v3")).toBe("/w/acme/models?tab=versions#v3");
    expect(safeRedirectPath("/invite/abc_DEF-123")).toBe("/invite/abc_DEF-123");
    expect(safeRedirectPath("/")).toBe("/");
  });

  it("answers / for anything that is not one string (a repeated query parameter is an array)", () => {
    expect(safeRedirectPath(["/a", "/b"])).toBe("/");
    expect(safeRedirectPath(undefined)).toBe("/");
    expect(safeRedirectPath("/" + "a".repeat(5000))).toBe("/");
  });
});

describe("safeAuthRedirect (next-auth's redirect callback)", () => {
  const baseUrl = "http://localhost:3000";
  it("accepts our own absolute URLs as their path", () => {
    expect(safeAuthRedirect({ url: "http://localhost:3000/w/acme?x=1", baseUrl })).toBe("http://localhost:3000/w/acme?x=1");
  });
  it.each([
    "https://evil.example/",
    "http://localhost:3000.evil.example/",
    "http://localhost:3001/",
    "/\t/evil.example",
    "//evil.example",
    "http://localhost:3000//evil.example",
    "not a url",
  ])("sends %j home", (url) => {
    const out = safeAuthRedirect({ url, baseUrl });
    expect(new URL(out).origin).toBe(baseUrl);
    expect(new URL(out).pathname).toBe("/");
  });
  it("sanitises the callback of a sign-out from an invitation", () => {
    expect(safeAuthRedirect({ url: "/signin?callbackUrl=/invite/tok", baseUrl })).toBe("http://localhost:3000/signin?callbackUrl=/invite/tok");
  });
});

describe("safeRedirectPath with the app's own URL", () => {
  const own = "http://localhost:3000";
  it("takes an absolute URL on our origin as its path (next-auth sends its callbacks absolute)", () => {
    expect(safeRedirectPath("http://localhost:3000/w/acme?x=1", own)).toBe("/w/acme?x=1");
  });
  it.each([
    "https://evil.example/w/acme",
    "http://localhost:3000.evil.example/",
    "http://localhost:3001/",
    "http://localhost:3000//evil.example",
    "http://localhost:3000/\t/evil.example",
    "javascript://localhost:3000/%0aalert(1)",
  ])("refuses %j", (url) => expect(safeRedirectPath(url, own)).toBe("/"));
});

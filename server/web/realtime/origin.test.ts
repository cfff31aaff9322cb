import { describe, expect, it } from "vitest";
import { allowedOrigins, originAllowed } from "./origin";

describe("socket.io handshake Origin", () => {
  const allowed = allowedOrigins("https://steward.example.com/", ["https://ops.example.com"]);

  it.each([
    ["the app's own origin", "https://steward.example.com", true],
    ["a configured extra origin", "https://ops.example.com", true],
    ["no Origin (same-origin polling, non-browser client)", undefined, true],
    ["another site", "https://evil.example", false],
    ["a sibling subdomain (same site, other origin)", "https://evil.example.com", false],
    ["the app's host over http", "http://steward.example.com", false],
    ["the app's host on another port", "https://steward.example.com:8443", false],
    ["a suffix trick", "https://steward.example.com.evil.example", false],
    ["null (sandboxed frame, file:)", "null", false],
    ["garbage", "not a url", false],
  ])("%s → %s", (_name, origin, ok) => {
    expect(originAllowed(origin, allowed, "steward.example.com")).toBe(ok);
  });

  it("admits the other loopback names of a loopback app URL, on the same port only", () => {
    const local = allowedOrigins("http://localhost:3000");
    expect(originAllowed("http://127.0.0.1:3000", local)).toBe(true);
    expect(originAllowed("http://[::1]:3000", local)).toBe(true);
    expect(originAllowed("http://127.0.0.1:3001", local)).toBe(false);
  });

  it("without a configured app URL, requires the Origin to match the Host the handshake was sent to", () => {
    expect(originAllowed("http://10.0.0.5:3000", new Set(), "10.0.0.5:3000")).toBe(true);
    expect(originAllowed("http://evil.example", new Set(), "10.0.0.5:3000")).toBe(false);
  });

  it("reads a comma-separated string the same as a list", () => {
    expect([...allowedOrigins(undefined, "https://a.example, https://b.example/x")]).toEqual(["https://a.example", "https://b.example"]);
  });
});

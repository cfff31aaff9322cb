import { unstable_doesMiddlewareMatch } from "next/experimental/testing/server";
import { describe, expect, it } from "vitest";
import { config } from "./proxy";

// Next.js buffers every body the proxy sees and cuts it at 10 MB: uploads must not go through it.
describe("proxy matcher", () => {
  const matches = (url: string) => unstable_doesMiddlewareMatch({ config, url });

  it("leaves the REST API out, so upload bodies stream to the route handler uncut", () => {
    expect(matches("/api/v1/workspaces/acme/models/credit/versions")).toBe(false);
    expect(matches("/api/v1/workspaces/acme/datasets/churn/versions")).toBe(false);
    expect(matches("/api/v1")).toBe(false);
  });

  it("still covers pages, tRPC and auth (their CSP nonce and security headers)", () => {
    expect(matches("/w/acme/models")).toBe(true);
    expect(matches("/api/trpc/models.list")).toBe(true);
    expect(matches("/api/v1x")).toBe(true);
    expect(matches("/")).toBe(true);
  });
});

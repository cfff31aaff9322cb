import { describe, expect, it } from "vitest";
import { appRouter } from "~/server/web/trpc/root";
import { openApiDocument } from "./openapi";
import { REST_ROUTES } from "./routes";

/*
 * Everything an operator clicks, a pipeline can do: every tRPC mutation is reachable through
 * a REST route (the route names it in `trpc`, and calls the same service function), or is
 * listed here with the reason it belongs to the browser. A new mutation with neither fails.
 */

/** Mutations with no REST route, and why. Keep it short: the default answer is a route. */
const BROWSER_ONLY: Record<string, string> = {
  "auth.signUp": "creating an account is a person's act in the sign-up form (or through an invitation link), before any token can exist",
  "auth.endAllSessions": "ends browser sessions; API tokens are revoked one by one",
  "auth.setPassword": "a single-sign-on account sets its signing password right after signing in through its identity provider",
  "accounts.setActive": "instance administration: API tokens act inside one workspace, accounts are instance-wide",
  "instance.update": "instance administration: API tokens act inside one workspace, the instance's settings are above them",
  "workspaces.create": "API tokens act inside one existing workspace; a person creates workspaces signed in",
  "invitations.accept": "the invitee is not a member yet, so has no token for the workspace: the invitation link is opened in a browser",
  "members.leave": "a person leaves a workspace themselves, signed in; a token that ended its own creator's membership would revoke itself mid-request",
  "tokens.create": "tokens are made by a signed-in person: a token cannot mint tokens (nor outlive the session that shows it once)",
  "tokens.revoke": "tokens are managed in Settings › API tokens by the person they belong to",
  "notifications.markRead": "personal UI state: the inbox's read marks",
  "deployments.tryPredict": "the deployment page's try-it form; scripts call the inference process's predict endpoints with a deployment key or a token",
};

/** Mutations whose REST routes come with other work of the same issue, and which. */
const ELSEWHERE: [RegExp, string][] = [];

type Proc = { _def: { type: string; procedure?: boolean; record?: Record<string, unknown> } };
function procedures(record: Record<string, unknown>, prefix = ""): { path: string; type: string }[] {
  return Object.entries(record).flatMap(([key, value]) => {
    const p = prefix ? `${prefix}.${key}` : key;
    const def = (value as Proc)._def as Proc["_def"] | undefined;
    if (def?.procedure) return [{ path: p, type: def.type }];
    return procedures(def?.record ?? (value as Record<string, unknown>), p);
  });
}

const all = procedures(appRouter._def.record);
const mutations = all.filter((p) => p.type === "mutation").map((p) => p.path);
const reached = new Map<string, string[]>();
for (const r of REST_ROUTES) for (const t of [r.trpc ?? []].flat()) reached.set(t, [...(reached.get(t) ?? []), `${r.method} ${r.path}`]);

describe("OpenAPI completeness", () => {
  it("every tRPC mutation has a REST route, or a reason to stay in the browser", () => {
    const missing = mutations.filter((m) => !reached.has(m) && !(m in BROWSER_ONLY) && !ELSEWHERE.some(([re]) => re.test(m)));
    expect(missing, "give these a REST route (with trpc: on route()) or list them in BROWSER_ONLY with the reason").toEqual([]);
    expect(Object.keys(BROWSER_ONLY).length, "browser-only is for a handful of mutations").toBeLessThanOrEqual(12);
  });

  it("the lists name only mutations that exist and have no route", () => {
    for (const m of Object.keys(BROWSER_ONLY)) {
      expect(mutations, `${m} is listed but is not a tRPC mutation`).toContain(m);
      expect(reached.get(m), `${m} is listed as without a route, but ${reached.get(m)?.join(", ")} reaches it`).toBeUndefined();
    }
  });

  it("every route's trpc names an existing procedure of the same kind (writes reach mutations, reads reach queries)", () => {
    const kinds = new Map(all.map((p) => [p.path, p.type]));
    for (const r of REST_ROUTES) {
      for (const t of [r.trpc ?? []].flat()) {
        expect(kinds.has(t), `${r.method} ${r.path}: trpc "${t}" is not a procedure`).toBe(true);
        expect(kinds.get(t), `${r.method} ${r.path} → ${t}`).toBe(r.method === "GET" ? "query" : "mutation");
      }
    }
  });

  it("every route is in the OpenAPI document with its permission, its path parameters and its body", () => {
    const doc = openApiDocument(REST_ROUTES, "http://localhost/api/v1");
    for (const r of REST_ROUTES) {
      const op = doc.paths[r.path]?.[r.method.toLowerCase()] as
        { "x-steward-permission"?: string; parameters: { name: string; in: string }[]; requestBody?: unknown } | undefined;
      expect(op, `${r.method} ${r.path} is missing from the document`).toBeTruthy();
      expect(op!["x-steward-permission"]).toBe(r.permission ?? undefined);
      const declared = op!.parameters.filter((p) => p.in === "path").map((p) => p.name);
      for (const [, name] of r.path.matchAll(/\{(\w+)\}/g)) expect(declared, `${r.method} ${r.path}: {${name}} has no schema`).toContain(name);
      if (r.body) expect(op!.requestBody, `${r.method} ${r.path} has no requestBody`).toBeTruthy();
    }
    // Method and path identify a route: no two routes shadow each other.
    const keys = REST_ROUTES.map((r) => `${r.method} ${r.path}`);
    expect(keys.filter((k, i) => keys.indexOf(k) !== i)).toEqual([]);
  });
});

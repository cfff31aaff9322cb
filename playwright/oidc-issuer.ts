import type { Server } from "node:http";
import Provider from "oidc-provider";

/**
 * A real OpenID Connect issuer on loopback (panva's oidc-provider, with its built-in
 * development login and consent pages): the login name typed on its form becomes the
 * account's subject and e-mail. Stands in for the outside identity provider.
 */
export async function startOidcIssuer(port: number, redirectUris: string[]) {
  const issuer = `http://localhost:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: "steward-e2e",
        client_secret: "steward-e2e-secret",
        redirect_uris: redirectUris,
        grant_types: ["authorization_code"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic",
      },
    ],
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
    findAccount: (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: () => ({ sub: id, email: id, email_verified: true, name: `OIDC ${id.split("@")[0]}` }),
    }),
    features: { devInteractions: { enabled: true } },
    cookies: { keys: ["steward-e2e-cookie-key"] },
    pkce: { required: () => true },
  });
  // An issuer fault shows in the test's output, not only as the provider's "oops! something went wrong".
  provider.on("server_error", (_ctx: unknown, err: Error) => console.error("[oidc-issuer]", err));
  const server: Server = await new Promise((resolve) => {
    const s = provider.listen(port, "127.0.0.1", () => resolve(s));
  });
  return {
    issuer,
    clientId: "steward-e2e",
    clientSecret: "steward-e2e-secret",
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

import "server-only";
import type { NextAuthOptions } from "next-auth";
import CredentialsProvider from "next-auth/providers/credentials";
import { env, oidcEnabled } from "~/env";
import { mutate } from "~/server/audit/mutate";
import { AppError } from "~/server/errors";
import { decodeSession, encodeSession } from "~/server/platform/keys";
import { authenticate, currentSessionVersion, recordSignIn, upsertOidcUser } from "~/server/identity/users.service";

import { CLIENT_IP_HEADER } from "./constants";
import { safeAuthRedirect } from "./safe-redirect";
import { endSession, SESSION_MAX_AGE_SECONDS, startSession } from "~/server/auth/sessions";
export { CLIENT_IP_HEADER };

function header(headers: unknown, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  const v = (headers as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(v) ? v[0] : v;
}

const providers: NextAuthOptions["providers"] = [
  CredentialsProvider({
    id: "credentials",
    name: "E-mail and password",
    credentials: { email: { label: "E-mail", type: "email" }, password: { label: "Password", type: "password" } },
    async authorize(credentials, req) {
      const ip = header(req?.headers, CLIENT_IP_HEADER);
      try {
        const user = await authenticate(credentials, { ip, requestId: header(req?.headers, "x-request-id") });
        return { id: user.id, email: user.email, name: user.name };
      } catch (err) {
        // next-auth passes the message to the sign-in page; only AppError messages are safe to show.
        if (err instanceof AppError) throw new Error(err.message, { cause: err });
        console.error("[auth] sign-in failed unexpectedly:", err);
        throw new Error("Sign-in is unavailable right now. Please try again.", { cause: err });
      }
    },
  }),
];

type OidcClaims = { sub: string; email?: string; name?: string; email_verified?: boolean };

/**
 * Many issuers put only `sub` in the ID token and the rest behind the userinfo endpoint,
 * so after the ID token is validated, missing claims are fetched from there (same subject).
 */
async function completeClaims(issuer: string, claims: OidcClaims, accessToken?: string): Promise<OidcClaims> {
  if (claims.email || !accessToken) return claims;
  const discovery = (await fetch(`${issuer}/.well-known/openid-configuration`).then((r) => r.json())) as { userinfo_endpoint?: string };
  if (!discovery.userinfo_endpoint) return claims;
  const info = (await fetch(discovery.userinfo_endpoint, { headers: { authorization: `Bearer ${accessToken}` } }).then((r) => r.json())) as OidcClaims;
  return info.sub === claims.sub ? { ...info, ...claims, email: info.email, email_verified: info.email_verified } : claims;
}

if (oidcEnabled) {
  const issuer = env.OIDC_ISSUER!.replace(/\/$/, "");
  providers.push({
    id: "oidc",
    name: env.OIDC_NAME,
    type: "oauth",
    wellKnown: `${issuer}/.well-known/openid-configuration`,
    clientId: env.OIDC_CLIENT_ID,
    clientSecret: env.OIDC_CLIENT_SECRET,
    authorization: { params: { scope: "openid email profile" } },
    idToken: true,
    checks: ["pkce", "state"],
    async profile(idClaims: OidcClaims, tokens: { access_token?: string }) {
      const c = await completeClaims(issuer, idClaims, tokens.access_token);
      // Accounts are matched by e-mail, so only a verified address may claim one.
      const email = c.email && c.email_verified !== false ? c.email : null;
      return { id: c.sub, email, name: c.name ?? c.email ?? c.sub };
    },
  });
}

export const authOptions: NextAuthOptions = {
  secret: env.AUTH_SECRET,
  // AUTH_SECRETS: the first secret encodes, every secret of the ring decodes (next-auth v4 takes one secret).
  jwt: { encode: (p) => encodeSession(p), decode: (p) => decodeSession(p) },
  session: { strategy: "jwt", maxAge: SESSION_MAX_AGE_SECONDS },
  pages: { signIn: "/signin", error: "/signin" },
  providers,
  callbacks: {
    // Every callbackUrl next-auth accepts (sign-in, sign-out, OAuth return) stays on our origin.
    redirect: safeAuthRedirect,
    async signIn({ account, user }) {
      if (account?.provider !== "oidc") return true;
      // profile() above leaves the e-mail out unless the issuer says it is verified.
      return Boolean(user.email);
    },
    async jwt({ token, user, account }) {
      if (user && account?.provider === "oidc") {
        const local = await upsertOidcUser(user.email!, user.name ?? "");
        await recordSignIn({ type: "user", userId: local.id, email: local.email }, "oidc");
        token.sub = local.id;
        token.email = local.email;
        token.name = local.name;
        token.sv = await currentSessionVersion(local.id);
        token.sid = await startSession(local.id);
      } else if (user) {
        token.sub = user.id;
        token.email = user.email;
        token.name = user.name;
        // "Sign out everywhere" and deactivation move the account's version: older tokens stop working.
        token.sv = await currentSessionVersion(user.id);
        // The server-side record of this session: sign-out deletes it, and a token without
        // a live record is refused everywhere (server/auth/sessions.ts).
        token.sid = await startSession(user.id);
      }
      return token;
    },
    session({ session, token }) {
      session.user = {
        id: token.sub!,
        email: token.email ?? "",
        name: token.name ?? "",
        sv: typeof token.sv === "number" ? token.sv : 0,
        sid: typeof token.sid === "string" ? token.sid : "",
      };
      return session;
    },
  },
  events: {
    async signOut({ token }) {
      // Revoke first: the cookie is only cleared in this browser, a copy must stop working too.
      await endSession(token?.sid).catch((err: unknown) => console.error("[auth] could not revoke the session:", err));
      if (!token?.sub || !token.email) return;
      await mutate({ type: "user", userId: token.sub, email: token.email }, async (_tx, audit) =>
        audit({ action: "user.signed_out", target: { type: "user", id: token.sub }, workspaceId: null }),
      ).catch((err: unknown) => console.error("[auth] could not record sign-out:", err));
    },
  },
};

import "next-auth";
import "next-auth/jwt";

declare module "next-auth" {
  interface Session {
    /**
     * `sv`: the account's session version when this session began (see users.sessionVersion);
     * `sid`: this session's row in auth_sessions, deleted at sign-out.
     */
    user: { id: string; email: string; name: string; sv: number; sid: string };
  }
}

declare module "next-auth/jwt" {
  interface JWT {
    sv?: number;
    sid?: string;
  }
}

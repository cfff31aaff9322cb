import "next-auth";
import "next-auth/jwt";

declare module "next-auth" {
  interface Session {
    /** `sv`: the account's session version when this session began (see users.sessionVersion). */
    user: { id: string; email: string; name: string; sv: number };
  }
}

declare module "next-auth/jwt" {
  interface JWT {
    sv?: number;
  }
}

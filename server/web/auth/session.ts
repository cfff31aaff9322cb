import "server-only";
import { getServerSession, type Session } from "next-auth";
import type { SessionUser } from "~/server/web/trpc/context";
import { authOptions } from "./options";
import { liveSessionUser } from "~/server/auth/sessions";

/**
 * The user of a decoded next-auth session if that session is still live: a session signed
 * out (even from a copied cookie), ended by "sign out everywhere" or a password change, or
 * of a deactivated account, is refused at once.
 */
export async function liveUserOfSession(session: Pick<Session, "user"> | null): Promise<SessionUser | null> {
  const user = session?.user as { id?: string; sv?: number; sid?: string } | undefined;
  if (!user?.id) return null;
  const live = await liveSessionUser({ sub: user.id, sv: user.sv, sid: user.sid });
  return live ? { id: live.id, email: live.email, sid: live.sid } : null;
}

/** The signed-in user in a server component or route handler (tRPC, REST, pages), or null. */
export async function getSessionUser(): Promise<SessionUser | null> {
  return liveUserOfSession(await getServerSession(authOptions));
}

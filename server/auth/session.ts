import "server-only";
import { getServerSession } from "next-auth";
import type { SessionUser } from "~/server/trpc/context";
import { sessionIsLive } from "~/server/identity/users.service";
import { authOptions } from "./options";

/** The signed-in user in a server component or route handler, or null. */
export async function getSessionUser(): Promise<SessionUser | null> {
  const session = await getServerSession(authOptions);
  const user = session?.user as { id?: string; email?: string; sv?: number } | undefined;
  if (!user?.id) return null;
  // A deactivated account, or a session ended by "sign out everywhere", is signed out at once.
  if (!(await sessionIsLive(user.id, user.sv ?? 0))) return null;
  return { id: user.id, email: user.email ?? "" };
}

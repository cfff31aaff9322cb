import "server-only";
import { getServerSession } from "next-auth";
import type { SessionUser } from "~/server/trpc/context";
import { authOptions } from "./options";

/** The signed-in user in a server component or route handler, or null. */
export async function getSessionUser(): Promise<SessionUser | null> {
  const session = await getServerSession(authOptions);
  const user = session?.user as { id?: string; email?: string } | undefined;
  return user?.id ? { id: user.id, email: user.email ?? "" } : null;
}

import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { WorkspacesPage } from "~/components/workspaces/workspaces-page";
import { getSessionUser } from "~/server/web/auth/session";

export const metadata: Metadata = { title: "Workspaces" };

export default async function Page() {
  const user = await getSessionUser();
  if (!user) redirect("/signin?callbackUrl=/workspaces");
  return <WorkspacesPage email={user.email} />;
}

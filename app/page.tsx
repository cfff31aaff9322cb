import { redirect } from "next/navigation";
import { getSessionUser } from "~/server/web/auth/session";
import { listWorkspacesFor } from "~/server/identity/workspaces.service";

export default async function Index() {
  const user = await getSessionUser();
  if (!user) redirect("/signin");
  const workspaces = await listWorkspacesFor(user.id);
  redirect(workspaces.length === 1 ? `/w/${workspaces[0]!.slug}` : "/workspaces");
}

import { notFound, redirect } from "next/navigation";
import { RealtimeProvider } from "~/components/realtime/realtime-provider";
import { AppShell } from "~/components/shell/app-shell";
import { WorkspaceProvider } from "~/components/shell/workspace-context";
import { getSessionUser } from "~/server/web/auth/session";
import { findUser } from "~/server/identity/users.service";
import { findMembership } from "~/server/identity/workspaces.service";

export default async function WorkspaceLayout({ children, params }: { children: React.ReactNode; params: Promise<{ slug: string }> }) {
  const { slug } = await params;
  const session = await getSessionUser();
  if (!session) redirect(`/signin?callbackUrl=${encodeURIComponent(`/w/${slug}`)}`);
  const [user, ws] = await Promise.all([findUser(session.id), findMembership(session.id, { slug })]);
  if (!user) redirect("/signin");
  // Not a member and not existing look the same.
  if (!ws) notFound();
  return (
    <WorkspaceProvider workspace={ws} user={user}>
      <RealtimeProvider workspaceId={ws.id}>
        <AppShell>{children}</AppShell>
      </RealtimeProvider>
    </WorkspaceProvider>
  );
}

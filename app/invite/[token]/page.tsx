import type { Metadata } from "next";
import { AcceptInvitation } from "~/components/workspaces/accept-invitation";
import { AuthCard } from "~/components/auth/auth-card";
import { getSessionUser } from "~/server/web/auth/session";
import { previewInvitation } from "~/server/identity/members.service";
import { AppError } from "~/server/errors";
import { ROLE_LABELS } from "~/server/shared/permissions";
import Link from "next/link";

export const metadata: Metadata = { title: "Invitation" };

export default async function InvitePage({ params }: { params: Promise<{ token: string }> }) {
  const { token } = await params;
  const user = await getSessionUser();
  let preview;
  try {
    preview = await previewInvitation(token);
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return (
      <AuthCard title="This invitation cannot be used" subtitle={err.message}>
        <Link href="/" className="text-sm font-medium text-accent hover:underline">
          Go to Steward
        </Link>
      </AuthCard>
    );
  }
  const here = `/invite/${token}`;
  return (
    <AuthCard title={`Join ${preview.workspaceName}`} subtitle={`${preview.invitedBy} invited ${preview.email} as ${ROLE_LABELS[preview.role]}.`}>
      {user ? (
        <AcceptInvitation token={token} signedInAs={user.email} invitedEmail={preview.email} />
      ) : (
        <div className="space-y-3 text-sm">
          <p className="text-muted">Sign in or create an account with {preview.email} to accept.</p>
          <div className="flex gap-2">
            <Link
              className="inline-flex h-9 flex-1 items-center justify-center rounded-md bg-accent px-4 font-medium text-accent-fg"
              href={`/signup?callbackUrl=${encodeURIComponent(here)}`}
            >
              Create account
            </Link>
            <Link
              className="inline-flex h-9 flex-1 items-center justify-center rounded-md border border-border px-4 font-medium"
              href={`/signin?callbackUrl=${encodeURIComponent(here)}`}
            >
              Sign in
            </Link>
          </div>
        </div>
      )}
    </AuthCard>
  );
}

"use client";

import { useMutation } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { signOut } from "next-auth/react";
import { errorMessage, useTRPC } from "~/components/trpc/client";
import { Button } from "~/components/ui/button";

export function AcceptInvitation({ token, signedInAs, invitedEmail }: { token: string; signedInAs: string; invitedEmail: string }) {
  const trpc = useTRPC();
  const router = useRouter();
  const accept = useMutation(trpc.invitations.accept.mutationOptions({ onSuccess: (r) => router.push(`/w/${r.slug}`) }));
  if (signedInAs !== invitedEmail) {
    return (
      <div className="space-y-3 text-sm">
        <p role="alert" className="text-danger">
          You are signed in as {signedInAs}, but this invitation is for {invitedEmail}.
        </p>
        <Button variant="secondary" onClick={() => void signOut({ callbackUrl: `/signin?callbackUrl=/invite/${token}` })}>
          Sign in as {invitedEmail}
        </Button>
      </div>
    );
  }
  return (
    <div className="space-y-3">
      {accept.isError && (
        <p role="alert" className="text-sm text-danger">
          {errorMessage(accept.error)}
        </p>
      )}
      <Button className="w-full" loading={accept.isPending || accept.isSuccess} onClick={() => accept.mutate({ token })}>
        Accept invitation
      </Button>
    </div>
  );
}

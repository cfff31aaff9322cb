"use client";

import { useMutation, useQuery } from "@tanstack/react-query";
import { FileSignature, KeyRound } from "lucide-react";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useEffect, useRef, useState } from "react";
import { toast } from "sonner";
import { useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, useTRPC } from "~/components/trpc/client";
import { Button } from "~/components/ui/button";
import { Dialog } from "~/components/ui/dialog";
import { Field, Input } from "~/components/ui/field";
import type { Room } from "./room-types";

// ---------------------------------------------------------------------------
// Signing
// ---------------------------------------------------------------------------

export function SignDialog({ room, decision, onClose }: { room: Room; decision: "approve" | "reject" | null; onClose: () => void }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const [meaning, setMeaning] = useState("");
  const [reason, setReason] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const sign = useMutation(
    trpc.reviews.sign.mutationOptions({
      onSuccess: (r) => {
        toast.success(
          r.outcome === "approved"
            ? `Approved: ${room.model.name} v${room.version.version} is now ${room.alias}.`
            : r.outcome === "rejected"
              ? "Rejected."
              : "Signed. The request still needs what is left on its checklist.",
        );
        setPassword("");
        onClose();
      },
      onError: (e) => (setError(errorMessage(e)), setPassword("")),
    }),
  );
  const me = useQuery(trpc.auth.me.queryOptions());
  const methods = useQuery(trpc.reviews.signingMethods.queryOptions({ workspaceId: workspace.id }));
  const sso = methods.data?.sso;
  const hasPassword = me.data?.hasPassword ?? true;
  const pathname = usePathname();
  const startSso = useMutation(
    trpc.reviews.startSsoSignature.mutationOptions({
      // The identity provider asks for the signer's credentials again, then sends the browser back here.
      onSuccess: (r) => window.location.assign(r.authorizeUrl),
      onError: (e) => setError(errorMessage(e)),
    }),
  );
  const viaSso = () =>
    startSso.mutate({ workspaceId: workspace.id, number: room.number, decision: decision!, meaning, reason: reason || undefined, returnTo: pathname });
  const defaultMeaning = decision === "approve" ? `Approved for ${room.alias} release` : `Rejected for ${room.alias} release`;
  useEffect(() => {
    setMeaning(defaultMeaning);
    setError(null);
  }, [defaultMeaning]);
  return (
    <Dialog
      open={!!decision}
      onOpenChange={(o) => !o && onClose()}
      title={decision === "approve" ? "Approve with your signature" : "Reject with your signature"}
      description={`Your signature binds the artifact (sha256 ${room.version.sha256.slice(0, 12)}…) and the evidence shown here (${room.evidenceHash.slice(0, 12)}…). It cannot be changed afterwards.`}
    >
      <form
        className="space-y-3"
        onSubmit={(e) => {
          e.preventDefault();
          if (!hasPassword) return viaSso();
          sign.mutate({ workspaceId: workspace.id, number: room.number, decision: decision!, meaning, reason: reason || undefined, password });
        }}
      >
        <Field label="Meaning of your signature" htmlFor="sig-meaning">
          <Input id="sig-meaning" value={meaning} onChange={(e) => setMeaning(e.target.value)} />
        </Field>
        {decision === "reject" && (
          <Field label="Reason" htmlFor="sig-reason" hint="Shown to the requester and kept on the record.">
            <textarea
              id="sig-reason"
              className="h-20 w-full rounded-md border border-border bg-panel p-2 text-sm"
              value={reason}
              onChange={(e) => setReason(e.target.value)}
            />
          </Field>
        )}
        {hasPassword ? (
          <Field label="Your password" htmlFor="sig-password" hint="Signing asks for your password again.">
            <Input id="sig-password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} />
          </Field>
        ) : sso?.enabled ? (
          <p className="rounded-md border border-border bg-subtle p-3 text-sm" data-testid="sso-sign-note">
            Your account signs in through {sso.provider}. To sign, {sso.provider} asks for your credentials again, Steward shows you what you are signing to
            confirm, and you come back here.
          </p>
        ) : (
          <p role="alert" className="text-sm text-danger">
            Your account has no password and single sign-on is not configured: set a password in Settings › Accounts to sign.
          </p>
        )}
        {error && (
          <p role="alert" className="text-sm text-danger" data-testid="sign-error">
            {error}
          </p>
        )}
        <div className="flex flex-wrap items-center justify-end gap-2">
          {hasPassword && sso?.enabled && (
            <Button type="button" variant="ghost" className="mr-auto" loading={startSso.isPending} disabled={meaning.trim().length < 3} onClick={viaSso}>
              <KeyRound className="size-4" aria-hidden /> Confirm with {sso.provider} instead
            </Button>
          )}
          <Button type="button" variant="ghost" onClick={onClose}>
            Cancel
          </Button>
          {hasPassword ? (
            <Button
              type="submit"
              variant={decision === "reject" ? "danger" : "primary"}
              loading={sign.isPending}
              disabled={!password || meaning.trim().length < 3}
            >
              <FileSignature className="size-4" aria-hidden /> Sign and {decision === "approve" ? "approve" : "reject"}
            </Button>
          ) : (
            <Button
              type="submit"
              variant={decision === "reject" ? "danger" : "primary"}
              loading={startSso.isPending}
              disabled={!sso?.enabled || meaning.trim().length < 3}
            >
              <KeyRound className="size-4" aria-hidden /> Continue to {sso?.provider ?? "single sign-on"} to {decision === "approve" ? "approve" : "reject"}
            </Button>
          )}
        </div>
      </form>
    </Dialog>
  );
}

/**
 * Back from the identity provider (`?esign=<challenge>`): says whether the signature was
 * recorded, or why not, then takes the parameter out of the address.
 */
export function useSsoSignatureOutcome(number: number) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const search = useSearchParams();
  const router = useRouter();
  const pathname = usePathname();
  const challengeId = search.get("esign");
  const shown = useRef<string | null>(null);
  const status = useQuery({
    ...trpc.reviews.ssoSignatureStatus.queryOptions({ workspaceId: workspace.id, number, challengeId: challengeId ?? "" }),
    enabled: !!challengeId,
  });
  useEffect(() => {
    const s = status.data;
    if (!challengeId || !s || shown.current === challengeId) return;
    shown.current = challengeId;
    if (s.status === "signed")
      toast.success(s.outcome === "approved" ? "Signed: approved, and the alias moved." : s.outcome === "rejected" ? "Signed: rejected." : "Signed.");
    else toast.error(s.error ?? "The signature was not recorded.");
    router.replace(pathname, { scroll: false });
  }, [status.data, challengeId, router, pathname]);
}

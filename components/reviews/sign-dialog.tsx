"use client";

import { useMutation } from "@tanstack/react-query";
import { FileSignature } from "lucide-react";
import { useEffect, useState } from "react";
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
        <Field label="Your password" htmlFor="sig-password" hint="Signing asks for your password again.">
          <Input id="sig-password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} />
        </Field>
        {error && (
          <p role="alert" className="text-sm text-danger" data-testid="sign-error">
            {error}
          </p>
        )}
        <div className="flex justify-end gap-2">
          <Button type="button" variant="ghost" onClick={onClose}>
            Cancel
          </Button>
          <Button
            type="submit"
            variant={decision === "reject" ? "danger" : "primary"}
            loading={sign.isPending}
            disabled={!password || meaning.trim().length < 3}
          >
            <FileSignature className="size-4" aria-hidden /> Sign and {decision === "approve" ? "approve" : "reject"}
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

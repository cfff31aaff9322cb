"use client";

import { useMutation, useQuery } from "@tanstack/react-query";
import { signOut } from "next-auth/react";
import { useState } from "react";
import { toast } from "sonner";
import { useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, useTRPC } from "~/components/trpc/client";
import { Badge } from "~/components/ui/badge";
import { Button } from "~/components/ui/button";
import { Card, CardHeader } from "~/components/ui/card";
import { Field, Input } from "~/components/ui/field";
import { TimeAgo } from "~/components/ui/time";

/** Your sessions, and (for Steward administrators) every account on this instance. */
function SetPassword() {
  const trpc = useTRPC();
  const me = useQuery(trpc.auth.me.queryOptions());
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const set = useMutation(
    trpc.auth.setPassword.mutationOptions({
      onSuccess: () => (toast.success("Password set: you can sign reviews."), setPassword(""), void me.refetch()),
      onError: (e) => setError(errorMessage(e)),
    }),
  );
  if (!me.data || me.data.hasPassword) return null;
  return (
    <Card>
      <CardHeader title="A password for signing" description="You sign in through single sign-on. E-signatures ask for a password again: set one here." />
      <form
        className="flex items-end gap-2 px-5 py-4"
        onSubmit={(e) => {
          e.preventDefault();
          set.mutate({ password });
        }}
      >
        <Field label="New password" htmlFor="set-password" error={error ?? undefined}>
          <Input id="set-password" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />
        </Field>
        <Button type="submit" size="sm" loading={set.isPending} disabled={!password}>
          Set password
        </Button>
      </form>
    </Card>
  );
}

export function AccountsSettings() {
  const { user } = useWorkspace();
  const trpc = useTRPC();
  const accounts = useQuery({ ...trpc.accounts.list.queryOptions(), retry: false });
  const setActive = useMutation(
    trpc.accounts.setActive.mutationOptions({
      onSuccess: (r) => toast.success(r.active ? "Account reactivated." : "Account deactivated: its sessions and tokens stopped working."),
      onError: (e) => toast.error(errorMessage(e)),
    }),
  );
  const endAll = useMutation(
    trpc.auth.endAllSessions.mutationOptions({ onSuccess: () => void signOut({ callbackUrl: "/signin" }), onError: (e) => toast.error(errorMessage(e)) }),
  );
  return (
    <div className="space-y-6">
      <SetPassword />
      <Card>
        <CardHeader title="Your sessions" description="If a device or password may be compromised, end every session of your account at once (this one too)." />
        <div className="px-5 py-4">
          <Button variant="danger" size="sm" loading={endAll.isPending} onClick={() => endAll.mutate()}>
            Sign out everywhere
          </Button>
        </div>
      </Card>
      <Card>
        <CardHeader
          title="Accounts on this Steward"
          description="Deactivating takes effect at once: no sign-in, no live session, no API token, no signature."
        />
        {accounts.isError ? (
          <p className="px-5 py-4 text-sm text-muted">Only Steward administrators manage accounts.</p>
        ) : (
          <ul className="divide-y divide-border text-sm" data-testid="accounts">
            {(accounts.data ?? []).map((a) => (
              <li key={a.id} className="flex items-center justify-between px-5 py-2">
                <span>
                  {a.name} <span className="text-xs text-muted">{a.email}</span> {a.instanceAdmin && <Badge tone="serving">administrator</Badge>}{" "}
                  {a.deactivatedAt && <Badge tone="stale">deactivated</Badge>}
                </span>
                <span className="flex items-center gap-3 text-xs text-muted">
                  {a.lastSignInAt ? (
                    <span>
                      signed in <TimeAgo date={a.lastSignInAt} />
                    </span>
                  ) : (
                    "never signed in"
                  )}
                  {a.id !== user.id && (
                    <Button
                      size="sm"
                      variant={a.deactivatedAt ? "secondary" : "ghost"}
                      onClick={() => setActive.mutate({ userId: a.id, active: !!a.deactivatedAt })}
                    >
                      {a.deactivatedAt ? "Reactivate" : "Deactivate"}
                    </Button>
                  )}
                </span>
              </li>
            ))}
          </ul>
        )}
      </Card>
    </div>
  );
}

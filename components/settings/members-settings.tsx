"use client";

import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Copy, UserPlus } from "lucide-react";
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { useEffect, useState } from "react";
import { toast } from "sonner";
import { useCan, useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, fieldErrors, useTRPC } from "~/components/trpc/client";
import { Badge } from "~/components/ui/badge";
import { Button } from "~/components/ui/button";
import { Card, CardHeader } from "~/components/ui/card";
import { Dialog } from "~/components/ui/dialog";
import { Field, Input, Select } from "~/components/ui/field";
import { EmptyState } from "~/components/ui/states";
import { QueryWait, ready } from "~/components/ui/query-state";
import { TimeAgo } from "~/components/ui/time";
import { ROLE_DESCRIPTIONS, ROLE_LABELS, ROLES, type Role } from "~/server/shared/permissions";
import { InviteMemberInput } from "~/server/shared/identity.schema";
import { ConfirmButton } from "~/components/ui/confirm-dialog";
import { LoadMore, PAGED, pagedItems } from "~/components/ui/load-more";

/** The palette's ?invite= requests already answered (each carries a new value). */
const askedInvites = new Set<string>();

function InviteDialog({ ask }: { ask: string | null }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const qc = useQueryClient();
  const [open, setOpen] = useState(false);
  useEffect(() => {
    // The palette's ?invite=<new value> opens the form once; the value leaves the URL, so a reload does not.
    if (!ask || askedInvites.has(ask)) return;
    askedInvites.add(ask);
    setOpen(true);
    const url = new URL(window.location.href);
    url.searchParams.delete("invite");
    window.history.replaceState(null, "", url);
  }, [ask]);
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("ml_engineer");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [link, setLink] = useState<string | null>(null);
  const invite = useMutation(trpc.members.invite.mutationOptions());
  const grantable = ROLES.filter((r) => r !== "owner" || workspace.role === "owner");

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    const parsed = InviteMemberInput.safeParse({ workspaceId: workspace.id, email, role });
    if (!parsed.success) {
      setErrors(Object.fromEntries(parsed.error.issues.map((i) => [String(i.path[0]), i.message])));
      return;
    }
    setErrors({});
    try {
      const res = await invite.mutateAsync(parsed.data);
      setLink(`${window.location.origin}/invite/${res.token}`);
      void qc.invalidateQueries({ queryKey: trpc.members.invitations.queryKey({ workspaceId: workspace.id }) });
    } catch (err) {
      const f = fieldErrors(err);
      setErrors(Object.keys(f).length ? f : { form: errorMessage(err) });
    }
  }

  function reset(next: boolean) {
    setOpen(next);
    if (!next) {
      setLink(null);
      setEmail("");
      setErrors({});
    }
  }

  return (
    <>
      <Button onClick={() => setOpen(true)}>
        <UserPlus className="size-4" aria-hidden /> Invite member
      </Button>
      <Dialog
        open={open}
        onOpenChange={reset}
        title="Invite a member"
        description="They join with the role you choose. The link works once and expires in 7 days."
      >
        {link ? (
          <div className="space-y-3">
            <p className="text-sm">Send this link to {email}. It is shown only now.</p>
            <div className="flex gap-2">
              <Input readOnly value={link} aria-label="Invitation link" data-testid="invite-link" onFocus={(e) => e.currentTarget.select()} />
              <Button
                variant="secondary"
                aria-label="Copy link"
                onClick={() => void navigator.clipboard?.writeText(link).then(() => toast.success("Link copied."))}
              >
                <Copy className="size-4" />
              </Button>
            </div>
            <div className="flex justify-end">
              <Button variant="secondary" onClick={() => reset(false)}>
                Done
              </Button>
            </div>
          </div>
        ) : (
          <form onSubmit={submit} noValidate className="space-y-4">
            <Field label="E-mail" htmlFor="invite-email" error={errors.email}>
              <Input id="invite-email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} invalid={!!errors.email} autoFocus />
            </Field>
            <Field label="Role" htmlFor="invite-role" error={errors.role} hint={ROLE_DESCRIPTIONS[role]}>
              <Select id="invite-role" className="w-full" value={role} onChange={(e) => setRole(e.target.value as Role)}>
                {grantable.map((r) => (
                  <option key={r} value={r}>
                    {ROLE_LABELS[r]}
                  </option>
                ))}
              </Select>
            </Field>
            {errors.form && (
              <p role="alert" className="text-sm text-danger">
                {errors.form}
              </p>
            )}
            <div className="flex justify-end gap-2">
              <Button type="button" variant="secondary" onClick={() => reset(false)}>
                Cancel
              </Button>
              <Button type="submit" loading={invite.isPending}>
                Create invitation
              </Button>
            </div>
          </form>
        )}
      </Dialog>
    </>
  );
}

function PendingInvitations() {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const qc = useQueryClient();
  const list = useQuery(trpc.members.invitations.queryOptions({ workspaceId: workspace.id }));
  const revoke = useMutation(
    trpc.members.revokeInvitation.mutationOptions({
      onSuccess: () => {
        toast.success("Invitation revoked.");
        void qc.invalidateQueries({ queryKey: trpc.members.invitations.queryKey({ workspaceId: workspace.id }) });
      },
      onError: (err) => toast.error(errorMessage(err)),
    }),
  );
  if (!ready(list)) return <QueryWait query={list} rows={2} />;
  if (list.data.length === 0) return <EmptyState title="No open invitations" />;
  return (
    <table className="w-full text-sm">
      <thead className="bg-subtle text-left text-xs text-muted">
        <tr>
          <th className="px-5 py-2 font-medium">E-mail</th>
          <th className="px-5 py-2 font-medium">Role</th>
          <th className="px-5 py-2 font-medium">Invited by</th>
          <th className="px-5 py-2 font-medium">Expires</th>
          <th className="px-5 py-2" />
        </tr>
      </thead>
      <tbody className="divide-y divide-border">
        {list.data.map((i) => (
          <tr key={i.id}>
            <td className="px-5 py-2.5">{i.email}</td>
            <td className="px-5 py-2.5">
              <Badge tone="pending">{ROLE_LABELS[i.role]}</Badge>
            </td>
            <td className="px-5 py-2.5 text-muted">{i.invitedBy}</td>
            <td className="px-5 py-2.5 text-muted">
              <TimeAgo date={i.expiresAt} />
            </td>
            <td className="px-5 py-2.5 text-right">
              <Button variant="ghost" size="sm" onClick={() => revoke.mutate({ workspaceId: workspace.id, invitationId: i.id })}>
                Revoke
              </Button>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function MembersSettings() {
  const { workspace, user } = useWorkspace();
  const trpc = useTRPC();
  const qc = useQueryClient();
  const canManage = useCan("member:manage");
  // ?invite=<anything> (the palette's "Invite a member…") opens the invitation form; a new value opens it again.
  const invite = useSearchParams().get("invite");
  // Paged by name (100 at a time), as GET /members: a workspace of thousands opens at once.
  const members = useInfiniteQuery(trpc.members.page.infiniteQueryOptions({ workspaceId: workspace.id, limit: 100 }, PAGED));
  const rows = pagedItems(members);
  const onDone = {
    onSuccess: () => void qc.invalidateQueries({ queryKey: trpc.members.pathKey() }),
    onError: (err: unknown) => toast.error(errorMessage(err)),
  };
  const changeRole = useMutation(
    trpc.members.changeRole.mutationOptions({
      ...onDone,
      onSuccess: () => {
        toast.success("Role changed.");
        onDone.onSuccess();
      },
    }),
  );
  const remove = useMutation(
    trpc.members.remove.mutationOptions({
      ...onDone,
      onSuccess: () => {
        toast.success("Member removed.");
        onDone.onSuccess();
      },
    }),
  );

  return (
    <div className="space-y-6">
      <Card>
        <CardHeader
          title="Members"
          description="Everyone in this workspace and what their role lets them do."
          actions={canManage ? <InviteDialog ask={invite} /> : undefined}
        />
        {!ready(members) ? (
          <QueryWait query={members} rows={4} />
        ) : (
          <table className="w-full text-sm" data-testid="members-table">
            <thead className="bg-subtle text-left text-xs text-muted">
              <tr>
                <th className="px-5 py-2 font-medium">Name</th>
                <th className="px-5 py-2 font-medium">E-mail</th>
                <th className="px-5 py-2 font-medium">Role</th>
                <th className="px-5 py-2 font-medium">Last sign-in</th>
                {canManage && <th className="px-5 py-2" />}
              </tr>
            </thead>
            <tbody className="divide-y divide-border">
              {rows.map((m) => {
                const editable = canManage && m.userId !== user.id && (m.role !== "owner" || workspace.role === "owner");
                return (
                  <tr key={m.userId} data-email={m.email}>
                    <td className="px-5 py-2.5 font-medium">
                      {m.name} {m.userId === user.id && <span className="text-xs text-muted">(you)</span>}
                    </td>
                    <td className="px-5 py-2.5 text-muted">
                      {m.email}{" "}
                      <Link
                        className="ml-1 text-xs text-accent hover:underline"
                        href={`/w/${workspace.slug}/governance/audit?q=${encodeURIComponent(m.email)}`}
                      >
                        audit
                      </Link>
                    </td>
                    <td className="px-5 py-2.5">
                      {editable ? (
                        <Select
                          aria-label={`Role of ${m.email}`}
                          value={m.role}
                          disabled={changeRole.isPending}
                          onChange={(e) => changeRole.mutate({ workspaceId: workspace.id, userId: m.userId, role: e.target.value as Role })}
                        >
                          {ROLES.filter((r) => r !== "owner" || workspace.role === "owner").map((r) => (
                            <option key={r} value={r}>
                              {ROLE_LABELS[r]}
                            </option>
                          ))}
                        </Select>
                      ) : (
                        <Badge tone={m.role === "owner" ? "serving" : "neutral"}>{ROLE_LABELS[m.role]}</Badge>
                      )}
                    </td>
                    <td className="px-5 py-2.5 text-muted">{m.lastSignInAt ? <TimeAgo date={m.lastSignInAt} /> : "never"}</td>
                    {canManage && (
                      <td className="px-5 py-2.5 text-right">
                        {editable && (
                          <ConfirmButton
                            ariaLabel={`Remove ${m.name}`}
                            title={`Remove ${m.name} from ${workspace.name}?`}
                            description={m.email}
                            consequence={`${m.name} loses access at once: the workspace disappears from their list, and API tokens they created stop working. Their comments, signatures and audit events stay.`}
                            confirm="Remove member"
                            danger
                            onConfirm={() => remove.mutateAsync({ workspaceId: workspace.id, userId: m.userId })}
                          >
                            Remove
                          </ConfirmButton>
                        )}
                      </td>
                    )}
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
        <LoadMore query={members} shown={rows.length} noun="members" />
      </Card>
      {canManage && (
        <Card>
          <CardHeader title="Open invitations" description="Links not used yet. Revoke one to make its link stop working." />
          <PendingInvitations />
        </Card>
      )}
    </div>
  );
}

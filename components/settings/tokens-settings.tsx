"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Copy, KeyRound } from "lucide-react";
import { useState } from "react";
import { toast } from "sonner";
import { useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, fieldErrors, useTRPC } from "~/components/trpc/client";
import { Badge } from "~/components/ui/badge";
import { Button } from "~/components/ui/button";
import { Card, CardHeader } from "~/components/ui/card";
import { Field, Input, Select } from "~/components/ui/field";
import { EmptyState } from "~/components/ui/states";
import { QueryWait, ready } from "~/components/ui/query-state";
import { TimeAgo } from "~/components/ui/time";
import { can, ROLE_LABELS, ROLE_PERMISSIONS, ROLES, type Role } from "~/server/shared/permissions";
import { ConfirmButton } from "~/components/ui/confirm-dialog";

const within = (role: Role, limit: Role) => ROLE_PERMISSIONS[role].every((p) => can(limit, p));

export function TokensSettings() {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const qc = useQueryClient();
  const roles = ROLES.filter((r) => within(r, workspace.role));
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>(roles.includes("ml_engineer") ? "ml_engineer" : "viewer");
  const [days, setDays] = useState("90");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [created, setCreated] = useState<string | null>(null);
  const list = useQuery(trpc.tokens.list.queryOptions({ workspaceId: workspace.id }));
  const invalidate = () => void qc.invalidateQueries({ queryKey: trpc.tokens.pathKey() });
  const create = useMutation(
    trpc.tokens.create.mutationOptions({
      onSuccess: (t) => {
        setCreated(t.token);
        setName("");
        invalidate();
      },
      onError: (err) => {
        const f = fieldErrors(err);
        setErrors(Object.keys(f).length ? f : { form: errorMessage(err) });
      },
    }),
  );
  const revoke = useMutation(
    trpc.tokens.revoke.mutationOptions({ onSuccess: () => (toast.success("Token revoked."), invalidate()), onError: (e) => toast.error(errorMessage(e)) }),
  );
  return (
    <div className="space-y-6">
      <Card>
        <CardHeader
          title="Create an API token"
          description="For CI jobs and the steward CLI. It acts as you, in this workspace only, with the role you choose (never more than yours)."
        />
        <form
          className="grid gap-4 p-5 md:grid-cols-[2fr_1fr_1fr_auto] md:items-start"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            setErrors({});
            setCreated(null);
            create.mutate({ workspaceId: workspace.id, name, role, expiresInDays: days ? Number(days) : undefined });
          }}
        >
          <Field label="Name" htmlFor="tok-name" error={errors.name} hint="What uses it, e.g. GitHub Actions">
            <Input id="tok-name" value={name} onChange={(e) => setName(e.target.value)} invalid={!!errors.name} />
          </Field>
          <Field label="Role" htmlFor="tok-role" error={errors.role}>
            <Select id="tok-role" className="w-full" value={role} onChange={(e) => setRole(e.target.value as Role)}>
              {roles.map((r) => (
                <option key={r} value={r}>
                  {ROLE_LABELS[r]}
                </option>
              ))}
            </Select>
          </Field>
          <Field label="Expires" htmlFor="tok-exp">
            <Select id="tok-exp" className="w-full" value={days} onChange={(e) => setDays(e.target.value)}>
              <option value="30">in 30 days</option>
              <option value="90">in 90 days</option>
              <option value="365">in a year</option>
              <option value="">never</option>
            </Select>
          </Field>
          <Button type="submit" className="md:mt-6" loading={create.isPending}>
            <KeyRound className="size-4" aria-hidden /> Create token
          </Button>
          {errors.form && (
            <p role="alert" className="text-sm text-danger md:col-span-4">
              {errors.form}
            </p>
          )}
        </form>
        {created && (
          <div className="mx-5 mb-5 space-y-2 rounded-md border border-emerald-500/30 bg-emerald-500/10 p-4 text-sm" role="status">
            <p className="font-medium">Copy the token now: it is shown only once.</p>
            <div className="flex gap-2">
              <Input readOnly value={created} data-testid="new-token" className="font-mono" onFocus={(e) => e.currentTarget.select()} />
              <Button
                variant="secondary"
                aria-label="Copy token"
                onClick={() => void navigator.clipboard?.writeText(created).then(() => toast.success("Token copied."))}
              >
                <Copy className="size-4" />
              </Button>
            </div>
            <p className="text-muted">
              Use it with <code>steward login --url {typeof window === "undefined" ? "" : window.location.origin} --token …</code> or as{" "}
              <code>Authorization: Bearer …</code>.
            </p>
          </div>
        )}
      </Card>
      <Card>
        <CardHeader title="Tokens" />
        {!ready(list) ? (
          <QueryWait query={list} rows={3} />
        ) : list.data.length === 0 ? (
          <EmptyState title="No API tokens yet" />
        ) : (
          <table className="w-full text-sm" data-testid="tokens-table">
            <thead className="bg-subtle text-left text-xs text-muted">
              <tr>
                <th className="px-5 py-2 font-medium">Name</th>
                <th className="px-5 py-2 font-medium">Token</th>
                <th className="px-5 py-2 font-medium">Role</th>
                <th className="px-5 py-2 font-medium">Created by</th>
                <th className="px-5 py-2 font-medium">Last used</th>
                <th className="px-5 py-2 font-medium">Expires</th>
                <th className="px-5 py-2" />
              </tr>
            </thead>
            <tbody className="divide-y divide-border">
              {list.data.map((t) => (
                <tr key={t.id} className={t.revokedAt ? "opacity-60" : undefined}>
                  <td className="px-5 py-2.5 font-medium">{t.name}</td>
                  <td className="px-5 py-2.5 font-mono text-xs">{t.prefix}…</td>
                  <td className="px-5 py-2.5">{ROLE_LABELS[t.role]}</td>
                  <td className="px-5 py-2.5 text-muted">{t.createdBy}</td>
                  <td className="px-5 py-2.5 text-muted">{t.lastUsedAt ? <TimeAgo date={t.lastUsedAt} /> : "never"}</td>
                  <td className="px-5 py-2.5 text-muted">{t.expiresAt ? <TimeAgo date={t.expiresAt} /> : "never"}</td>
                  <td className="px-5 py-2.5 text-right">
                    {t.revokedAt ? (
                      <Badge tone="stale">revoked</Badge>
                    ) : (
                      <ConfirmButton
                        ariaLabel={`Revoke ${t.name}`}
                        title={`Revoke the token "${t.name}"?`}
                        description={`${t.prefix}… · ${ROLE_LABELS[t.role]}`}
                        consequence={`Every script, CI job or CLI using ${t.prefix}… is refused from now on (401). A revoked token cannot be restored: create a new one.`}
                        confirm="Revoke token"
                        danger
                        onConfirm={() => revoke.mutateAsync({ workspaceId: workspace.id, tokenId: t.id })}
                      >
                        Revoke
                      </ConfirmButton>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
    </div>
  );
}

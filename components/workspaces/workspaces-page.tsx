"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ArrowRight, LogOut } from "lucide-react";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { signOut } from "next-auth/react";
import { useState } from "react";
import { errorMessage, fieldErrors, useTRPC } from "~/components/trpc/client";
import { Badge } from "~/components/ui/badge";
import { Button } from "~/components/ui/button";
import { Card, CardHeader } from "~/components/ui/card";
import { Field, Input } from "~/components/ui/field";
import { EmptyState } from "~/components/ui/states";
import { QueryWait, ready } from "~/components/ui/query-state";
import { ROLE_LABELS } from "~/server/shared/permissions";
import { CreateWorkspaceInput, slugify } from "~/server/shared/identity.schema";

export function WorkspacesPage({ email }: { email: string }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const router = useRouter();
  const list = useQuery(trpc.workspaces.list.queryOptions());
  const create = useMutation(trpc.workspaces.create.mutationOptions());
  const [name, setName] = useState("");
  const [slug, setSlug] = useState("");
  const [errors, setErrors] = useState<Record<string, string>>({});

  async function onCreate(e: React.FormEvent) {
    e.preventDefault();
    const parsed = CreateWorkspaceInput.safeParse({ name, slug: slug || undefined });
    if (!parsed.success) {
      const f: Record<string, string> = {};
      for (const i of parsed.error.issues) f[String(i.path[0])] ??= i.message;
      setErrors(f);
      return;
    }
    setErrors({});
    try {
      const ws = await create.mutateAsync(parsed.data);
      await qc.invalidateQueries({ queryKey: trpc.workspaces.pathKey() });
      router.push(`/w/${ws.slug}`);
    } catch (err) {
      const f = fieldErrors(err);
      setErrors(Object.keys(f).length ? f : { form: errorMessage(err) });
    }
  }

  return (
    <main className="mx-auto max-w-3xl px-6 py-12">
      <div className="mb-8 flex items-center justify-between">
        <div className="flex items-center gap-2 text-lg font-semibold tracking-tight">
          <span className="grid size-8 place-items-center rounded-md bg-accent text-accent-fg">S</span>
          Steward
        </div>
        <div className="flex items-center gap-3 text-sm text-muted">
          {email}
          <Button variant="ghost" size="sm" onClick={() => void signOut({ callbackUrl: "/signin" })}>
            <LogOut className="size-4" aria-hidden /> Sign out
          </Button>
        </div>
      </div>
      <h1 className="mb-6 text-xl font-semibold">Your workspaces</h1>
      <Card className="mb-8">
        {!ready(list) ? (
          <QueryWait query={list} rows={3} />
        ) : list.data.length === 0 ? (
          <EmptyState title="You are not in any workspace yet">Create one below, or open the invitation link a colleague sent you.</EmptyState>
        ) : (
          <ul className="divide-y divide-border">
            {list.data.map((w) => (
              <li key={w.id}>
                <Link href={`/w/${w.slug}`} className="flex items-center justify-between px-5 py-4 hover:bg-subtle">
                  <div>
                    <div className="font-medium">{w.name}</div>
                    <div className="text-sm text-muted">/w/{w.slug}</div>
                  </div>
                  <div className="flex items-center gap-3">
                    <Badge>{ROLE_LABELS[w.role]}</Badge>
                    <ArrowRight className="size-4 text-muted" aria-hidden />
                  </div>
                </Link>
              </li>
            ))}
          </ul>
        )}
      </Card>
      <Card>
        <CardHeader title="Create a workspace" description="A workspace holds a team's models, reviews, deployments and audit trail. You will be its owner." />
        <form onSubmit={onCreate} noValidate className="grid gap-4 p-5 sm:grid-cols-[1fr_1fr_auto] sm:items-start">
          <Field label="Name" htmlFor="ws-name" error={errors.name}>
            <Input id="ws-name" value={name} onChange={(e) => setName(e.target.value)} placeholder="Credit Risk" invalid={!!errors.name} />
          </Field>
          <Field label="URL name" htmlFor="ws-slug" error={errors.slug} hint={`/w/${slug || (name ? slugify(name) : "credit-risk")}`}>
            <Input id="ws-slug" value={slug} onChange={(e) => setSlug(e.target.value)} placeholder="optional" invalid={!!errors.slug} />
          </Field>
          <Button type="submit" className="sm:mt-6" loading={create.isPending}>
            Create workspace
          </Button>
          {errors.form && (
            <p role="alert" className="text-sm text-danger sm:col-span-3">
              {errors.form}
            </p>
          )}
        </form>
      </Card>
    </main>
  );
}

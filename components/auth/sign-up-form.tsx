"use client";

import { useMutation } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { signIn } from "next-auth/react";
import { useState } from "react";
import { errorMessage, fieldErrors, useTRPC } from "~/components/trpc/client";
import { Button } from "~/components/ui/button";
import { Field, Input } from "~/components/ui/field";
import { SignUpInput } from "~/server/shared/identity.schema";

export function SignUpForm({ callbackUrl }: { callbackUrl: string }) {
  const trpc = useTRPC();
  const router = useRouter();
  const [fields, setFields] = useState<Record<string, string>>({});
  const [error, setError] = useState<string>();
  const signUp = useMutation(trpc.auth.signUp.mutationOptions());

  async function onSubmit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const values = { name: form.get("name"), email: form.get("email"), password: form.get("password") };
    const parsed = SignUpInput.safeParse(values);
    if (!parsed.success) {
      const f: Record<string, string> = {};
      for (const i of parsed.error.issues) f[String(i.path[0])] ??= i.message;
      setFields(f);
      return;
    }
    setFields({});
    setError(undefined);
    try {
      await signUp.mutateAsync(parsed.data);
    } catch (err) {
      const f = fieldErrors(err);
      if (Object.keys(f).length) setFields(f);
      else setError(errorMessage(err));
      return;
    }
    const res = await signIn("credentials", { email: parsed.data.email, password: parsed.data.password, redirect: false });
    if (res?.error) {
      setError(res.error);
      return;
    }
    router.replace(callbackUrl);
    router.refresh();
  }

  return (
    <form onSubmit={onSubmit} noValidate className="space-y-4">
      {error && (
        <p role="alert" className="rounded-md border border-danger/30 bg-danger/10 px-3 py-2 text-sm text-danger">
          {error}
        </p>
      )}
      <Field label="Name" htmlFor="name" error={fields.name}>
        <Input id="name" name="name" autoComplete="name" autoFocus invalid={!!fields.name} />
      </Field>
      <Field label="E-mail" htmlFor="email" error={fields.email}>
        <Input id="email" name="email" type="email" autoComplete="email" invalid={!!fields.email} />
      </Field>
      <Field label="Password" htmlFor="password" error={fields.password} hint="At least 12 characters.">
        <Input id="password" name="password" type="password" autoComplete="new-password" invalid={!!fields.password} />
      </Field>
      <Button type="submit" className="w-full" loading={signUp.isPending}>
        Create account
      </Button>
      <p className="text-center text-sm text-muted">
        Already have an account?{" "}
        <Link className="font-medium text-accent hover:underline" href={`/signin?callbackUrl=${encodeURIComponent(callbackUrl)}`}>
          Sign in
        </Link>
      </p>
    </form>
  );
}

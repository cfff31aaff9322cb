"use client";

import Link from "next/link";
import { useRouter } from "next/navigation";
import { signIn } from "next-auth/react";
import { useState } from "react";
import { Button } from "~/components/ui/button";
import { Field, Input } from "~/components/ui/field";
import { SignInInput } from "~/server/shared/identity.schema";

export function SignInForm({ callbackUrl, initialError, oidc }: { callbackUrl: string; initialError?: string; oidc?: { name: string } }) {
  const router = useRouter();
  const [error, setError] = useState(initialError);
  const [fields, setFields] = useState<Record<string, string>>({});
  const [pending, setPending] = useState(false);

  async function onSubmit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const parsed = SignInInput.safeParse({ email: form.get("email"), password: form.get("password") });
    if (!parsed.success) {
      setFields(Object.fromEntries(parsed.error.issues.map((i) => [String(i.path[0]), i.message])));
      return;
    }
    setFields({});
    setError(undefined);
    setPending(true);
    const res = await signIn("credentials", { ...parsed.data, redirect: false });
    setPending(false);
    if (!res || res.error) {
      setError(res?.error && res.error !== "CredentialsSignin" ? res.error : "E-mail or password is incorrect.");
      return;
    }
    router.replace(callbackUrl);
    router.refresh();
  }

  return (
    <div className="space-y-4">
      <form onSubmit={onSubmit} noValidate className="space-y-4">
        {error && (
          <p role="alert" className="rounded-md border border-danger/30 bg-danger/10 px-3 py-2 text-sm text-danger">
            {error}
          </p>
        )}
        <Field label="E-mail" htmlFor="email" error={fields.email}>
          <Input id="email" name="email" type="email" autoComplete="email" autoFocus invalid={!!fields.email} />
        </Field>
        <Field label="Password" htmlFor="password" error={fields.password}>
          <Input id="password" name="password" type="password" autoComplete="current-password" invalid={!!fields.password} />
        </Field>
        <Button type="submit" className="w-full" loading={pending}>
          Sign in
        </Button>
      </form>
      {oidc && (
        <Button variant="secondary" className="w-full" onClick={() => void signIn("oidc", { callbackUrl })}>
          Continue with {oidc.name}
        </Button>
      )}
      <p className="text-center text-sm text-muted">
        New to Steward?{" "}
        <Link className="font-medium text-accent hover:underline" href={`/signup?callbackUrl=${encodeURIComponent(callbackUrl)}`}>
          Create an account
        </Link>
      </p>
    </div>
  );
}

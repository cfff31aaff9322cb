import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { AuthCard } from "~/components/auth/auth-card";
import { safeCallback } from "~/components/auth/safe-callback";
import { SignUpForm } from "~/components/auth/sign-up-form";
import { getSessionUser } from "~/server/auth/session";

export const metadata: Metadata = { title: "Create an account" };

export default async function SignUpPage({ searchParams }: { searchParams: Promise<Record<string, string | undefined>> }) {
  const callbackUrl = safeCallback((await searchParams).callbackUrl);
  if (await getSessionUser()) redirect(callbackUrl);
  return (
    <AuthCard title="Create your account" subtitle="Then create a workspace or accept an invitation.">
      <SignUpForm callbackUrl={callbackUrl} />
    </AuthCard>
  );
}

import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { AuthCard } from "~/components/auth/auth-card";
import { safeRedirectPath } from "~/server/web/auth/safe-redirect";
import { SignUpForm } from "~/components/auth/sign-up-form";
import { env } from "~/env";
import { getSessionUser } from "~/server/web/auth/session";

export const metadata: Metadata = { title: "Create an account" };

export default async function SignUpPage({ searchParams }: { searchParams: Promise<Record<string, string | undefined>> }) {
  const callbackUrl = safeRedirectPath((await searchParams).callbackUrl, env.NEXTAUTH_URL);
  if (await getSessionUser()) redirect(callbackUrl);
  return (
    <AuthCard title="Create your account" subtitle="Then create a workspace or accept an invitation.">
      <SignUpForm callbackUrl={callbackUrl} />
    </AuthCard>
  );
}

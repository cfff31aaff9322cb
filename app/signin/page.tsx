import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { AuthCard } from "~/components/auth/auth-card";
import { SignInForm } from "~/components/auth/sign-in-form";
import { env, oidcEnabled } from "~/env";
import { getSessionUser } from "~/server/web/auth/session";
import { safeRedirectPath } from "~/server/web/auth/safe-redirect";

export const metadata: Metadata = { title: "Sign in" };

const ERRORS: Record<string, string> = {
  OAuthSignin: "Single sign-on could not start. Try again or use your password.",
  OAuthCallback: "Single sign-on did not complete. Try again.",
  AccessDenied: "Your identity provider did not share a verified e-mail address.",
  SessionRequired: "Sign in to continue.",
};

export default async function SignInPage({ searchParams }: { searchParams: Promise<Record<string, string | undefined>> }) {
  const sp = await searchParams;
  const callbackUrl = safeRedirectPath(sp.callbackUrl, env.NEXTAUTH_URL);
  if (await getSessionUser()) redirect(callbackUrl);
  const error = typeof sp.error === "string" && sp.error ? (ERRORS[sp.error] ?? (sp.error.length < 200 ? sp.error : undefined)) : undefined;
  return (
    <AuthCard title="Sign in" subtitle="Welcome back to the control room.">
      <SignInForm callbackUrl={callbackUrl} initialError={error} oidc={oidcEnabled ? { name: env.OIDC_NAME } : undefined} />
    </AuthCard>
  );
}

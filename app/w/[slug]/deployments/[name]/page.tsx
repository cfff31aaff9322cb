import type { Metadata } from "next";
import { DeploymentPage } from "~/components/deployments/deployment-page";
import { ensurePageSubject } from "~/server/web/page-guards";

export async function generateMetadata({ params }: { params: Promise<{ name: string }> }): Promise<Metadata> {
  return { title: `${decodeURIComponent((await params).name)} · Deployments` };
}

export default async function Page({ params }: { params: Promise<{ slug: string; name: string }> }) {
  const { slug, name } = await params;
  await ensurePageSubject(slug, { deployment: decodeURIComponent(name) });
  return <DeploymentPage name={decodeURIComponent(name)} />;
}

import type { Metadata } from "next";
import { DeploymentMonitoring } from "~/components/monitoring/deployment-monitoring-page";
import { ensurePageSubject } from "~/server/web/page-guards";

export async function generateMetadata({ params }: { params: Promise<{ name: string }> }): Promise<Metadata> {
  return { title: `${decodeURIComponent((await params).name)} · Monitoring` };
}

export default async function Page({ params }: { params: Promise<{ slug: string; name: string }> }) {
  const { slug, name } = await params;
  await ensurePageSubject(slug, { deployment: decodeURIComponent(name) });
  return <DeploymentMonitoring name={decodeURIComponent(name)} />;
}

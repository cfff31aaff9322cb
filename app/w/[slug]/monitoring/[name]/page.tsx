import type { Metadata } from "next";
import { DeploymentMonitoring } from "~/components/monitoring/deployment-monitoring-page";

export async function generateMetadata({ params }: { params: Promise<{ name: string }> }): Promise<Metadata> {
  return { title: `${decodeURIComponent((await params).name)} · Monitoring` };
}

export default async function Page({ params }: { params: Promise<{ name: string }> }) {
  return <DeploymentMonitoring name={decodeURIComponent((await params).name)} />;
}

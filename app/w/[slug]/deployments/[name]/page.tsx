import type { Metadata } from "next";
import { DeploymentPage } from "~/components/deployments/deployment-page";

export async function generateMetadata({ params }: { params: Promise<{ name: string }> }): Promise<Metadata> {
  return { title: `${decodeURIComponent((await params).name)} · Deployments` };
}

export default async function Page({ params }: { params: Promise<{ name: string }> }) {
  return <DeploymentPage name={decodeURIComponent((await params).name)} />;
}

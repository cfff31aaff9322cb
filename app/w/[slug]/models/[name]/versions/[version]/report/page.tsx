import type { Metadata } from "next";
import { ReportPage } from "~/components/registry/report-page";

export const metadata: Metadata = { title: "Model report" };

export default async function Page({ params }: { params: Promise<{ name: string; version: string }> }) {
  const { name, version } = await params;
  return <ReportPage name={decodeURIComponent(name)} version={Number(version)} />;
}

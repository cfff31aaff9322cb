import type { Metadata } from "next";
import { ReportPage } from "~/components/registry/report-page";
import { ensurePageSubject } from "~/server/web/page-guards";

export const metadata: Metadata = { title: "Model report" };

export default async function Page({ params }: { params: Promise<{ slug: string; name: string; version: string }> }) {
  const { slug, name, version } = await params;
  await ensurePageSubject(slug, { model: decodeURIComponent(name), version: Number(version) });
  return <ReportPage name={decodeURIComponent(name)} version={Number(version)} />;
}

import type { Metadata } from "next";
import { VersionValidationPage } from "~/components/pipelines/version-validation";
import { ensurePageSubject } from "~/server/web/page-guards";

export async function generateMetadata({ params }: { params: Promise<{ name: string; version: string }> }): Promise<Metadata> {
  const p = await params;
  return { title: `Validation of ${decodeURIComponent(p.name)} v${p.version}` };
}

export default async function Page({ params }: { params: Promise<{ slug: string; name: string; version: string }> }) {
  const p = await params;
  await ensurePageSubject(p.slug, { model: decodeURIComponent(p.name), version: Number(p.version) });
  return <VersionValidationPage name={decodeURIComponent(p.name)} version={Number(p.version)} />;
}

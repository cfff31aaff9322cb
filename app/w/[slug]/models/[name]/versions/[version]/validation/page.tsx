import type { Metadata } from "next";
import { VersionValidationPage } from "~/components/pipelines/version-validation";

export async function generateMetadata({ params }: { params: Promise<{ name: string; version: string }> }): Promise<Metadata> {
  const p = await params;
  return { title: `Validation of ${decodeURIComponent(p.name)} v${p.version}` };
}

export default async function Page({ params }: { params: Promise<{ name: string; version: string }> }) {
  const p = await params;
  return <VersionValidationPage name={decodeURIComponent(p.name)} version={Number(p.version)} />;
}

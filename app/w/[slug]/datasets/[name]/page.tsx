import type { Metadata } from "next";
import { DatasetPage } from "~/components/registry/dataset-page";
import { ensurePageSubject } from "~/server/web/page-guards";

export async function generateMetadata({ params }: { params: Promise<{ name: string }> }): Promise<Metadata> {
  return { title: decodeURIComponent((await params).name) };
}

export default async function Page({ params }: { params: Promise<{ slug: string; name: string }> }) {
  const { slug, name } = await params;
  await ensurePageSubject(slug, { dataset: decodeURIComponent(name) });
  return <DatasetPage name={decodeURIComponent(name)} />;
}

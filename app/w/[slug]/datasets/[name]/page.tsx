import type { Metadata } from "next";
import { DatasetPage } from "~/components/registry/dataset-page";

export async function generateMetadata({ params }: { params: Promise<{ name: string }> }): Promise<Metadata> {
  return { title: decodeURIComponent((await params).name) };
}

export default async function Page({ params }: { params: Promise<{ name: string }> }) {
  return <DatasetPage name={decodeURIComponent((await params).name)} />;
}

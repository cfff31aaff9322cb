import type { Metadata } from "next";
import { ModelPage } from "~/components/registry/model-page";

export async function generateMetadata({ params }: { params: Promise<{ name: string }> }): Promise<Metadata> {
  return { title: decodeURIComponent((await params).name) };
}

export default async function Page({ params }: { params: Promise<{ name: string }> }) {
  return <ModelPage name={decodeURIComponent((await params).name)} />;
}

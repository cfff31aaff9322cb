import type { Metadata } from "next";
import { ComparePage } from "~/components/registry/compare-page";

export const metadata: Metadata = { title: "Compare versions" };

export default async function Page({ params, searchParams }: { params: Promise<{ name: string }>; searchParams: Promise<{ a?: string; b?: string }> }) {
  const [{ name }, sp] = await Promise.all([params, searchParams]);
  return <ComparePage name={decodeURIComponent(name)} a={Number(sp.a ?? 1)} b={Number(sp.b ?? 2)} />;
}

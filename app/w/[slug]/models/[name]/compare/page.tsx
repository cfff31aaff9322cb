import type { Metadata } from "next";
import { ComparePage } from "~/components/registry/compare-page";
import { ensurePageSubject } from "~/server/web/page-guards";

export const metadata: Metadata = { title: "Compare versions" };

export default async function Page({
  params,
  searchParams,
}: {
  params: Promise<{ slug: string; name: string }>;
  searchParams: Promise<{ a?: string; b?: string }>;
}) {
  const [{ slug, name }, sp] = await Promise.all([params, searchParams]);
  await ensurePageSubject(slug, { model: decodeURIComponent(name) });
  return <ComparePage name={decodeURIComponent(name)} a={Number(sp.a ?? 1)} b={Number(sp.b ?? 2)} />;
}

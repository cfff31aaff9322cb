import type { Metadata } from "next";
import { RunPage } from "~/components/pipelines/run-page";
import { ensurePageSubject } from "~/server/web/page-guards";

export const metadata: Metadata = { title: "Run" };

export default async function Page({ params }: { params: Promise<{ slug: string; runId: string }> }) {
  const { slug, runId } = await params;
  await ensurePageSubject(slug, { run: runId });
  return <RunPage runId={runId} />;
}

import type { Metadata } from "next";
import { RunPage } from "~/components/pipelines/run-page";

export const metadata: Metadata = { title: "Run" };

export default async function Page({ params }: { params: Promise<{ runId: string }> }) {
  return <RunPage runId={(await params).runId} />;
}

import type { Metadata } from "next";
import { PipelineEditor } from "~/components/pipelines/pipeline-editor";

export async function generateMetadata({ params }: { params: Promise<{ name: string }> }): Promise<Metadata> {
  const name = decodeURIComponent((await params).name);
  return { title: name === "new" ? "New pipeline" : `${name} · Pipelines` };
}

export default async function Page({ params }: { params: Promise<{ name: string }> }) {
  const name = decodeURIComponent((await params).name);
  return <PipelineEditor name={name === "new" ? null : name} />;
}
